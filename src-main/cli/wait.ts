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
    const sub = api.tasks.changes.subscribe(
      { ids },
      {
        onStarted: () => {
          // Fetch after subscribing, so no change falls between the two.
          Promise.all(ids.map((id) => api.tasks.get.query({ id })))
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
