import { spawn } from 'node:child_process';
import type { FreeVramResult, ResidentView } from '../../contracts/residents.js';
import { SETTINGS_INFO, SettingsPatchSchema, TEXT_SETTINGS, type Settings, type SettingsPatch } from '../../contracts/settings.js';
import { ProjectNameSchema, TASK_STATES, TERMINAL_STATES, type TaskState, type TaskView } from '../../contracts/task.js';
import { ProjectPatchSchema, type ProjectPatch, type ProjectView } from '../../contracts/project.js';
import { ConfigError, resolveServeOptions } from '../config.js';
import { DataDirLockedError } from '../data-dir.js';
import { startHeadless } from '../headless.js';
import { intArg, parse, taskIds, type Options } from './args.js';
import { CliError, createClient, errorCode, explain, findEndpoint, type ApiClient } from './client.js';
import { LIST_HEAD, listRow, showTask, table } from './format.js';
import { HELP } from './help.js';
import { readBatch, SUBMIT_OPTIONS, submissionsFromBatch, submissionsFromFlags } from './submit.js';
import { waitFor } from './wait.js';
import { aboutIn } from '../../contracts/workflow.js';

const out = process.stdout;
const tty = Boolean(process.stdout.isTTY);
const print = (s: string): void => void out.write(s.endsWith('\n') ? s : s + '\n');
const printJson = (v: unknown): void => print(JSON.stringify(v, null, 2));

async function serve(argv: string[]): Promise<number> {
  const { values } = parse('serve', argv, {
    port: { type: 'string' },
    'agents-dir': { type: 'string', multiple: true },
    'max-concurrency': { type: 'string' },
    quiet: { type: 'boolean' },
  });
  if (values.help) return help('serve');
  let options;
  try {
    options = resolveServeOptions(values);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, 2);
    throw e;
  }
  let m;
  try {
    m = await startHeadless(options, values.quiet ? 'warn' : 'info');
  } catch (e) {
    if (e instanceof DataDirLockedError) throw new CliError(e.message, 1);
    throw new CliError((e as Error).message, 1);
  }
  const info = { url: m.server.url, dataDir: options.dataDir, ui: m.uiUrl, pid: process.pid };
  if (values.json) printJson(info);
  else {
    print(`Agent Manager is listening on ${m.server.url} (127.0.0.1 only)`);
    print(`  data dir:  ${options.dataDir}`);
    print(`  UI:        ${m.uiUrl}`);
    print(
      `  agents:    ${
        m.services.agents
          .list()
          .map((a) => a.name)
          .join(', ') || 'none'
      }`,
    );
    for (const p of m.services.agents.problems()) print(`  not loaded: ${p.path}: ${p.message}`);
    const gpu = m.services.telemetry.current();
    print(
      `  machine:   ${gpu.cpuCores} cores, ${gpu.memoryTotalMB} MB RAM, ${gpu.gpus.length ? gpu.gpus.map((g) => `GPU ${g.index} ${g.name} ${g.totalMB} MB`).join(', ') : `no GPU (${gpu.gpuStatus.message})`}`,
    );
    print('Press Ctrl-C to stop; running agents keep running and are re-adopted on the next start.');
  }
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (!values.json) print('\nstopping…');
      void m.stop().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return 0;
}

function help(cmd?: string): number {
  print(HELP[cmd ?? 'main'] ?? HELP.main!);
  return 0;
}

type Handler = (api: ApiClient, positionals: string[], values: Record<string, unknown>) => Promise<number>;

interface Command {
  options: Options;
  run: Handler;
}

type TaskAction = 'cancel' | 'hold' | 'release' | 'retry';

/** `agentmgr <verb> <id>...`: the action on each task in turn, then what became of each. */
function perTask(verb: TaskAction, said: (t: TaskView) => string): Command {
  return {
    options: {},
    async run(api, pos, v) {
      const done: TaskView[] = [];
      for (const id of taskIds(pos, verb)) done.push(await api.tasks[verb].mutate({ id }));
      if (v.json) printJson(done);
      else for (const t of done) print(said(t));
      return 0;
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
    async run(api, pos, v) {
      const done: TaskView[] = [];
      for (const id of taskIds(pos, to)) done.push(await api.tasks.move.mutate({ id, to }));
      if (v.json) printJson(done);
      else for (const t of done) print(`task ${t.id}: moved to the ${to} of priority ${t.priority}`);
      return 0;
    },
  };
}

function parseStates(raw: unknown): TaskState[] | undefined {
  if (typeof raw !== 'string') return undefined;
  return raw.split(',').map((s) => {
    const st = s.trim() as TaskState;
    if (!TASK_STATES.includes(st)) throw new CliError(`unknown state "${s}"; states are: ${TASK_STATES.join(', ')}`, 2);
    return st;
  });
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

const COMMANDS: Record<string, Command> = {
  submit: {
    options: SUBMIT_OPTIONS,
    async run(api, pos, v) {
      let ids: number[];
      let subs;
      let lines: number[] | null = null;
      if (typeof v.batch === 'string') {
        if (pos.length) throw new CliError('give either an agent or --batch, not both', 2);
        ({ items: subs, lines } = submissionsFromBatch(readBatch(v.batch)));
      } else {
        subs = submissionsFromFlags(pos[0], v);
        if (pos.length > 1) throw new CliError(`unexpected argument "${pos[1]}"; pass files with --file`, 2);
      }
      try {
        ids = (await api.tasks.submitBatch.mutate(subs)).ids;
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
          const created = await views(api, ids);
          if (v.json) printJson(created.length === 1 ? created[0] : created);
          else for (const l of describeCreated(created)) print(l);
        }
      }
      return v.wait ? waitAndReport(api, ids, v) : 0;
    },
  },
  list: {
    options: { state: { type: 'string' }, agent: { type: 'string' }, project: { type: 'string' }, limit: { type: 'string' }, array: { type: 'string' } },
    async run(api, _pos, v) {
      const limit = intArg('--limit', v.limit as string | undefined, 1, Number.MAX_SAFE_INTEGER);
      const states = parseStates(v.state);
      const arrayId = arrayArg(v.array);
      const items: TaskView[] = [];
      let cursor: number | undefined;
      do {
        const page = await api.tasks.list.query({
          state: states,
          agent: v.agent as string | undefined,
          project: v.project as string | undefined,
          arrayId,
          cursor,
          limit: Math.min(1000, limit !== undefined ? limit - items.length : 1000),
        });
        items.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined && (limit === undefined || items.length < limit));
      if (v.json) printJson(items);
      else if (items.length === 0) print('no tasks' + (states || v.agent || v.project || arrayId ? ' match' : ' yet: submit one with `agentmgr submit demo`'));
      else if (tty) print(table(LIST_HEAD, items.map(listRow)));
      else for (const t of items) print(listRow(t).join('\t'));
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
      const [id] = taskIds(pos, 'logs');
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
      options: { 'with-dependents': { type: 'boolean' }, failed: { type: 'boolean' } },
      async run(api, pos, v) {
        if (v.failed) throw new CliError('--failed goes with --array ID (retry the failed tasks of an array)', 2);
        const done: TaskView[] = [];
        for (const id of taskIds(pos, 'retry')) done.push(await api.tasks.retry.mutate({ id, withDependents: v['with-dependents'] === true || undefined }));
        if (v.json) printJson(done);
        else
          for (const t of done)
            print(`task ${t.id}: queued again (attempt ${t.attempts + 1} of ${t.maxAttempts})${t.blocked ? `; it ${t.waitingReason}` : ''}`);
        return 0;
      },
    },
    async (api, arrayId, v) => printArrayResult('queued again', arrayId, await api.tasks.retryArray.mutate({ arrayId, failed: v.failed === true }), v),
  ),
  top: moveCommand('top'),
  bottom: moveCommand('bottom'),
  priority: {
    options: {},
    async run(api, pos, v) {
      const [id] = taskIds(pos.slice(0, 1), 'priority');
      const priority = intArg('priority', pos[1], -1000, 1000);
      if (priority === undefined) throw new CliError('priority needs a task id and a number, like `agentmgr priority 12 5`', 2);
      const t = await api.tasks.setPriority.mutate({ id: id!, priority });
      if (v.json) printJson(t);
      else print(`task ${t.id}: priority ${t.priority}`);
      return 0;
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
  agents: {
    options: {},
    async run(api, _pos, v) {
      const r = await api.agents.list.query();
      if (v.json) printJson(r);
      else {
        const res = (r: { cpu: number; memoryMB: number; gpu?: { vramMB: number; count: number } }) =>
          `${r.cpu} CPU, ${r.memoryMB} MB${r.gpu ? `, ${r.gpu.count > 1 ? `${r.gpu.count}×` : ''}${r.gpu.vramMB} MB VRAM` : ''}`;
        print(
          table(
            ['NAME', 'DECLARED', 'LEARNED', 'ACCEPTS', 'DESCRIPTION'],
            r.agents.map((a) => [
              a.name,
              res(a.resources),
              a.learned ? `${res(a.learned.request)} (${a.learned.samples} runs)` : '-',
              a.accepts.join(' ') || '-',
              a.description.split('\n')[0] ?? '',
            ]),
          ),
        );
        for (const p of r.problems) print(`not loaded: ${p.path}: ${p.message}`);
      }
      return 0;
    },
  },
  status: {
    options: {},
    async run(api, _pos, v) {
      const [q, res, health, projects] = await Promise.all([api.queue.status.query(), api.resources.query(), api.health.query(), api.projects.list.query()]);
      if (v.json) return (printJson({ queue: q, resources: res, health, projects }), 0);
      const c = q.counts;
      print(
        `Queue:   ${q.paused ? 'PAUSED' : 'running'}; ${q.running} running (max ${q.maxConcurrency}), ${q.queued} queued; ${c.succeeded} succeeded, ${c.failed} failed, ${c.cancelled} cancelled, ${c.timed_out} timed out, ${c.interrupted} interrupted`,
      );
      // Fair share: each project's part of the recent use against what its weight entitles it to.
      if (projects.length > 1 || projects.some((p) => p.name !== 'default'))
        print(
          `Projects: ${projects
            .map(
              (p) =>
                `${p.name} ${Math.round(p.usageShare * 100)} % of use (share ${Math.round(p.targetShare * 100)} %, ${p.running} running, ${p.queued} queued)`,
            )
            .join('; ')}`,
        );
      const e = q.estimate;
      if (e.drainsAt !== null && q.queued + q.running > 0)
        print(
          `Estimate: the queue is done in ${aboutIn(new Date(e.drainsAt).getTime() - Date.now())}${e.withoutEstimate > 0 ? ` (${e.withoutEstimate} task(s) without an estimate: see \`agentmgr show ID\`)` : ''}`,
        );
      if (q.yielding) print(`Held:    ${q.yielding.reason}`);
      if (q.idle)
        print(`Away:    ${q.idle.awaySec >= q.idle.needSec ? 'yes' : 'no'}: ${q.idle.awaySec} s without input; idle-only work needs ${q.idle.needSec} s`);
      if (q.keptFor !== null) print(`Kept:    what finishing tasks free is kept for task ${q.keptFor}, which has waited too long for room`);
      print(
        `CPU:     ${res.cpu.held} of ${res.cpu.cores} cores held by our tasks${res.snapshot.cpu.loadPct !== null ? `; load ${res.snapshot.cpu.loadPct}%` : ''}`,
      );
      print(
        `RAM:     ${res.memory.oursMB} MB ours, ${res.memory.foreignMB} MB other programs, ${Math.max(0, res.memory.freeMB)} MB free of ${res.memory.totalMB} MB`,
      );
      if (res.gpus.length === 0) print(`GPU:     none visible (${health.gpu.message ?? 'no NVIDIA GPU'})`);
      for (const g of res.gpus) {
        print(
          `GPU ${g.index}:   ${g.name}: ${g.oursMB} MB ours, ${g.foreignMB} MB other programs${g.foreignTop.length ? ` (${g.foreignTop.join('; ')})` : ''}, ${Math.max(0, g.freeMB)} MB free of ${g.totalMB} MB (${res.vramMarginMB} MB margin)`,
        );
        if (g.limited) print(`         ${g.limited}: no new GPU task starts on it`);
      }
      for (const r of res.residents) print(`${(r.label + ':').padEnd(9)}${residentLine(r)}`);
      return 0;
    },
  },
  pause: {
    options: { 'free-vram': { type: 'boolean' } },
    async run(api, _pos, v) {
      if (!v['free-vram']) {
        const r = await api.queue.pause.mutate();
        if (v.json) printJson(r);
        else print('queue paused: running tasks go on, no new ones start (`agentmgr resume` to continue)');
        return 0;
      }
      const r = await api.queue.pause.mutate({ freeVram: true });
      if (v.json) printJson(r);
      else print(freeVramText(r.freed!).join('\n'));
      return 0;
    },
  },
  idle: {
    options: {},
    async run(api, pos, v) {
      const sec = pos.length === 1 && /^\d+(\.\d+)?$/.test(pos[0]!) ? Number(pos[0]) : NaN;
      if (!Number.isFinite(sec) || sec > 365 * 86_400)
        throw new CliError('say how long you have been away, in seconds: `agentmgr idle 900` (0: you are back)', 2);
      const r = await api.queue.idle.mutate({ idleSec: sec });
      if (v.json) return (printJson(r), 0);
      const g = r.idle!;
      print(
        g.awaySec >= g.needSec
          ? `away ${g.awaySec} s: idle-only work may start (it waits for ${g.needSec} s away)`
          : `away ${g.awaySec} s: idle-only work waits until you have been away ${g.needSec} s`,
      );
      return 0;
    },
  },
  focus: {
    options: {},
    async run(api, pos, v) {
      const forSec = focusArgs(pos);
      const r =
        forSec === 'status'
          ? { yielding: (await api.queue.status.query()).yielding }
          : await api.queue.focus.mutate(forSec === 'off' ? { on: false } : forSec === 'on' ? { on: true } : { on: true, forSec });
      if (v.json) return (printJson(r), 0);
      const y = r.yielding;
      if (forSec === 'status') print(y === null ? 'nothing holds GPU work: GPU tasks start as they fit' : `held: ${y.reason}`);
      else if (forSec === 'off') print(y === null ? 'focus mode off: GPU tasks start as they fit' : `focus mode off; ${y.reason} still holds`);
      else print(`focus mode on: ${y?.reason ?? 'nothing holds (it may have ended already)'}`);
      return 0;
    },
  },
  settings: {
    options: {},
    async run(api, pos, v) {
      // A per-GPU limit (gpuMaxUtilPct.1=80) changes one entry of gpuLimits: the rest are kept.
      const perGpu = pos.some((w) => PER_GPU_KEY.test(w.split('=')[0] ?? '')) ? (await api.settings.get.query()).gpuLimits : {};
      const patch = settingsPatch(pos, perGpu);
      const now = Object.keys(patch).length > 0 ? await api.settings.update.mutate(patch) : await api.settings.get.query();
      if (v.json) return (printJson(now), 0);
      const width = Math.max(...Object.keys(now).map((k) => k.length));
      const shown = (value: unknown): string =>
        value === null
          ? 'none'
          : typeof value === 'object'
            ? Object.entries(value as Record<string, object>)
                .map(
                  ([gpu, l]) =>
                    `GPU ${gpu}: ${Object.entries(l)
                      .map(([k, x]) => `${k}=${x === null ? 'none' : String(x)}`)
                      .join(' ')}`,
                )
                .join('; ') || 'none'
            : value === ''
              ? 'off'
              : String(value);
      for (const [k, value] of Object.entries(now)) {
        const info = SETTINGS_INFO[k as keyof Settings];
        print(`${k.padEnd(width)}  ${shown(value).padEnd(6)}  ${info?.help ?? ''}`);
      }
      if (Object.keys(patch).length > 0) print('saved and applied');
      return 0;
    },
  },
  token: {
    options: { project: { type: 'string' }, label: { type: 'string' } },
    async run(api, pos, v) {
      const [verb, ...rest] = pos;
      if (verb === 'create') {
        if (typeof v.project !== 'string') throw new CliError('token create needs --project NAME: the project the token may submit to, see and change', 2);
        const made = await api.tokens.create.mutate({ project: v.project, ...(typeof v.label === 'string' ? { label: v.label } : {}) });
        if (v.json) return (printJson({ token: made.token, id: made.view.id, project: made.view.project }), 0);
        print(made.token);
        print(`token ${made.view.id} for project ${made.view.project}: shown only now; give it to the script as AGENTMGR_TOKEN (with AGENTMGR_URL)`);
        return 0;
      }
      if (verb === 'list') {
        const list = await api.tokens.list.query();
        if (v.json) return (printJson(list), 0);
        if (list.length === 0) print('no project tokens: make one with `agentmgr token create --project NAME`');
        for (const t of list) print(`${t.id}\t${t.project}\t${t.prefix}…\t${t.createdAt.toISOString()}${t.label ? `\t${t.label}` : ''}`);
        return 0;
      }
      if (verb === 'revoke') {
        if (rest.length === 0) throw new CliError('token revoke needs the token id (see `agentmgr token list`)', 2);
        for (const id of taskIds(rest, 'token revoke')) {
          await api.tokens.revoke.mutate({ id });
          if (!v.json) print(`token ${id} revoked: requests with it are refused from now on`);
        }
        if (v.json) printJson({ revoked: taskIds(rest, 'token revoke') });
        return 0;
      }
      throw new CliError('token takes create --project NAME, list, or revoke ID', 2);
    },
  },
  project: {
    options: {},
    async run(api, pos, v) {
      const [verb, name, ...words] = pos;
      if (verb === 'set') {
        if (!name) throw new CliError('project set needs a name: agentmgr project set NAME weight=2 maxRunning=4 maxVramMB=6000', 2);
        const named = ProjectNameSchema.safeParse(name);
        if (!named.success) throw new CliError(`project ${name}: ${named.error.issues[0]!.message}`, 2);
        const p = await api.projects.set.mutate({ name, patch: projectPatch(words) });
        if (v.json) return (printJson(p), 0);
        print(projectLine(p));
        return 0;
      }
      if (verb === 'list' || verb === undefined) {
        const list = await api.projects.list.query();
        if (v.json) return (printJson(list), 0);
        for (const p of list) print(projectLine(p));
        return 0;
      }
      throw new CliError('project takes set NAME KEY=VALUE... or list', 2);
    },
  },
  resume: {
    options: {},
    async run(api, _pos, v) {
      const r = await api.queue.resume.mutate();
      if (v.json) printJson(r);
      else print('queue resumed');
      return 0;
    },
  },
};

const PROJECT_KEYS = ['weight', 'maxRunning', 'maxVramMB', 'maxQueued'] as const;

/** `weight=2 maxRunning=4`: a checked project change; `none` removes a quota. */
function projectPatch(words: string[]): ProjectPatch {
  if (words.length === 0) throw new CliError(`give what to set: ${PROJECT_KEYS.map((k) => `${k}=N`).join(' ')} (none removes a quota)`, 2);
  const raw: Record<string, unknown> = {};
  for (const w of words) {
    const eq = w.indexOf('=');
    const key = eq > 0 ? w.slice(0, eq) : w;
    if (!(PROJECT_KEYS as readonly string[]).includes(key)) throw new CliError(`unknown project setting "${key}"; they are: ${PROJECT_KEYS.join(', ')}`, 2);
    if (eq < 0) throw new CliError(`give the setting a value: ${key}=VALUE`, 2);
    const value = w.slice(eq + 1).trim();
    raw[key] = key !== 'weight' && NONE.has(value) ? null : value === '' ? value : Number(value);
  }
  const parsed = ProjectPatchSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new CliError(`${String(i.path[0])}=${String(raw[String(i.path[0])])}: ${i.message}`, 2);
  }
  return parsed.data;
}

function projectLine(p: ProjectView): string {
  const quotas = [
    p.maxRunning !== null ? `at most ${p.maxRunning} running` : null,
    p.maxVramMB !== null ? `${p.maxVramMB} MB VRAM` : null,
    p.maxQueued !== null ? `${p.maxQueued} queued` : null,
  ].filter(Boolean);
  const pct = (x: number) => `${Math.round(x * 100)} %`;
  return `${p.name}: weight ${p.weight}${quotas.length ? ` (${quotas.join(', ')})` : ''}; ${p.running} running, ${p.queued} queued; ${pct(p.usageShare)} of recent use, share ${pct(p.targetShare)}`;
}

const PER_GPU_KEY = /^gpuMax(UtilPct|TempC|PowerW)\.(\d+)$/;
const NULLABLE = new Set(['gpuMaxUtilPct', 'gpuMaxTempC', 'gpuMaxPowerW']);
const NONE = new Set(['none', 'off', 'null']);

/** "llama3.1:8b 5600 MB, idle 3 min, can be freed (policy when-idle)", or why it is not read. */
/** `focus on`, `focus off`, `focus for 1h` (s, m, min, h, d; `1h30m`), or `focus` alone (where it stands). */
function focusArgs(pos: readonly string[]): 'on' | 'off' | 'status' | number {
  const usage = 'say `agentmgr focus on`, `agentmgr focus off`, or `agentmgr focus for 1h` (also 30m, 90s, 1h30m)';
  if (pos.length === 0) return 'status';
  if (pos.length === 1 && (pos[0] === 'on' || pos[0] === 'off')) return pos[0];
  if (pos[0] !== 'for' || pos.length !== 2) throw new CliError(`focus ${pos.join(' ')}: ${usage}`, 2);
  const parts = [...pos[1]!.matchAll(/(\d+(?:\.\d+)?)(s|min|m|h|d)/gi)];
  const unit: Record<string, number> = { s: 1, m: 60, min: 60, h: 3600, d: 86_400 };
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== pos[1]!.replace(/\s+/g, ''))
    throw new CliError(`focus for ${pos[1]}: not a duration; ${usage}`, 2);
  const sec = Math.round(parts.reduce((a, p) => a + Number(p[1]) * unit[p[2]!.toLowerCase()]!, 0));
  if (sec < 1 || sec > 7 * 86_400) throw new CliError(`focus for ${pos[1]}: give between 1 s and 7 days`, 2);
  return sec;
}

function residentLine(r: ResidentView): string {
  if (r.state !== 'ok') return `${r.state} at ${r.url}: ${r.message ?? ''} (its VRAM counts as any other program's)`;
  const models = r.models.length > 0 ? r.models.map((m) => `${m.name}${m.vramMB !== null ? ` ${m.vramMB} MB` : ''}`).join(', ') : 'no model loaded';
  const activity = r.busy ? 'busy' : r.lastActiveAt !== null ? `idle ${aboutIn(Date.now() - r.lastActiveAt)}` : 'idle';
  const free = r.freeing ? 'being asked to unload' : r.canFree ? 'can be freed' : (r.message ?? 'not freed now');
  return `${models}; ${r.vramMB} MB on the GPU; ${activity}; ${free} (policy ${r.policy})`;
}

/** What `pause --free-vram` did, a line each: the hold, the tasks queued again or kept, each resident. */
function freeVramText(r: FreeVramResult): string[] {
  const lines = ['queue paused: no new task starts (`agentmgr resume` to continue)'];
  if (r.requeued.length > 0) lines.push(`queued again to free the GPU (nothing lost): ${r.requeued.map((id) => `#${id}`).join(', ')}`);
  for (const k of r.kept) lines.push(`left running: #${k.id} (${k.why})`);
  for (const x of r.residents)
    lines.push(x.asked ? `${x.label}: asked to unload (${x.vramMB} MB)` : `${x.label}: not asked (${x.why}); it keeps ${x.vramMB} MB`);
  if (r.requeued.length === 0 && r.kept.length === 0 && r.residents.length === 0) lines.push('nothing of ours or of the residents holds the GPU');
  return lines;
}

/**
 * KEY=VALUE words into a checked settings change; an error names the key and what it takes.
 * `gpuMaxUtilPct.1=80` sets GPU 1's own limit within `perGpu` (the current per-GPU limits).
 */
function settingsPatch(words: string[], perGpu: Settings['gpuLimits']): SettingsPatch {
  const raw: Record<string, unknown> = {};
  const number = (value: string): unknown => (value === '' ? value : Number(value));
  for (const w of words) {
    const eq = w.indexOf('=');
    const key = eq > 0 ? w.slice(0, eq) : w;
    const one = PER_GPU_KEY.exec(key);
    if (!(key in SETTINGS_INFO) && !one) throw new CliError(`unknown setting "${key}"; settings are: ${Object.keys(SETTINGS_INFO).join(', ')}`, 2);
    if (eq < 0) throw new CliError(`give the setting a value: ${key}=VALUE`, 2);
    const value = w.slice(eq + 1).trim();
    if (one) {
      const field = `max${one[1]}` as keyof Settings['gpuLimits'][string];
      const gpus = (raw.gpuLimits ?? structuredClone(perGpu)) as Record<string, Record<string, unknown>>;
      const own = { ...gpus[one[2]!], [field]: NONE.has(value) ? null : number(value) };
      if (Object.values(own).every((x) => x === null)) delete gpus[one[2]!];
      else gpus[one[2]!] = own;
      raw.gpuLimits = gpus;
    } else if (key === 'gpuLimits') throw new CliError("set one GPU's limit as gpuMaxUtilPct.1=80 (or gpuMaxTempC.1, gpuMaxPowerW.1; none removes it)", 2);
    else if (key === 'desktopNotifications' || key === 'gameModeFreeVram' || key === 'residentRemoteAllowed')
      raw[key] = value === 'true' ? true : value === 'false' ? false : value;
    else if (TEXT_SETTINGS.has(key as keyof Settings)) raw[key] = (key.endsWith('Url') || key === 'gameModePrograms') && NONE.has(value) ? '' : value;
    else raw[key] = NULLABLE.has(key) && NONE.has(value) ? null : number(value);
  }
  const parsed = SettingsPatchSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    const key = String(i.path[0]);
    const shown = key === 'gpuLimits' ? `gpuLimits.${i.path.slice(1).join('.')}` : `${key}=${String(raw[key])}`;
    throw new CliError(`${shown}: ${i.message}. ${SETTINGS_INFO[key as keyof Settings]?.help ?? ''}`.trim(), 2);
  }
  return parsed.data;
}

/** `agentmgr ui`: the UI's URL with the token (the way Jupyter hands it over), opened in a browser. */
function ui(argv: string[]): number {
  const { values } = parse('ui', argv, { 'no-open': { type: 'boolean' } });
  if (values.help) return help('ui');
  const ep = findEndpoint(values['data-dir'] as string | undefined);
  const url = `${ep.url}/#token=${ep.token}`;
  if (values.json) return (printJson({ url }), 0);
  print(url);
  if (!values['no-open']) {
    const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
    const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
    child.on('error', () => process.stderr.write(`(could not run ${opener}; open the URL above in a browser)\n`));
    child.unref();
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === 'ui') return ui(rest);
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') return help(rest[0]);
  if (cmd === '--version' || cmd === 'version') return (print('agentmgr 0.1.0'), 0);
  if (cmd === 'serve') return serve(rest);
  const command = COMMANDS[cmd];
  if (!command) throw new CliError(`unknown command "${cmd}"; run \`agentmgr help\` for the list`, 2);
  const { values, positionals } = parse(cmd, rest, command.options);
  if (values.help) return help(cmd);
  const ep = findEndpoint(values['data-dir'] as string | undefined);
  const { api, close } = createClient(ep);
  try {
    return await command.run(api, positionals, values);
  } catch (e) {
    throw explain(e, ep);
  } finally {
    close();
  }
}

export async function runCli(argv: string[]): Promise<void> {
  // A reader that stops early (`agentmgr list --json | head -1`) closes the pipe: that is not an error.
  const quietOnClosedPipe = (e: NodeJS.ErrnoException): void => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  };
  process.stdout.on('error', quietOnClosedPipe);
  process.stderr.on('error', quietOnClosedPipe);
  try {
    const code = await main(argv);
    process.exitCode = code;
  } catch (e) {
    const err = e instanceof CliError ? e : new CliError((e as Error).message ?? String(e));
    // With --json, errors are JSON too, so a script reads one shape.
    if (argv.includes('--json')) process.stderr.write(JSON.stringify({ error: { code: errorCode(err), message: err.message } }) + '\n');
    else process.stderr.write(`agentmgr: ${err.message}\n`);
    process.exitCode = err.exitCode;
  }
}
