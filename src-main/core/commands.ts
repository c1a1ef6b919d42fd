import type { TaskSubmission } from '../../contracts/task.js';
import { admit } from './admission/admit.js';
import { ManagerError } from './errors.js';
import type { Ledger } from './ledger/ledger.js';
import { isTerminal } from './lifecycle/states.js';
import { checkTransition } from './lifecycle/transitions.js';
import type { LearnedProfile } from './model/profile.js';
import type { TaskRecord } from './model/task.js';
import type { AgentCatalog, Clock, EventSink, TaskStore } from './ports.js';
import type { Publisher } from './publisher.js';
import type { Capacity } from './scheduler/fit.js';
import type { SchedulerLoop } from './scheduler/loop.js';

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
  profile: (agent: string) => LearnedProfile | null;
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
    const rows = admit(submissions, { agents: this.deps.agents, capacity: this.deps.capacity(), profile: this.deps.profile, now });
    const stored = this.deps.store.insertTasks(rows);
    // Held ones wait outside the queue until released.
    this.deps.loop.addAll(
      stored
        .filter((t) => !t.held)
        .map((t) => ({ id: t.id, agent: t.agent, request: t.request, notBefore: t.notBefore, priority: t.priority, since: t.notBefore ?? now })),
    );
    for (const t of stored) this.deps.publisher.task(t);
    this.deps.loop.requestCycle();
    return stored;
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

  retry(id: number): TaskRecord {
    const task = this.mustGet(id);
    if (!isTerminal(task.state)) throw new ManagerError('INVALID_STATE', `task ${id} is ${task.state}; only a task that has ended can be retried`);
    checkTransition(id, task.state, 'queued');
    const t = this.deps.store.requeue(id, task.state, this.deps.clock.now());
    if (!t) throw new ManagerError('INVALID_STATE', `task ${id} changed state meanwhile; try again`);
    this.deps.publisher.task(t);
    this.deps.loop.add(t);
    this.deps.loop.requestCycle();
    return t;
  }

  setPriority(id: number, priority: number): TaskRecord {
    const task = this.mustGet(id);
    const t = this.deps.store.setPriority(id, priority);
    if (!t) throw new ManagerError('INVALID_STATE', `task ${id} is ${task.state}; the priority can only change while it is queued`);
    const old = this.deps.loop.remove(task);
    this.deps.publisher.task(t);
    if (!t.held) this.deps.loop.add(t, old?.since);
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
    this.deps.loop.add(t);
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
