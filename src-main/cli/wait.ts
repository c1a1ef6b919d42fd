import type { TaskView } from '../../contracts/task.js';
import { TERMINAL_STATES } from '../../contracts/values.js';
import type { ApiClient } from './client.js';
import { bar, pct } from './format.js';

export interface WaitResult {
  tasks: TaskView[];
  timedOut: boolean;
}

const terminal = (t: TaskView): boolean => TERMINAL_STATES.includes(t.state);

/**
 * Where the tasks stand now. One batch's ids are a dense range: read with the list, a page of up
 * to 250 at a time, rather than one call each (2,000 calls at once kept the Manager's thread
 * busy for seconds). Ids the list did not show (another project's, removed ones) are asked one by
 * one, so their errors are the same as before.
 */
/** Tasks a page: small enough that one answer is a short turn of the Manager's thread. */
const WAIT_PAGE = 250;

export async function currentTasks(api: ApiClient, ids: readonly number[]): Promise<TaskView[]> {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const min = sorted[0];
  const max = sorted.at(-1);
  const one = (id: number): Promise<TaskView> => api.tasks.get.query({ id });
  if (min === undefined || max === undefined || sorted.length < 20 || max - min + 1 > 2 * sorted.length) return Promise.all(sorted.map(one));
  const want = new Set(sorted);
  const found = new Map<number, TaskView>();
  let cursor: number | null = max + 1;
  while (cursor !== null && cursor > min) {
    const page: { items: TaskView[]; nextCursor: number | null } = await api.tasks.list.query({ cursor, limit: WAIT_PAGE });
    for (const t of page.items) if (want.has(t.id)) found.set(t.id, t);
    cursor = page.nextCursor;
  }
  const rest = await Promise.all(sorted.filter((id) => !found.has(id)).map(one));
  return [...found.values(), ...rest];
}

/**
 * Follows tasks until each has ended (or the timeout). On a terminal, a live progress bar per
 * task; otherwise one plain line per change of state.
 */
export async function waitFor(
  api: ApiClient,
  ids: number[],
  opts: { timeoutSec?: number; tty: boolean; quiet: boolean; out: NodeJS.WritableStream },
): Promise<WaitResult> {
  const latest = new Map<number, TaskView>();
  let drawn = 0;
  const draw = (): void => {
    if (opts.quiet || !opts.tty) return;
    let s = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const id of ids) {
      const t = latest.get(id);
      if (!t) continue;
      const msg = t.state === 'queued' ? (t.waitingReason ?? '') : t.state === 'running' ? (t.progressMessage ?? '') : (t.error ?? '');
      s += `\x1b[2K#${t.id} ${t.agent.padEnd(10)} ${bar(t.state === 'succeeded' ? 1 : t.progress)} ${pct(t.state === 'succeeded' ? 1 : t.progress).padStart(4)} ${t.state.padEnd(11)} ${msg.slice(0, 60)}\n`;
    }
    drawn = ids.filter((id) => latest.has(id)).length;
    opts.out.write(s);
  };
  const plain = (t: TaskView, prev: TaskView | undefined): void => {
    if (opts.quiet || opts.tty) return;
    if (prev && prev.state === t.state) return;
    opts.out.write(`${t.id} ${t.state}${t.error ? `: ${t.error}` : ''}\n`);
  };
  const update = (t: TaskView): void => {
    const prev = latest.get(t.id);
    if (prev && prev.updatedAt > t.updatedAt) return;
    latest.set(t.id, t);
    plain(t, prev);
  };

  return new Promise<WaitResult>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | null = null;
    let redraw: NodeJS.Timeout | null = null;
    const finish = (timedOut: boolean, err?: unknown): void => {
      if (settled) return;
      settled = true;
      sub.unsubscribe();
      if (timer) clearTimeout(timer);
      if (redraw) clearInterval(redraw);
      draw();
      if (err) reject(err);
      else resolve({ tasks: ids.map((id) => latest.get(id)!).filter(Boolean), timedOut });
    };
    const check = (): void => {
      if (ids.every((id) => latest.has(id) && terminal(latest.get(id)!))) finish(false);
    };
    // Quiet (--json): only the ends matter, so only they are sent.
    const source = opts.quiet ? api.tasks.ended : api.tasks.changes;
    const sub = source.subscribe(
      { ids },
      {
        onStarted: () => {
          // Fetch after subscribing, so no change falls between the two.
          currentTasks(api, ids)
            .then((list) => {
              for (const t of list) update(t);
              draw();
              check();
            })
            .catch((e: unknown) => finish(false, e));
        },
        onData: (t) => {
          update(t);
          check();
        },
        onError: (e) => finish(false, e),
      },
    );
    if (opts.tty && !opts.quiet) redraw = setInterval(draw, 100);
    if (opts.timeoutSec !== undefined) timer = setTimeout(() => finish(true), opts.timeoutSec * 1000);
  });
}
