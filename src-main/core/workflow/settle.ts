import type { TaskState } from '../../../contracts/task.js';
import { isTerminal } from '../lifecycle/states.js';
import type { DependencyLink, TaskRecord } from '../model/task.js';
import type { Clock, TaskStore } from '../ports.js';
import type { Publisher } from '../publisher.js';
import type { SchedulerLoop } from '../scheduler/loop.js';
import { waitAt, type Status } from '../scheduler/status.js';
import { judge, judgeOne, pending } from './dependencies.js';

export interface WorkflowDeps {
  store: TaskStore;
  clock: Clock;
  publisher: Publisher;
  loop: Pick<SchedulerLoop, 'add' | 'requestCycle'>;
}

/** How many of what a waiting task waits for its status lists by id. */
const SHOWN = 3;
/** How many links a status reads at most (the rest count as still pending). */
const READ = 1000;

/**
 * Dependencies over time: when a task ends (or starts its first attempt, for `after`), the tasks
 * waiting on it are judged again (workflow/dependencies.ts). Those now met join the queue; those
 * that can never be met end cancelled, saying which dependency failed them, and so do the tasks
 * waiting on those, down the whole graph, all in one transaction. A Manager that stopped in
 * between does the same at start (reconcile), so nothing is left waiting on what has ended.
 */
export class Workflow {
  private settling = false;

  constructor(private readonly deps: WorkflowDeps) {}

  /** Announced by the publisher: a task ended, or began its first attempt. */
  changed(t: TaskRecord): void {
    // The cascade below decides the whole graph at once: what it ends itself is not looked at again.
    if (this.settling) return;
    if (!isTerminal(t.state) && t.attempts !== 1) return;
    this.settle(this.deps.store.dependents([t.id], true));
  }

  /** At start: every task still waiting is judged against where its dependencies stand now. */
  reconcile(): void {
    this.settle(this.deps.store.listTasks({ states: ['queued'], blocked: true, limit: Number.MAX_SAFE_INTEGER }).map((t) => t.id));
  }

  /** Where a task stands with its dependencies now: met, waiting, or never (and why). */
  verdict(taskId: number): ReturnType<typeof judge> {
    const d = this.deps.store.dependencies(taskId);
    return d ? judge(d.mode, d.links) : { code: 'met' };
  }

  /** A waiting task's status: what it still waits for (the first few, and how many more). */
  status(taskId: number): Status {
    const d = this.deps.store.dependencies(taskId, READ);
    if (!d) return waitAt('dependencies', []);
    const left = pending(d.links);
    const unread = d.total - d.links.length;
    return waitAt('dependencies', [], {
      dependencies: {
        mode: d.mode,
        pending: left.slice(0, SHOWN).map((l) => ({ id: l.id, type: l.type, state: l.state, progress: l.progress })),
        more: Math.max(0, left.length - SHOWN) + unread,
      },
    });
  }

  /** Judges `candidates` (blocked tasks), and the dependents of each one cancelled, in one write. */
  private settle(candidates: readonly number[]): void {
    if (candidates.length === 0) return;
    const { store, clock, publisher, loop } = this.deps;
    const cancelled = new Set<number>();
    // Decided: met or cancelled. One judged waiting is judged again if the cascade reaches it anew.
    const decided = new Set<number>();
    const unblock: number[] = [];
    const cancel: { id: number; cause: number; reason: string }[] = [];
    let frontier = [...candidates];
    while (frontier.length > 0) {
      const next: number[] = [];
      for (const id of frontier) {
        if (decided.has(id)) continue;
        const d = store.dependencies(id);
        if (!d) continue;
        // What this cascade has already cancelled counts as cancelled.
        const links = d.links.map((l): DependencyLink => (cancelled.has(l.id) ? { ...l, state: 'cancelled' as TaskState } : l));
        const v = judge(d.mode, links);
        if (v.code === 'met') {
          unblock.push(id);
          decided.add(id);
        } else if (v.code === 'never') {
          const cause = links.find((l) => judgeOne(l.type, l).code === 'never')!.id;
          cancel.push({ id, cause, reason: v.reason });
          cancelled.add(id);
          decided.add(id);
          next.push(...store.dependents([id], true));
        }
      }
      frontier = next;
    }
    if (unblock.length === 0 && cancel.length === 0) return;
    this.settling = true;
    try {
      for (const t of store.settleDependents({ unblock, cancel }, clock.now())) {
        if (t.state !== 'queued') publisher.moved(t);
        else {
          publisher.task(t);
          if (!t.held) loop.add(t);
        }
      }
    } finally {
      this.settling = false;
    }
    loop.requestCycle();
  }
}
