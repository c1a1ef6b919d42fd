import type { ResourceView } from '../../contracts/resources.js';
import type { TaskActions, TaskSubmission } from '../../contracts/task.js';
import { admit } from './admission/admit.js';
import { ManagerError } from './errors.js';
import { Health, type Degraded } from './health.js';
import { Ledger } from './ledger/ledger.js';
import { isTerminal } from './lifecycle/states.js';
import { checkTransition } from './lifecycle/transitions.js';
import type { RunningUsage } from './model/node.js';
import { learnProfile, PROFILE, type LearnedProfile, type PeakSample } from './model/profile.js';
import type { TaskRecord } from './model/task.js';
import type { AgentCatalog, AgentRunner, Clock, EventSink, Logger, TaskStore, TelemetrySource } from './ports.js';
import { Publisher } from './publisher.js';
import { TaskQueries } from './queries.js';
import { recover } from './runs/recovery.js';
import { Supervisor } from './runs/supervisor.js';
import { describeStatus } from './scheduler/describe.js';
import type { Capacity } from './scheduler/fit.js';
import { SchedulerLoop } from './scheduler/loop.js';
import type { Status } from './scheduler/status.js';

export type { Degraded };

export interface ManagerConfig {
  maxConcurrency: number;
  vramMarginMB: number;
  memoryMarginMB: number;
  /** Progress updates are written at most this often per task. */
  progressFlushMs: number;
  /** How long after its start a task's memory is taken as still changing (see RunningUsage.settling). */
  settleMs: number;
  /** A task held back by resources this long gets them kept for it (see reservation.ts); null for never. */
  reserveAfterMs: number | null;
  /** The ResourceView is published at most this often (default 900 ms: about once a telemetry tick). */
  resourcesEveryMs?: number;
}

export interface ManagerDeps {
  store: TaskStore;
  telemetry: TelemetrySource;
  runner: AgentRunner;
  agents: AgentCatalog;
  clock: Clock;
  events: EventSink;
  logger: Logger;
  config: ManagerConfig;
}

const PAUSED_KEY = 'queue.paused';

/**
 * The Manager: a facade over its parts. admission/ turns submissions into tasks; the loop
 * (scheduler/loop.ts) decides what starts; the supervisor (runs/supervisor.ts) starts, watches
 * and ends runs; recovery re-adopts what an earlier Manager left; the ledger (ledger/) keeps the
 * account of resources; health.ts is degraded mode. Single-threaded: every method runs to
 * completion. See docs/manager.md.
 */
export class Manager {
  private readonly ledger: Ledger;
  private readonly health: Health;
  private readonly publisher: Publisher;
  private readonly supervisor: Supervisor;
  private readonly loop: SchedulerLoop;
  private readonly profiles = new Map<string, LearnedProfile | null>();
  private paused = false;
  /** The store, read-only: what the API reads tasks through. */
  readonly queries: TaskQueries;
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly deps: ManagerDeps) {
    const { config } = deps;
    this.queries = new TaskQueries(deps.store);
    this.ledger = new Ledger(config);
    this.health = new Health(deps);
    this.publisher = new Publisher({ ...deps, ledger: this.ledger }, () => config.resourcesEveryMs ?? 900);
    this.supervisor = new Supervisor({
      ...deps,
      ledger: this.ledger,
      publisher: this.publisher,
      health: this.health,
      capacity: () => this.capacity(),
      progressFlushMs: () => config.progressFlushMs,
      succeeded: (agent) => this.profiles.delete(agent),
    });
    this.loop = new SchedulerLoop({
      ...deps,
      ledger: this.ledger,
      publisher: this.publisher,
      health: this.health,
      bind: (id, gpus) => this.supervisor.launch(id, gpus),
      paused: () => this.paused,
    });
    this.supervisor.connect(this.loop.slots);
    this.health.onRecovered = () => {
      this.supervisor.recordPending();
      this.loop.requestCycle();
    };
  }

  get config(): Readonly<ManagerConfig> {
    return this.deps.config;
  }

  /** Loads the queue, re-adopts runs an earlier Manager left, and starts scheduling. */
  start(): void {
    const { store, telemetry } = this.deps;
    this.paused = store.getSetting<boolean>(PAUSED_KEY) ?? false;
    // The queue first: runs found ended below may be queued again, and must be added only once.
    this.loop.addAll(store.queuedEntries());
    recover({ ...this.deps, ledger: this.ledger, supervisor: this.supervisor });
    this.unsubscribe = telemetry.subscribe(() =>
      this.health.guarded('telemetry', () => {
        this.ledger.observe(telemetry.current());
        this.publisher.resources();
        this.loop.requestCycle();
      }),
    );
    telemetry.watch(this.ledger.watchList());
    this.loop.start();
  }

  /** Stops scheduling. Running agents keep running (a later Manager re-adopts them) unless `stopAgents`. */
  stop(opts: { stopAgents?: boolean } = {}): void {
    this.loop.stop();
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.health.stop();
    this.publisher.stop();
    this.supervisor.stop(opts.stopAgents ?? false);
  }

  /** Cancels every running task; resolves once each has ended and been recorded, or after `timeoutMs`. */
  cancelAll(timeoutMs: number): Promise<void> {
    for (const run of this.ledger.all()) {
      this.deps.store.setDesired(run.taskId, 'cancel');
      run.handle?.cancel();
    }
    const idle = this.supervisor.whenIdle();
    return new Promise((resolve) => {
      const timer = this.deps.clock.setTimeout(() => {
        idle.cancel();
        resolve();
      }, timeoutMs);
      void idle.promise.then(() => {
        this.deps.clock.clearTimeout(timer);
        resolve();
      });
    });
  }

  // ---- commands -------------------------------------------------------------------------------

  /** Stores every submission in one transaction, or none: the error names the first bad one. */
  submit(submissions: readonly TaskSubmission[]): TaskRecord[] {
    const now = this.deps.clock.now();
    const rows = admit(submissions, { agents: this.deps.agents, capacity: this.capacity(), profile: (a) => this.profile(a), now });
    const stored = this.deps.store.insertTasks(rows);
    this.loop.addAll(stored.map((t) => ({ id: t.id, agent: t.agent, request: t.request, notBefore: t.notBefore, priority: t.priority, since: now })));
    for (const t of stored) this.publisher.task(t);
    this.loop.requestCycle();
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
      this.loop.remove(task);
      store.addEvent(id, null, 'cancelled', { while: 'queued' }, clock.now());
      return this.publisher.moved(t);
    }
    const t = store.setDesired(id, 'cancel') ?? this.mustGet(id);
    this.ledger.get(id)?.handle?.cancel();
    return this.publisher.task(t);
  }

  retry(id: number): TaskRecord {
    const task = this.mustGet(id);
    if (!isTerminal(task.state)) throw new ManagerError('INVALID_STATE', `task ${id} is ${task.state}; only a task that has ended can be retried`);
    checkTransition(id, task.state, 'queued');
    const t = this.deps.store.requeue(id, task.state, this.deps.clock.now());
    if (!t) throw new ManagerError('INVALID_STATE', `task ${id} changed state meanwhile; try again`);
    this.publisher.task(t);
    this.loop.add(t);
    this.loop.requestCycle();
    return t;
  }

  setPriority(id: number, priority: number): TaskRecord {
    const task = this.mustGet(id);
    const t = this.deps.store.setPriority(id, priority);
    if (!t) throw new ManagerError('INVALID_STATE', `task ${id} is ${task.state}; the priority can only change while it is queued`);
    const old = this.loop.remove(task);
    this.publisher.task(t);
    this.loop.add(t, old?.since);
    this.loop.requestCycle();
    return t;
  }

  setPaused(paused: boolean): void {
    // Memory changes only once the write has committed: a refused write leaves both as they were.
    this.deps.store.setSetting(PAUSED_KEY, paused);
    this.paused = paused;
    this.deps.events.emit({ type: 'queue', paused });
    this.loop.requestCycle();
  }

  updateConfig(patch: Partial<ManagerConfig>): void {
    Object.assign(this.deps.config, patch);
    this.publisher.resources();
    this.loop.requestCycle();
  }

  // ---- queries --------------------------------------------------------------------------------

  isPaused(): boolean {
    return this.paused;
  }

  /** Null while all is well; else why nothing new starts (the store cannot be written), since when. */
  degraded(): Degraded | null {
    return this.health.degraded();
  }

  /** What a running task has been seen to use at most so far (null when it is not running). */
  livePeak(id: number): PeakSample | null {
    return this.ledger.get(id)?.peak ?? null;
  }

  /** Where a queued task stands with the scheduler, as data; null when nothing holds it back. */
  schedulingStatus(task: Pick<TaskRecord, 'state' | 'agent' | 'request' | 'notBefore'>): Status | null {
    return this.loop.statusOf(task);
  }

  /** The same, in words. */
  waitingReason(task: Pick<TaskRecord, 'state' | 'agent' | 'request' | 'notBefore'>): string | null {
    return describeStatus(this.loop.statusOf(task));
  }

  /** What can be done to the task now. */
  actions(task: Pick<TaskRecord, 'state'>): TaskActions {
    const ended = isTerminal(task.state);
    return { cancel: !ended, retry: ended, priority: task.state === 'queued' };
  }

  /** The task the last scheduling cycle kept resources for (see reservation.ts); null if none. */
  keptFor(): number | null {
    return this.ledger.keptFor();
  }

  queueLength(): number {
    return this.loop.size;
  }

  /** The machine's resources as the scheduler sees them now (also published as 'resources' events). */
  resources(): ResourceView {
    return this.ledger.view(this.deps.telemetry.current(), this.deps.clock.now());
  }

  /** What the agent's recent successful attempts really used; null until enough were measured. */
  profile(agent: string): LearnedProfile | null {
    if (!this.profiles.has(agent)) {
      const spec = this.deps.agents.get(agent);
      this.profiles.set(agent, spec ? learnProfile(spec.resources, this.deps.store.recentPeaks(agent, PROFILE.window)) : null);
    }
    return this.profiles.get(agent) ?? null;
  }

  running(): readonly RunningUsage[] {
    return this.ledger.running(this.deps.clock.now());
  }

  capacity(): Capacity {
    const node = this.deps.telemetry.current();
    const { vramMarginMB, memoryMarginMB } = this.deps.config;
    return { cpuCores: node.cpuCores, memoryTotalMB: node.memoryTotalMB, gpuTotalsMB: node.gpus.map((g) => g.totalMB), vramMarginMB, memoryMarginMB };
  }

  private mustGet(id: number): TaskRecord {
    const t = this.deps.store.getTask(id);
    if (!t) throw new ManagerError('NOT_FOUND', `no task with id ${id}; \`agentmgr list\` shows the tasks there are`);
    return t;
  }
}
