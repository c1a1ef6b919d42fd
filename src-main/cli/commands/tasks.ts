import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { TaskState, TaskView } from '../../../contracts/task.js';
import { TASK_STATES, TERMINAL_STATES } from '../../../contracts/values.js';
import { durationArg, intArg, taskIds } from '../args.js';
import { CliError, type ApiClient } from '../client.js';
import { out, print, printJson, tty, type Command } from '../command.js';
import { columnsArg, LIST_HEAD, listRow, showTask, table } from '../format.js';
import { readBatch, RUN_OPTIONS, shellLine, SUBMIT_OPTIONS, submissionsFromBatch, submissionsFromFlags, runEnvironment } from '../submit.js';
import { waitFor } from '../wait.js';

type Verb = 'cancel' | 'hold' | 'release' | 'retry';

/** Which tasks a verb given a filter but no --state acts on: those it can act on. */
const FILTER_DEFAULT_STATES: Record<Verb | 'priority', readonly TaskState[]> = {
  cancel: ['queued', 'starting', 'running'],
  hold: ['queued'],
  release: ['queued'],
  retry: ['failed', 'cancelled', 'timed_out', 'interrupted'],
  priority: ['queued'],
};

const FILTER_OPTIONS = { state: { type: 'string' }, agent: { type: 'string' }, name: { type: 'string' }, all: { type: 'boolean' } } as const;

function parseStates(raw: unknown): TaskState[] | undefined {
  if (typeof raw !== 'string') return undefined;
  return raw.split(',').map((s) => {
    const st = s.trim() as TaskState;
    if (!TASK_STATES.includes(st)) throw new CliError(`unknown state "${s}"; states are: ${TASK_STATES.join(', ')}`, 2);
    return st;
  });
}

const hasFilter = (v: Record<string, unknown>): boolean => v.all === true || v.state !== undefined || v.agent !== undefined || v.name !== undefined;

/** Every task the filter flags pick (`--state`, `--agent`, `--name`, `--all`), newest first. */
async function filtered(api: ApiClient, verb: Verb | 'priority', v: Record<string, unknown>): Promise<number[]> {
  const states = parseStates(v.state) ?? FILTER_DEFAULT_STATES[verb];
  const ids: number[] = [];
  let cursor: number | undefined;
  do {
    const page = await api.tasks.list.query({
      state: [...states],
      agent: v.agent as string | undefined,
      name: v.name as string | undefined,
      cursor,
      limit: 1000,
    });
    ids.push(...page.items.map((t) => t.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return ids;
}

/** What a verb did over a filter: the ids it handled, and each it could not with why. */
function reportMany(verb: string, r: { done: number[]; failed: { id: number; message: string }[] }, v: Record<string, unknown>): number {
  if (v.json) return (printJson(r), r.failed.length > 0 ? 1 : 0);
  if (r.done.length === 0 && r.failed.length === 0) print(`no task matches: nothing ${verb}`);
  else print(`${verb} ${r.done.length} task(s)${r.done.length ? `: ${idList(r.done)}` : ''}`);
  for (const f of r.failed) print(`  task ${f.id}: ${f.message}`);
  return r.failed.length > 0 ? 1 : 0;
}

const idList = (ids: readonly number[]): string => (ids.length <= 30 ? ids.join(', ') : `${ids.slice(0, 30).join(', ')} and ${ids.length - 30} more`);

/** Ids a page at a time into a *Many mutation (its limit is 10,000), the results joined. */
async function inChunks(
  ids: readonly number[],
  act: (ids: number[]) => Promise<{ done: number[]; failed: { id: number; message: string }[] }>,
): Promise<{ done: number[]; failed: { id: number; message: string }[] }> {
  const all = { done: [] as number[], failed: [] as { id: number; message: string }[] };
  for (let i = 0; i < ids.length; i += 5000) {
    const r = await act(ids.slice(i, i + 5000));
    all.done.push(...r.done);
    all.failed.push(...r.failed);
  }
  return all;
}

/** Each id in turn; a failure is reported and the rest still handled. */
async function eachId(
  ids: readonly number[],
  act: (id: number) => Promise<TaskView>,
  said: (t: TaskView) => string,
  v: Record<string, unknown>,
): Promise<number> {
  const done: TaskView[] = [];
  const failed: string[] = [];
  for (const id of ids) {
    try {
      done.push(await act(id));
    } catch (e) {
      if (e instanceof CliError) throw e;
      failed.push(`task ${id}: ${(e as Error).message}`);
      if ((e as { status?: number }).status === 401 || (e as { cause?: { code?: string } }).cause?.code) throw e;
    }
  }
  if (v.json) printJson(done);
  else for (const t of done) print(said(t));
  if (failed.length > 0) throw new CliError(failed.length === 1 ? failed[0]! : `${failed.length} of ${ids.length} not done:\n  ${failed.join('\n  ')}`, 1);
  return 0;
}

const MANY = { cancel: 'cancelMany', hold: 'holdMany', release: 'releaseMany', retry: 'retryMany' } as const;
const DONE_WORD: Record<Verb, string> = { cancel: 'cancelled', hold: 'held', release: 'released', retry: 'queued again' };

/** `agentmgr <verb> <id>...`, or the same verb on every task a filter picks. */
function perTask(verb: Verb, said: (t: TaskView) => string, extra: Command['options'] = {}): Command {
  return {
    options: { ...FILTER_OPTIONS, ...extra },
    async run(api, pos, v) {
      if (pos.length === 0 && hasFilter(v))
        return reportMany(DONE_WORD[verb], await inChunks(await filtered(api, verb, v), (ids) => api.tasks[MANY[verb]].mutate({ ids })), v);
      if (hasFilter(v)) throw new CliError(`give either task ids or a filter (--state, --agent, --name, --all), not both`, 2);
      return eachId(taskIds(pos, verb), (id) => api.tasks[verb].mutate({ id }), said, v);
    },
  };
}

/** The command, or with --array ID the same verb on every task of that array. */
function withArray(single: Command, onArray: (api: ApiClient, arrayId: number, v: Record<string, unknown>) => Promise<number>): Command {
  return {
    options: { ...single.options, array: { type: 'string' } },
    async run(api, pos, v) {
      const arrayId = arrayArg(v.array);
      if (arrayId === undefined) return single.run(api, pos, v);
      if (pos.length > 0) throw new CliError('give either task ids or --array ID, not both', 2);
      return onArray(api, arrayId, v);
    },
  };
}

/** `agentmgr top|bottom <id>...`: to the front or back of its priority, each in turn. */
function moveCommand(to: 'top' | 'bottom'): Command {
  return {
    options: {},
    run: (api, pos, v) =>
      eachId(
        taskIds(pos, to),
        (id) => api.tasks.move.mutate({ id, to }),
        (t) => `task ${t.id}: moved to the ${to} of priority ${t.priority}`,
        v,
      ),
  };
}

async function waitAndReport(api: ApiClient, ids: number[], values: Record<string, unknown>, timeoutSec?: number): Promise<number> {
  const r = await waitFor(api, ids, { timeoutSec, tty: tty && !values.json, quiet: Boolean(values.json), out });
  if (values.json) printJson(r.tasks);
  if (r.timedOut) {
    const left = r.tasks.filter((t) => !TERMINAL_STATES.includes(t.state)).map((t) => t.id);
    process.stderr.write(`timed out after ${timeoutSec} s; still not ended: ${left.join(', ')}\n`);
    return 124;
  }
  const bad = r.tasks.filter((t) => t.state !== 'succeeded');
  if (bad.length && !values.json) process.stderr.write(`${bad.length} of ${ids.length} did not succeed: ${bad.map((t) => `${t.id} ${t.state}`).join(', ')}\n`);
  return bad.length ? 1 : 0;
}

/** Ids per getMany: a query's input rides in its URL, which the client keeps under 4000 bytes. */
const VIEW_PAGE = 300;

/** The views of many tasks, in order, a page of ids at a time (four pages in flight). */
async function views(api: ApiClient, ids: readonly number[]): Promise<TaskView[]> {
  const pages: number[][] = [];
  for (let i = 0; i < ids.length; i += VIEW_PAGE) pages.push(ids.slice(i, i + VIEW_PAGE));
  const out: TaskView[][] = new Array(pages.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let p = next++; p < pages.length; p = next++) out[p] = await api.tasks.getMany.query({ ids: pages[p]! });
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return out.flat();
}

/** What a submit made, in words: each task on a line, each array as one line. */
function describeCreated(created: readonly TaskView[]): string[] {
  const lines: string[] = [];
  const arrays = new Map<number, TaskView[]>();
  for (const t of created) {
    if (t.arrayId === null) {
      lines.push(`submitted task ${t.id} (${t.agent}${t.name ? `: ${t.name}` : ''})${t.blocked && t.waitingReason ? `; it ${t.waitingReason}` : ''}`);
      continue;
    }
    const members = arrays.get(t.arrayId);
    if (members) members.push(t);
    else arrays.set(t.arrayId, [t]);
  }
  for (const [id, members] of arrays) {
    const first = members[0]!;
    lines.push(
      `submitted array ${id} (${first.agent}): ${members.length} task(s), ${first.id}…${members[members.length - 1]!.id}; \`agentmgr list --array ${id}\` shows them`,
    );
  }
  return lines;
}

/** Array ids given with --array (a positive whole number). */
function arrayArg(raw: unknown): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(String(raw).replace(/^#/, ''));
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`--array needs an array id (the id of its first task), got "${String(raw)}"`, 2);
  return n;
}

/** Every task of an array, first to last. */
async function arrayMembers(api: ApiClient, arrayId: number): Promise<TaskView[]> {
  const items: TaskView[] = [];
  let cursor: number | undefined;
  do {
    const page = await api.tasks.list.query({ arrayId, cursor, limit: 1000 });
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  if (items.length === 0) throw new CliError(`no array with id ${arrayId}; an array's id is the id of its first task`, 1);
  return items.reverse();
}

function printArrayResult(
  verb: string,
  arrayId: number,
  r: { done: number[]; skipped: { id: number; message: string }[] },
  v: Record<string, unknown>,
): number {
  if (v.json) return (printJson(r), 0);
  print(`array ${arrayId}: ${verb} ${r.done.length} task(s)${r.done.length > 0 && r.done.length <= 20 ? ` (${r.done.join(', ')})` : ''}`);
  for (const s of r.skipped) print(`  task ${s.id}: ${s.message}`);
  return r.skipped.length > 0 ? 1 : 0;
}

/** Submits what was built, names a failing batch line, and prints or waits as the flags say. */
async function submitAndReport(
  api: ApiClient,
  subs: Parameters<ApiClient['tasks']['submitBatch']['mutate']>[0],
  lines: number[] | null,
  v: Record<string, unknown>,
): Promise<number> {
  let ids: number[];
  // One plain task: one round trip, the answer is its view.
  let one: TaskView | null = null;
  try {
    if (subs.length === 1 && !subs[0]!.array && !subs[0]!.each) {
      one = await api.tasks.submit.mutate(subs[0]!);
      ids = [one.id];
    } else ids = (await api.tasks.submitBatch.mutate(subs)).ids;
  } catch (e) {
    const index = (e as { data?: { index?: number } }).data?.index;
    if (lines && index !== undefined && lines[index] !== undefined)
      throw new CliError(`batch line ${lines[index]}: ${(e as Error).message}; nothing was submitted`, 1);
    throw e;
  }
  if (!v.wait) {
    // A long batch in words is its range; only --json (or a short one) needs every task's view.
    if (!v.json && ids.length > 20)
      print(`submitted ${ids.length} task(s): ${ids[0]}…${ids[ids.length - 1]}${lines ? '' : `; \`agentmgr list --array ${ids[0]}\` shows them`}`);
    else {
      const created = one ? [one] : await views(api, ids);
      if (v.json) printJson(created.length === 1 ? created[0] : created);
      else for (const l of describeCreated(created)) print(l);
    }
  }
  return v.wait ? waitAndReport(api, ids, v) : 0;
}

/** The newest running task, for `logs --follow` with no id. */
async function newestRunning(api: ApiClient): Promise<number> {
  const page = await api.tasks.list.query({ state: ['running', 'starting'], limit: 1 });
  const t = page.items[0];
  if (!t) throw new CliError('no task is running to follow; give a task id: `agentmgr logs --follow ID`', 1);
  process.stderr.write(`following task ${t.id} (${t.agent}${t.name ? `: ${t.name}` : ''})\n`);
  return t.id;
}

export const COMMANDS: Record<string, Command> = {
  submit: {
    options: SUBMIT_OPTIONS,
    async run(api, pos, v) {
      if (typeof v.batch === 'string') {
        if (pos.length) throw new CliError('give either an agent or --batch, not both', 2);
        const { items, lines } = await submissionsFromBatch(readBatch(v.batch));
        return submitAndReport(api, items, lines, v);
      }
      if (pos.length > 1) throw new CliError(`unexpected argument "${pos[1]}"; pass files with --file`, 2);
      return submitAndReport(api, submissionsFromFlags(pos[0], v), null, v);
    },
  },
  run: {
    options: RUN_OPTIONS,
    async run(api, pos, v) {
      if (pos.length === 0) throw new CliError('run needs a command: `agentmgr run -- CMD ARGS…` (or one quoted shell line)', 2);
      const cwd = resolve(typeof v.cwd === 'string' ? v.cwd : '.');
      if (!existsSync(cwd) || !statSync(cwd).isDirectory()) throw new CliError(`--cwd ${String(v.cwd)}: no such folder`, 2);
      const command = shellLine(pos);
      const [sub] = submissionsFromFlags('shell', { ...v, input: undefined });
      sub!.input = { command, cwd, env: runEnvironment(process.env, (v.env as string[] | undefined) ?? []) };
      if (sub!.name === undefined) sub!.name = command.length > 60 ? command.slice(0, 59) + '…' : command;
      return submitAndReport(api, [sub!], null, v);
    },
  },
  list: {
    options: {
      state: { type: 'string' },
      agent: { type: 'string' },
      name: { type: 'string' },
      project: { type: 'string' },
      limit: { type: 'string' },
      array: { type: 'string' },
      format: { type: 'string' },
    },
    async run(api, _pos, v) {
      const limit = intArg('--limit', v.limit as string | undefined, 1, Number.MAX_SAFE_INTEGER);
      const states = parseStates(v.state);
      const arrayId = arrayArg(v.array);
      const columns = columnsArg(v.format as string | undefined);
      const items: TaskView[] = [];
      let cursor: number | undefined;
      do {
        const page = await api.tasks.list.query({
          state: states,
          agent: v.agent as string | undefined,
          name: v.name as string | undefined,
          project: v.project as string | undefined,
          arrayId,
          cursor,
          limit: Math.min(1000, limit !== undefined ? limit - items.length : 1000),
        });
        items.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined && (limit === undefined || items.length < limit));
      const now = Date.now();
      if (v.json) printJson(items);
      else if (items.length === 0)
        print('no tasks' + (states || v.agent || v.name || v.project || arrayId ? ' match' : ' yet: submit one with `agentmgr submit demo`'));
      else if (tty || columns)
        print(
          table(
            columns?.map((c) => c.toUpperCase()) ?? LIST_HEAD,
            items.map((t) => listRow(t, columns, now)),
          ),
        );
      else for (const t of items) print(listRow(t, columns, now).join('\t'));
      return 0;
    },
  },
  show: {
    options: {},
    async run(api, pos, v) {
      const [id] = taskIds(pos, 'show');
      const t = await api.tasks.get.query({ id: id! });
      if (v.json) printJson(t);
      else print(showTask(t));
      return 0;
    },
  },
  logs: {
    options: { follow: { type: 'boolean', short: 'f' }, attempt: { type: 'string' } },
    async run(api, pos, v) {
      const [id] = pos.length === 0 && v.follow ? [await newestRunning(api)] : taskIds(pos, 'logs');
      if (!v.follow) {
        const r = await api.tasks.logs.query({ id: id!, attempt: intArg('--attempt', v.attempt as string | undefined, 1, 1000) });
        if (v.json) printJson(r);
        else out.write(r.text);
        return 0;
      }
      return new Promise<number>((resolve, reject) => {
        let attempt = 0;
        const sub = api.tasks.followLogs.subscribe(
          { id: id! },
          {
            onData: (c) => {
              if (v.json) print(JSON.stringify(c));
              else {
                if (c.attempt !== attempt && attempt !== 0 && c.text) out.write(`--- attempt ${c.attempt} ---\n`);
                out.write(c.text);
              }
              if (c.text) attempt = c.attempt;
              if (c.done) {
                sub.unsubscribe();
                resolve(0);
              }
            },
            onError: reject,
          },
        );
      });
    },
  },
  cancel: withArray(
    perTask('cancel', (t) => `task ${t.id}: ${t.state === 'cancelled' ? 'cancelled' : 'cancelling (SIGTERM sent)'}`),
    async (api, arrayId, v) => printArrayResult('cancelled', arrayId, await api.tasks.cancelArray.mutate({ arrayId }), v),
  ),
  hold: perTask('hold', (t) => `task ${t.id}: held (\`agentmgr release ${t.id}\` lets it start)`),
  release: perTask('release', (t) => `task ${t.id}: released; it starts when its turn comes`),
  retry: withArray(
    {
      options: { ...FILTER_OPTIONS, 'with-dependents': { type: 'boolean' }, failed: { type: 'boolean' } },
      async run(api, pos, v) {
        if (v.failed) throw new CliError('--failed goes with --array ID (retry the failed tasks of an array)', 2);
        if (pos.length === 0 && hasFilter(v)) {
          if (v['with-dependents']) throw new CliError('--with-dependents goes with task ids, not with a filter', 2);
          return reportMany('queued again', await inChunks(await filtered(api, 'retry', v), (ids) => api.tasks.retryMany.mutate({ ids })), v);
        }
        if (hasFilter(v)) throw new CliError('give either task ids or a filter (--state, --agent, --name, --all), not both', 2);
        return eachId(
          taskIds(pos, 'retry'),
          (id) => api.tasks.retry.mutate({ id, withDependents: v['with-dependents'] === true || undefined }),
          (t) => `task ${t.id}: queued again (attempt ${t.attempts + 1} of ${t.maxAttempts})${t.blocked ? `; it ${t.waitingReason}` : ''}`,
          v,
        );
      },
    },
    async (api, arrayId, v) => printArrayResult('queued again', arrayId, await api.tasks.retryArray.mutate({ arrayId, failed: v.failed === true }), v),
  ),
  top: moveCommand('top'),
  bottom: moveCommand('bottom'),
  priority: {
    options: FILTER_OPTIONS,
    async run(api, pos, v) {
      const usage = 'priority takes task ids then a number (`agentmgr priority 12 13 5`), or a number and a filter (`agentmgr priority 5 --agent ocr`)';
      const last = pos[pos.length - 1];
      if (last === undefined) throw new CliError(usage, 2);
      const priority = intArg('the priority', last, -1000, 1000)!;
      if (hasFilter(v)) {
        if (pos.length > 1) throw new CliError('give either task ids or a filter (--state, --agent, --name, --all), not both', 2);
        return reportMany(
          `set to priority ${priority}:`,
          await inChunks(await filtered(api, 'priority', v), (ids) => api.tasks.setPriorityMany.mutate({ ids, priority })),
          v,
        );
      }
      if (pos.length < 2) throw new CliError(usage, 2);
      return eachId(
        taskIds(pos.slice(0, -1), 'priority'),
        (id) => api.tasks.setPriority.mutate({ id, priority }),
        (t) => `task ${t.id}: priority ${t.priority}`,
        v,
      );
    },
  },
  wait: {
    options: { timeout: { type: 'string' }, array: { type: 'string' } },
    async run(api, pos, v) {
      const arrayId = arrayArg(v.array);
      const ids = arrayId !== undefined ? (await arrayMembers(api, arrayId)).map((t) => t.id) : [];
      if (pos.length > 0 || arrayId === undefined) ids.push(...taskIds(pos, 'wait'));
      return waitAndReport(api, ids, v, intArg('--timeout', v.timeout as string | undefined, 1, 30 * 86400));
    },
  },
  remove: {
    options: {},
    async run(api, pos, v) {
      const r = await inChunks(taskIds(pos, 'remove'), (ids) => api.tasks.remove.mutate({ ids }));
      return reportMany('removed', r, v);
    },
  },
  clean: {
    options: { state: { type: 'string' }, agent: { type: 'string' }, 'older-than': { type: 'string' } },
    async run(api, pos, v) {
      if (pos.length > 0) throw new CliError(`clean takes no task ids (\`agentmgr remove ${pos.join(' ')}\` removes those)`, 2);
      const states = parseStates(v.state);
      const live = states?.filter((s) => !TERMINAL_STATES.includes(s));
      if (live?.length) throw new CliError(`clean removes ended tasks only; ${live.join(', ')} is not ended (cancel first)`, 2);
      const olderThanSec = durationArg('--older-than', v['older-than'] as string | undefined);
      const r = await api.tasks.clean.mutate({
        state: states as Exclude<TaskState, 'queued' | 'starting' | 'running'>[] | undefined,
        agent: v.agent as string | undefined,
        olderThanSec,
      });
      if (v.json) return (printJson(r), 0);
      print(r.removed === 0 ? 'nothing to clean: no ended task matches' : `removed ${r.removed} ended task(s), with their logs and artifacts`);
      if (r.kept > 0) print(`kept ${r.kept} that tasks still waiting depend on`);
      return 0;
    },
  },
};
