import type { Projects } from './projects/projects.js';
import type { TaskState, TaskSubmission } from '../../contracts/task.js';
import type { ResidentKind } from '../../contracts/residents.js';
import { admission, admit, dependencyIds, type AdmissionContext } from './admission/admit.js';
import { ManagerError } from './errors.js';
import type { Ledger } from './ledger/ledger.js';
import { isTerminal } from './lifecycle/states.js';
import { checkTransition } from './lifecycle/transitions.js';
import type { LearnedProfile } from './model/profile.js';
import type { NewTask, TaskRecord } from './model/task.js';
import type { AgentCatalog, Clock, EventSink, TaskStore } from './ports.js';
import type { Publisher } from './publisher.js';
import type { Capacity } from './scheduler/fit.js';
import { toEntry } from './scheduler/loop.js';
import type { SchedulerLoop } from './scheduler/loop.js';
import type { Workflow } from './workflow/settle.js';

export const PAUSED_KEY = 'queue.paused';

export interface CommandDeps {
  store: TaskStore;
  clock: Clock;
  events: EventSink;
  agents: AgentCatalog;
  loop: SchedulerLoop;
  ledger: Ledger;
  publisher: Publisher;
  capacity: () => Capacity;
  profile: (agent: string, where?: string | null) => LearnedProfile | null;
  residentModelMB?: (kind: ResidentKind, model: string) => number | null;
  workflow: Workflow;
  projects: Projects;
  /** A Slurm cluster is set up (tasks may be sent there). */
  slurm?: unknown;
}

/** Where `move` puts a queued task: first or last of its priority, or just before another queued task. */
export type MoveTo = { to: 'top' | 'bottom' } | { before: number };

/** What a bulk action on an array did: each task on its own, what could not be done says why. */
export interface ArrayActionResult {
  done: number[];
  skipped: { id: number; message: string }[];
}

/**
 * What a person (or a script) can ask of the Manager. Each one writes first and changes memory
 * only once the write has committed, so a refused write (a full disk) leaves everything as it
 * was; each guarded write is checked against lifecycle/transitions.ts first.
 */
export class Commands {
  /** Whether the queue is paused; kept in the store, so it survives a restart. */
  paused = false;

  constructor(private readonly deps: CommandDeps) {}

  load(): void {
    this.paused = this.deps.store.getSetting<boolean>(PAUSED_KEY) ?? false;
  }

  /** Stores every submission in one transaction, or none: the error names the first bad one. */
  submit(submissions: readonly TaskSubmission[]): TaskRecord[] {
    const now = this.deps.clock.now();
    return this.insert(admit(submissions, this.admissionContext(submissions, now)), now);
  }

  /**
   * The same, admitted a few hundred at a time with `nextTurn` awaited between (a batch of
   * thousands never holds up the thread); nothing is stored until all are admitted.
   */
  async submitInTurns(submissions: readonly TaskSubmission[], nextTurn: () => Promise<void>): Promise<TaskRecord[]> {
    const now = this.deps.clock.now();
    const steps = admission(submissions, this.admissionContext(submissions, now));
    for (;;) {
      const r = steps.next();
      if (r.done) return this.insert(r.value, now);
      await nextTurn();
    }
  }

  private admissionContext(submissions: readonly TaskSubmission[], now: number): AdmissionContext {
    const ids = dependencyIds(submissions);
    return {
      agents: this.deps.agents,
      capacity: this.deps.capacity(),
      profile: this.deps.profile,
      residentModelMB: this.deps.residentModelMB,
      now,
      targets: ids.length > 0 ? this.deps.store.dependencyTargets(ids) : new Map(),
      slurm: this.deps.slurm !== undefined,
    };
  }

  private insert(rows: NewTask[], now: number): TaskRecord[] {
    this.checkQueuedQuota(rows);
    const stored = this.deps.store.insertTasks(rows);
    for (const p of new Set(rows.map((r) => r.project ?? 'default'))) this.deps.projects.ensure(p, now);
    // Held ones, and those waiting for their dependencies, wait outside the queue.
    this.deps.loop.addAll(stored.filter((t) => !t.held && !t.blocked).map((t) => toEntry(t, t.notBefore ?? now)));
    for (const t of stored) this.deps.publisher.task(t);
    this.deps.loop.requestCycle();
    return stored;
  }

  /** A project's `maxQueued`: more than that many of its tasks waiting at once are refused, all of this submit. */
  private checkQueuedQuota(rows: readonly NewTask[]): void {
    const adding = new Map<string, number>();
    for (const r of rows) adding.set(r.project ?? 'default', (adding.get(r.project ?? 'default') ?? 0) + 1);
    for (const [name, n] of adding) {
      const max = this.deps.projects.get(name).maxQueued;
      if (max === null) continue;
      const queued = this.deps.store.countQueued(name);
      if (queued + n > max)
        throw new ManagerError(
          'INVALID_STATE',
          `project ${name}: ${queued} of ${max} queued, and this adds ${n}; at most ${max} of its tasks may wait at once (raise it with \`agentmgr project set ${name} maxQueued=N\`); nothing was submitted`,
        );
    }
  }

  cancel(id: number): TaskRecord {
    const { store, clock } = this.deps;
    const task = this.mustGet(id);
    if (isTerminal(task.state)) throw new ManagerError('INVALID_STATE', `task ${id} has already ended (${task.state}); nothing to cancel`);
    if (task.state === 'queued') {
      checkTransition(id, 'queued', 'cancelled');
      const t = store.cancelQueued(id, clock.now());
      if (!t) return this.cancel(id); // it moved on meanwhile: cancel it where it is now
      this.deps.loop.remove(task);
      store.addEvent(id, null, 'cancelled', { while: 'queued' }, clock.now());
      return this.deps.publisher.moved(t);
    }
    const t = store.setDesired(id, 'cancel') ?? this.mustGet(id);
    this.deps.ledger.get(id)?.handle?.cancel();
    return this.deps.publisher.task(t);
  }

  /**
   * Queues an ended task again. One with dependencies waits for them again (refused when they
   * can never be met). `withDependents`: the tasks cancelled because this one could not meet
   * their dependency are queued again too, and theirs in turn, each waiting on it afresh.
   */
  retry(id: number, opts: { withDependents?: boolean } = {}): TaskRecord {
    const task = this.mustGet(id);
    if (!isTerminal(task.state)) throw new ManagerError('INVALID_STATE', `task ${id} is ${task.state}; only a task that has ended can be retried`);
    const verdict = this.deps.workflow.verdict(id);
    if (verdict.code === 'never')
      throw new ManagerError(
        'INVALID_STATE',
        `task ${id} could never start: ${verdict.reason}; retry that one with --with-dependents (agentmgr retry ID --with-dependents) instead`,
      );
    checkTransition(id, task.state, 'queued');
    const t = this.deps.store.requeue(id, task.state, this.deps.clock.now(), verdict.code === 'wait');
    if (!t) throw new ManagerError('INVALID_STATE', `task ${id} changed state meanwhile; try again`);
    this.deps.publisher.task(t);
    if (!t.blocked) this.deps.loop.add(t);
    if (opts.withDependents) {
      for (const d of this.deps.store.causedBy(id)) {
        try {
          this.retry(d, opts);
        } catch (e) {
          // One that waits on something else that can never be met stays as it is, saying why.
          if (!(e instanceof ManagerError)) throw e;
        }
      }
    }
    this.deps.loop.requestCycle();
    return t;
  }

  /**
   * Removes ended tasks for good (their attempts, events and artifacts records; the caller
   * removes their files). A task that has not ended is refused, and so is one a task still
   * waiting depends on (directly, or through its array), since that would change what it waits for.
   */
  remove(ids: readonly number[]): { done: number[]; failed: { id: number; message: string }[] } {
    const { store } = this.deps;
    const ok: number[] = [];
    const failed: { id: number; message: string }[] = [];
    for (const id of new Set(ids)) {
      const t = store.getTask(id);
      if (!t) failed.push({ id, message: `no task with id ${id}` });
      else if (!isTerminal(t.state)) failed.push({ id, message: `it is ${t.state}; only an ended task can be removed (cancel it first)` });
      else {
        const waiting = this.liveDependents(t);
        if (waiting.length > 0)
          failed.push({ id, message: `task ${waiting.join(', ')} still waits on it; cancel or wait for ${waiting.length > 1 ? 'those' : 'that'} first` });
        else ok.push(id);
      }
    }
    const done = ok.length > 0 ? store.removeEnded(ok) : [];
    for (const id of ok) if (!done.includes(id)) failed.push({ id, message: 'it changed state meanwhile; try again' });
    if (done.length > 0) this.deps.events.emit({ type: 'removed', ids: done });
    return { done, failed };
  }

  /** Removes every ended task the filter picks, except those a waiting task depends on (counted in `kept`). */
  clean(f: { states: readonly TaskState[]; agent?: string; project?: string; endedBefore?: number }): { removed: number; ids: number[]; kept: number } {
    const candidates = this.deps.store.endedIds(f);
    const r = this.remove(candidates);
    return { removed: r.done.length, ids: r.done, kept: r.failed.length };
  }

  /** Tasks not yet ended that depend on `t`, or on the array it is part of. */
  private liveDependents(t: TaskRecord): number[] {
    const on = t.arrayId !== null && t.arrayId !== t.id ? [t.id, t.arrayId] : [t.id];
    return this.deps.store.dependents(on, false).filter((d) => {
      const dt = this.deps.store.getTask(d);
      return dt !== null && !isTerminal(dt.state);
    });
  }

  /** Cancels every task of the array that has not ended. */
  cancelArray(arrayId: number): ArrayActionResult {
    return this.onArray(
      arrayId,
      (t) => !isTerminal(t.state),
      (t) => this.cancel(t.id),
    );
  }

  /** Retries the tasks of the array that ended (only those that failed, timed out or were interrupted, with `failedOnly`). */
  retryArray(arrayId: number, failedOnly: boolean): ArrayActionResult {
    const failed = (t: TaskRecord): boolean => t.state === 'failed' || t.state === 'timed_out' || t.state === 'interrupted';
    return this.onArray(
      arrayId,
      (t) => (failedOnly ? failed(t) : isTerminal(t.state)),
      (t) => this.retry(t.id),
    );
  }

  private onArray(arrayId: number, pick: (t: TaskRecord) => boolean, act: (t: TaskRecord) => unknown): ArrayActionResult {
    const members = this.deps.store.listTasks({ arrayId, limit: Number.MAX_SAFE_INTEGER }).reverse();
    if (members.length === 0) throw new ManagerError('NOT_FOUND', `no array with id ${arrayId}; an array's id is the id of its first task`);
    const out: ArrayActionResult = { done: [], skipped: [] };
    for (const t of members) {
      if (!pick(t)) continue;
      try {
        act(t);
        out.done.push(t.id);
      } catch (e) {
        out.skipped.push({ id: t.id, message: (e as Error).message });
      }
    }
    return out;
  }

  /** Moves a queued task to the front or the back of its priority, or just before another queued task (taking its priority). */
  move(id: number, where: MoveTo): TaskRecord {
    const { store, clock } = this.deps;
    const task = this.mustGet(id);
    if (task.state !== 'queued') throw new ManagerError('INVALID_STATE', `task ${id} is ${task.state}; only a queued task can be moved`);
    let priority = task.priority;
    let seq: number;
    if ('before' in where) {
      if (where.before === id) return task;
      const other = this.mustGet(where.before);
      if (other.state !== 'queued') throw new ManagerError('INVALID_STATE', `task ${other.id} is ${other.state}; a task can only be moved before a queued one`);
      priority = other.priority;
      const below = store.seqBounds({ priority, below: other.seq }).max;
      // Already just before it: nothing to change.
      if (below === task.seq && priority === task.priority) return task;
      seq = below === null ? other.seq - 1 : (below + other.seq) / 2;
    } else {
      const b = store.seqBounds({ priority });
      if (where.to === 'top') {
        if (b.min === task.seq) return task;
        seq = (b.min ?? task.seq) - 1;
      } else {
        if (b.max === task.seq) return task;
        seq = (b.max ?? task.seq) + 1;
      }
    }
    const t = store.setPlace(id, priority, seq, clock.now());
    if (!t) return this.move(id, where); // it moved on meanwhile: say where it is now
    const old = this.deps.loop.remove(task);
    this.deps.publisher.task(t);
    if (!t.held && !t.blocked) this.deps.loop.add(t, old?.since);
    this.deps.loop.requestCycle();
    return t;
  }

  setPriority(id: number, priority: number): TaskRecord {
    const task = this.mustGet(id);
    const t = this.deps.store.setPriority(id, priority);
    if (!t) throw new ManagerError('INVALID_STATE', `task ${id} is ${task.state}; the priority can only change while it is queued`);
    const old = this.deps.loop.remove(task);
    this.deps.publisher.task(t);
    if (!t.held && !t.blocked) this.deps.loop.add(t, old?.since);
    this.deps.loop.requestCycle();
    return t;
  }

  /** Keeps a queued task from starting until it is released. Holding a held task changes nothing. */
  hold(id: number): TaskRecord {
    const task = this.mustGet(id);
    if (task.state !== 'queued') throw new ManagerError('INVALID_STATE', `task ${id} is ${task.state}; only a queued task can be held`);
    if (task.held) return task;
    const t = this.deps.store.setHeld(id, true, this.deps.clock.now());
    if (!t) return this.hold(id); // it moved on meanwhile: say where it is now
    this.deps.loop.remove(task);
    this.deps.store.addEvent(id, null, 'held', null, this.deps.clock.now());
    return this.deps.publisher.task(t);
  }

  /** Lets a held task start (it waits its turn from now). */
  release(id: number): TaskRecord {
    const task = this.mustGet(id);
    if (task.state !== 'queued' || !task.held)
      throw new ManagerError('INVALID_STATE', `task ${id} is ${task.state === 'queued' ? 'not held' : task.state}; only a held task can be released`);
    const t = this.deps.store.setHeld(id, false, this.deps.clock.now());
    if (!t) return this.release(id);
    this.deps.store.addEvent(id, null, 'released', null, this.deps.clock.now());
    this.deps.publisher.task(t);
    if (!t.blocked) this.deps.loop.add(t);
    this.deps.loop.requestCycle();
    return t;
  }

  setPaused(paused: boolean): void {
    // Memory changes only once the write has committed: a refused write leaves both as they were.
    this.deps.store.setSetting(PAUSED_KEY, paused);
    this.paused = paused;
    this.deps.events.emit({ type: 'queue', paused });
    this.deps.loop.requestCycle();
  }

  private mustGet(id: number): TaskRecord {
    const t = this.deps.store.getTask(id);
    if (!t) throw new ManagerError('NOT_FOUND', `no task with id ${id}; \`agentmgr list\` shows the tasks there are`);
    return t;
  }
}
