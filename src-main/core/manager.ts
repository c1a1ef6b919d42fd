import type { AgentEvent } from '../../contracts/agent-output.js';
import type { ResourceRequest } from '../../contracts/resources.js';
import type { TaskState, TaskSubmission } from '../../contracts/task.js';
import { ManagerError } from './errors.js';
import { classifyRun, type RunOutcome } from './lifecycle/attempt-end.js';
import { isTerminal } from './lifecycle/states.js';
import type { RunningUsage } from './model/node.js';
import { learnProfile, PROFILE, type LearnedProfile, type PeakSample } from './model/profile.js';
import type { NewTask, TaskRecord } from './model/task.js';
import type {
  AgentCatalog,
  AgentRunner,
  AgentSpec,
  Clock,
  EventSink,
  Logger,
  RunHandle,
  RunnerEvent,
  TaskStore,
  TelemetrySource,
  TimerHandle,
} from './ports.js';
import { backoffMs } from './scheduler/backoff.js';
import { explain, runCycle, type CycleResult } from './scheduler/cycle.js';
import { neverFits } from './scheduler/fit.js';
import { QueueIndex, type QueueEntry } from './scheduler/queue.js';
import { resolveRequest } from './scheduler/request.js';

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

/** Why the Manager cannot do its work right now, and since when. */
export interface Degraded {
  since: number;
  reason: string;
}

/** How often a degraded Manager tries its store again. */
const PROBE_MS = 2000;

/** A task that holds resources: being started, or running. */
interface ActiveRun extends RunningUsage {
  attempt: number;
  handle: RunHandle | null;
  startedAt: number;
  /** The most it was seen to use (null until measured). */
  peak: PeakSample;
  /** How it ended, kept until the end is recorded (the store may refuse the write for a while). */
  pendingEnd?: RunOutcome;
}

const noPeak = (): PeakSample => ({ vramMB: null, memoryMB: null, cpu: null });
const higher = (a: number | null, b: number | null | undefined): number | null => (b == null ? a : a === null ? b : Math.max(a, b));

const PAUSED_KEY = 'queue.paused';
const MAX_REASON_EVENTS = 200;

/**
 * The queue and the scheduling loop over the ports. Single-threaded: every method runs to
 * completion, and a scheduling cycle is coalesced onto the next turn of the clock, so a burst of
 * submissions or exits costs one cycle.
 */
export class Manager {
  private readonly queue = new QueueIndex();
  private readonly active = new Map<number, ActiveRun>();
  private lastCycle: CycleResult | null = null;
  private paused = false;
  private cycleTimer: TimerHandle | null = null;
  private wakeTimer: { at: number; handle: TimerHandle } | null = null;
  private readonly pendingProgress = new Map<number, { progress: number; message: string | null }>();
  private progressTimer: TimerHandle | null = null;
  private unsubscribe: (() => void) | null = null;
  private started = false;
  /** Set by stop(): runner reports that come later are left for the next Manager. */
  private stopped = false;
  private readonly profiles = new Map<string, LearnedProfile | null>();
  private readonly idleWaiters = new Set<() => void>();
  /** Set while the store cannot be written (a full disk, say): nothing new starts until it can. */
  private degradedState: Degraded | null = null;
  private probeTimer: TimerHandle | null = null;

  constructor(private readonly deps: ManagerDeps) {}

  get config(): Readonly<ManagerConfig> {
    return this.deps.config;
  }

  /** Loads the queue, re-adopts runs an earlier Manager left, and starts scheduling. */
  start(): void {
    const { store, runner } = this.deps;
    this.paused = store.getSetting<boolean>(PAUSED_KEY) ?? false;
    // The queue first: runs found ended below may be queued again, and must be added only once.
    this.queue.addAll(store.queuedEntries(), this.deps.clock.now());
    for (const { task, attempt } of store.active()) {
      const agent = this.deps.agents.get(task.agent);
      const usage: ActiveRun = {
        taskId: task.id,
        agent: task.agent,
        request: task.request,
        gpus: attempt.gpus,
        pgid: attempt.pgid,
        attempt: attempt.number,
        handle: null,
        startedAt: attempt.startedAt,
        peak: { vramMB: attempt.peakVramMB, memoryMB: attempt.peakMemoryMB, cpu: attempt.peakCpu },
      };
      this.active.set(task.id, usage);
      if (!agent) {
        // Its agent is gone: its fate cannot be known.
        this.finish(task.id, attempt.number, { exitCode: null, signal: null, timedOut: false, cancelled: false, unknown: true, startError: null });
        continue;
      }
      // Where the pid was never recorded (the Manager stopped between spawning and recording),
      // the runner finds the run by the marker it left, or proves it never started.
      const spec = {
        taskId: task.id,
        attempt: attempt.number,
        agent,
        input: task.input,
        gpus: attempt.gpus,
        deadline: task.timeoutSec !== null ? attempt.startedAt + task.timeoutSec * 1000 : null,
        pid: attempt.pid,
        pidStartTime: attempt.pidStartTime,
        pgid: attempt.pgid,
        logDir: attempt.logDir,
      };
      const adopted = runner.adopt(spec, (e) => this.guarded('runner event', () => this.onRunnerEvent(task.id, attempt.number, e)));
      if (adopted.alive) {
        usage.handle = adopted.handle;
        this.deps.logger.info('re-adopted a running agent', { task: task.id, attempt: attempt.number, pid: usage.pgid ?? attempt.pid });
        if (task.desired === 'cancel') adopted.handle.cancel();
      } else {
        const outcome = task.desired === 'cancel' ? { ...adopted.outcome, cancelled: true } : adopted.outcome;
        this.finish(task.id, attempt.number, outcome);
      }
    }
    this.unsubscribe = this.deps.telemetry.subscribe(() =>
      this.guarded('telemetry', () => {
        this.observe();
        this.requestCycle();
      }),
    );
    this.watchGroups();
    this.started = true;
    this.requestCycle();
  }

  /**
   * Stops scheduling. Running agents are left running (a later Manager re-adopts them) unless
   * `stopAgents` is set, in which case they are cancelled.
   */
  stop(opts: { stopAgents?: boolean } = {}): void {
    this.started = false;
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    const { clock } = this.deps;
    if (this.cycleTimer) clock.clearTimeout(this.cycleTimer);
    if (this.wakeTimer) clock.clearTimeout(this.wakeTimer.handle);
    if (this.probeTimer) clock.clearTimeout(this.probeTimer);
    this.probeTimer = null;
    this.cycleTimer = null;
    this.wakeTimer = null;
    this.flushProgress();
    for (const run of this.active.values()) {
      if (opts.stopAgents) run.handle?.cancel();
      else run.handle?.detach();
    }
  }

  /**
   * Cancels every running task and resolves once each has ended and been recorded (or after
   * `timeoutMs`): what quitting with "stop them" does before the store closes.
   */
  cancelAll(timeoutMs: number): Promise<void> {
    for (const run of this.active.values()) {
      this.deps.store.setDesired(run.taskId, 'cancel');
      run.handle?.cancel();
    }
    if (this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = this.deps.clock.setTimeout(() => {
        this.idleWaiters.delete(done);
        resolve();
      }, timeoutMs);
      const done = (): void => {
        this.deps.clock.clearTimeout(timer);
        resolve();
      };
      this.idleWaiters.add(done);
    });
  }

  // ---- commands -------------------------------------------------------------------------------

  /**
   * Validates every submission, then stores them all in one transaction. Nothing is stored when
   * any is refused; the error names the index of the first bad one.
   */
  submit(submissions: readonly TaskSubmission[]): TaskRecord[] {
    const now = this.deps.clock.now();
    const capacity = this.capacity();
    const rows: NewTask[] = submissions.map((s, index) => {
      const where = submissions.length > 1 ? ` (task ${index + 1} of ${submissions.length})` : '';
      const agent = this.deps.agents.get(s.agent);
      if (!agent) {
        const known = this.deps.agents.list().map((a) => a.name).join(', ') || 'none';
        throw new ManagerError('UNKNOWN_AGENT', `unknown agent "${s.agent}"${where}; known agents: ${known}`, index);
      }
      const input = s.input ?? {};
      const inputProblem = this.deps.agents.validateInput(agent, input);
      if (inputProblem) throw new ManagerError('INVALID_INPUT', `input for agent ${agent.name} is invalid${where}: ${inputProblem}`, index);
      const resolved = resolveRequest(agent.resources, s.resources, { mapping: agent.resourceInputs, input });
      const learned = resolved.pinned ? null : this.profile(agent.name);
      const { request, pinned } = learned ? { request: learned.request, pinned: false } : resolved;
      const impossible = neverFits(request, capacity);
      if (impossible) throw new ManagerError('UNSATISFIABLE', `task can never run on this machine${where}: it ${impossible}`, index);
      return {
        agent: agent.name,
        name: s.name ?? null,
        priority: s.priority ?? 0,
        input,
        request,
        requestPinned: pinned,
        maxAttempts: s.maxAttempts ?? agent.retry.maxAttempts,
        backoffSec: agent.retry.backoffSec,
        timeoutSec: s.timeoutSec ?? agent.timeoutSec,
        createdAt: now,
      };
    });
    const stored = this.deps.store.insertTasks(rows);
    this.queue.addAll(stored.map((t) => toEntry(t, now)), now);
    for (const t of stored) this.deps.events.emit({ type: 'task', task: t });
    this.requestCycle();
    return stored;
  }

  cancel(id: number): TaskRecord {
    const { store, clock } = this.deps;
    const task = this.mustGet(id);
    if (isTerminal(task.state)) throw new ManagerError('INVALID_STATE', `task ${id} has already ended (${task.state}); nothing to cancel`);
    if (task.state === 'queued') {
      if (store.cancelQueued(id, clock.now())) {
        this.queue.remove(toEntry(task, 0));
        store.addEvent(id, null, 'cancelled', { while: 'queued' }, clock.now());
        return this.changed(id);
      }
      return this.cancel(id); // it moved on meanwhile: cancel it where it is now
    }
    store.setDesired(id, 'cancel');
    this.active.get(id)?.handle?.cancel();
    return this.changed(id);
  }

  retry(id: number): TaskRecord {
    const { store, clock } = this.deps;
    const task = this.mustGet(id);
    if (!isTerminal(task.state)) throw new ManagerError('INVALID_STATE', `task ${id} is ${task.state}; only a task that has ended can be retried`);
    if (!store.requeue(id, task.state, clock.now())) throw new ManagerError('INVALID_STATE', `task ${id} changed state meanwhile; try again`);
    const t = this.changed(id);
    this.queue.add(toEntry(t, clock.now()), clock.now());
    this.requestCycle();
    return t;
  }

  setPriority(id: number, priority: number): TaskRecord {
    const task = this.mustGet(id);
    if (!this.deps.store.setPriority(id, priority)) {
      throw new ManagerError('INVALID_STATE', `task ${id} is ${task.state}; the priority can only change while it is queued`);
    }
    const old = this.queue.remove(toEntry(task, 0));
    const t = this.changed(id);
    const now = this.deps.clock.now();
    this.queue.add(toEntry(t, old?.since ?? now), now);
    this.requestCycle();
    return t;
  }

  setPaused(paused: boolean): void {
    // Memory changes only once the write has committed: a refused write leaves both as they were.
    this.deps.store.setSetting(PAUSED_KEY, paused);
    this.paused = paused;
    this.deps.events.emit({ type: 'queue', paused });
    this.requestCycle();
  }

  updateConfig(patch: Partial<ManagerConfig>): void {
    Object.assign(this.deps.config, patch);
    this.requestCycle();
  }

  // ---- queries --------------------------------------------------------------------------------

  isPaused(): boolean {
    return this.paused;
  }

  /** Null while all is well; else why nothing new starts (the store cannot be written), since when. */
  degraded(): Degraded | null {
    return this.degradedState;
  }

  /** What a running task has been seen to use at most so far (null when it is not running). */
  livePeak(id: number): PeakSample | null {
    return this.active.get(id)?.peak ?? null;
  }

  /** Why a queued task waits, in words; null if nothing holds it back (it starts next cycle). */
  waitingReason(task: Pick<TaskRecord, 'state' | 'agent' | 'request' | 'notBefore'>): string | null {
    if (task.state !== 'queued') return null;
    return explain(this.lastCycle, task, this.deps.clock.now());
  }

  /** The task the last scheduling cycle kept resources for (see reservation.ts); null if none. */
  keptFor(): number | null {
    return this.lastCycle?.keptFor ?? null;
  }

  queueLength(): number {
    return this.queue.size;
  }

  /**
   * What the agent's recent successful attempts really used, and the request new tasks of it get
   * (unless they set their own); null until enough attempts were measured.
   */
  profile(agent: string): LearnedProfile | null {
    if (!this.profiles.has(agent)) {
      const spec = this.deps.agents.get(agent);
      this.profiles.set(agent, spec ? learnProfile(spec.resources, this.deps.store.recentPeaks(agent, PROFILE.window)) : null);
    }
    return this.profiles.get(agent) ?? null;
  }

  running(): readonly RunningUsage[] {
    return this.runningNow(this.deps.clock.now());
  }

  /** Our tasks holding resources, each marked settling or not as of `now`. */
  private runningNow(now: number): RunningUsage[] {
    const out: RunningUsage[] = [];
    for (const r of this.active.values()) {
      r.settling = now - r.startedAt < this.deps.config.settleMs;
      out.push(r);
    }
    return out;
  }

  capacity() {
    const node = this.deps.telemetry.current();
    const { vramMarginMB, memoryMarginMB } = this.deps.config;
    return {
      cpuCores: node.cpuCores,
      memoryTotalMB: node.memoryTotalMB,
      gpuTotalsMB: node.gpus.map((g) => g.totalMB),
      vramMarginMB,
      memoryMarginMB,
    };
  }

  // ---- scheduling -----------------------------------------------------------------------------

  /** Coalesces cycle requests onto one turn of the clock. */
  requestCycle(): void {
    if (!this.started || this.cycleTimer) return;
    this.cycleTimer = this.deps.clock.setTimeout(() => {
      this.cycleTimer = null;
      this.guarded('scheduling', () => this.cycle());
    }, 0);
  }

  private cycle(): void {
    if (!this.started || this.degradedState) return;
    const { clock, config, telemetry, agents } = this.deps;
    const now = clock.now();
    const result = runCycle({
      now,
      paused: this.paused,
      maxConcurrency: config.maxConcurrency,
      reserveAfterMs: config.reserveAfterMs,
      vramMarginMB: config.vramMarginMB,
      memoryMarginMB: config.memoryMarginMB,
      agentLimit: (name) => agents.get(name)?.concurrency ?? null,
      queue: this.queue,
      node: telemetry.current(),
      running: this.runningNow(now),
    });
    const before = this.lastCycle;
    this.lastCycle = result;
    this.announceReasons(before, result);
    for (const p of result.starts) {
      this.queue.remove(p.entry);
      try {
        this.launch(p.taskId, p.gpus);
      } catch (e) {
        // Not started (the store refused the write): it stays queued, in the store and here.
        this.queue.add(p.entry, now);
        throw e;
      }
    }
    this.armWake(result.wakeAt);
  }

  /**
   * Tells subscribers about tasks whose waiting reason changed, so a waiting task's view is live.
   * Past a bound the views are not sent one by one (a client pages the queue instead).
   */
  private announceReasons(before: CycleResult | null, after: CycleResult): void {
    if (before && before.paused !== after.paused) return; // a pause is announced as a queue event
    const changed: number[] = [];
    for (const [key, reason] of after.reasons) {
      if (before?.reasons.get(key) === reason) continue;
      for (const e of this.queue.bucket(key)?.entries ?? []) {
        changed.push(e.id);
        if (changed.length > MAX_REASON_EVENTS) return;
      }
    }
    for (const id of changed) {
      const t = this.deps.store.getTask(id);
      if (t) this.deps.events.emit({ type: 'task', task: t });
    }
  }

  private armWake(at: number | null): void {
    const { clock } = this.deps;
    if (this.wakeTimer && (at === null || this.wakeTimer.at !== at)) {
      clock.clearTimeout(this.wakeTimer.handle);
      this.wakeTimer = null;
    }
    if (at === null || this.wakeTimer) return;
    const handle = clock.setTimeout(() => {
      this.wakeTimer = null;
      this.requestCycle();
    }, Math.max(0, at - clock.now()));
    this.wakeTimer = { at, handle };
  }

  private launch(taskId: number, gpus: number[]): void {
    const { store, clock, runner, agents } = this.deps;
    const task = store.getTask(taskId);
    if (!task || task.state !== 'queued') return;
    const agent = agents.get(task.agent);
    if (!agent) {
      this.failWithoutAttempt(task, `agent "${task.agent}" is no longer installed`);
      return;
    }
    const now = clock.now();
    if (!store.beginAttempt(taskId, task.attempts, now, gpus)) return;
    const attempt = task.attempts + 1;
    const run: ActiveRun = { taskId, agent: task.agent, request: task.request, gpus, pgid: null, attempt, handle: null, startedAt: now, peak: noPeak() };
    this.active.set(taskId, run);
    this.changed(taskId);
    const deadline = task.timeoutSec !== null ? now + task.timeoutSec * 1000 : null;
    run.handle = runner.start(
      { taskId, attempt, agent: agent as AgentSpec, input: task.input, gpus, deadline },
      (e) => this.guarded('runner event', () => this.onRunnerEvent(taskId, attempt, e)),
    );
  }

  /** A task whose agent vanished between submit and start: it cannot run, and says why. */
  private failWithoutAttempt(task: TaskRecord, reason: string): void {
    const { store, clock } = this.deps;
    const now = clock.now();
    if (!store.beginAttempt(task.id, task.attempts, now, [])) return;
    this.queue.remove(toEntry(task, 0));
    store.endAttempt(
      task.id,
      task.attempts + 1,
      { outcome: 'failed', reason, exitCode: null, signal: null, endedAt: now },
      { state: 'failed', notBefore: null, error: reason, finishedAt: now },
    );
    this.changed(task.id);
  }

  private onRunnerEvent(taskId: number, attempt: number, e: RunnerEvent): void {
    const { store, clock, events } = this.deps;
    const run = this.active.get(taskId);
    if (!run || run.attempt !== attempt) return; // a stale report from an attempt that has ended
    // After stop() the store may be closed: the next Manager finishes this attempt on adoption.
    if (this.stopped) return;
    switch (e.type) {
      case 'spawned':
        run.pgid = e.pgid;
        store.markSpawned(taskId, attempt, e);
        this.watchGroups();
        this.changed(taskId);
        return;
      case 'progress':
        this.bufferProgress(taskId, e);
        return;
      case 'result':
        // A result read again after a crash (the end of an attempt replayed) is not recorded twice.
        if (store.setResult(taskId, attempt, e.data)) {
          store.addEvent(taskId, attempt, 'result', null, clock.now());
          this.changed(taskId);
        }
        return;
      case 'artifact':
        store.addArtifact({ taskId, attempt, name: e.name, path: e.path, sizeBytes: e.sizeBytes, createdAt: clock.now() });
        this.changed(taskId);
        return;
      case 'log':
        events.emit({ type: 'log', taskId, attempt, text: e.text });
        return;
      case 'exit':
        // Kept first: if the store refuses the write, the end is recorded once it can be.
        run.pendingEnd = e.outcome;
        this.finish(taskId, attempt, e.outcome);
        return;
    }
  }

  private bufferProgress(taskId: number, e: Extract<AgentEvent, { type: 'progress' }>): void {
    this.pendingProgress.set(taskId, { progress: e.progress, message: e.message ?? null });
    if (this.progressTimer) return;
    this.progressTimer = this.deps.clock.setTimeout(() => {
      this.progressTimer = null;
      this.guarded('progress', () => this.flushProgress());
    }, this.deps.config.progressFlushMs);
  }

  private flushProgress(only?: number): void {
    const { store, clock } = this.deps;
    for (const [id, p] of this.pendingProgress) {
      if (only !== undefined && id !== only) continue;
      store.setProgress(id, p.progress, p.message, clock.now());
      this.pendingProgress.delete(id);
      if (only === undefined) this.changed(id);
    }
  }

  /** Ends an attempt exactly once and moves the task on: retry after a backoff, or its end. */
  private finish(taskId: number, attempt: number, outcome: RunOutcome): void {
    const { store, clock } = this.deps;
    this.flushProgress(taskId);
    const task = store.getTask(taskId);
    const run = this.active.get(taskId);
    if (!task || !run || run.attempt !== attempt) return;
    const cancelled = outcome.cancelled || task.desired === 'cancel';
    const end = classifyRun({ ...outcome, cancelled });
    const now = clock.now();
    let next: TaskState = end.outcome;
    let notBefore: number | null = null;
    let request: ResourceRequest | undefined;
    // An attempt that provably never ran does not count against the task's attempts.
    const maxAttempts = outcome.notStarted ? task.maxAttempts + 1 : task.maxAttempts;
    if (end.retryable && task.attempts < maxAttempts) {
      next = 'queued';
      notBefore = now + backoffMs(task.backoffSec, attempt, clock.random());
      if (outcome.oom) request = this.raisedAfterOom(task.request, run.peak, outcome.oom);
    }
    const ended = store.endAttempt(
      taskId,
      attempt,
      {
        outcome: end.outcome,
        reason: end.reason,
        exitCode: outcome.exitCode,
        signal: outcome.signal,
        endedAt: now,
        peakVramMB: run.peak.vramMB,
        peakMemoryMB: run.peak.memoryMB,
        peakCpu: run.peak.cpu,
      },
      {
        state: next,
        notBefore,
        error: next === 'succeeded' || next === 'queued' ? null : `attempt ${attempt}: ${end.reason}`,
        finishedAt: isTerminal(next) ? now : null,
        ...(next === 'succeeded' ? { progress: 1 } : {}),
        ...(request ? { request } : {}),
        ...(maxAttempts !== task.maxAttempts ? { maxAttempts } : {}),
      },
    );
    this.active.delete(taskId);
    if (this.active.size === 0) {
      for (const w of this.idleWaiters) w();
      this.idleWaiters.clear();
    }
    this.watchGroups();
    if (end.outcome === 'succeeded') this.profiles.delete(task.agent);
    if (!ended) {
      this.deps.logger.warn('attempt had already ended', { task: taskId, attempt });
      return;
    }
    const t = this.changed(taskId);
    // A retry waits from when its backoff ends.
    if (next === 'queued') this.queue.add(toEntry(t, t.notBefore ?? now), now);
    this.requestCycle();
  }

  /** Folds the latest telemetry into each running task's measured use and peaks. */
  private observe(): void {
    const node = this.deps.telemetry.current();
    for (const run of this.active.values()) {
      if (run.pgid === null) continue;
      let vram: number | null = null;
      for (const g of node.gpus) {
        for (const p of g.processes ?? []) if (p.pgid === run.pgid && p.usedMB !== null) vram = (vram ?? 0) + p.usedMB;
      }
      const group = node.groups?.get(run.pgid);
      run.measuredMemoryMB = group?.rssMB ?? null;
      run.peak = {
        vramMB: higher(run.peak.vramMB, vram),
        memoryMB: higher(run.peak.memoryMB, group?.rssMB),
        cpu: higher(run.peak.cpu, group?.cpuCores),
      };
    }
  }

  private watchGroups(): void {
    this.deps.telemetry.watch([...this.active.values()].map((r) => r.pgid).filter((p): p is number => p !== null));
  }

  /**
   * After an out-of-memory, the next attempt asks for what this one was seen to reach, with
   * headroom, so it waits until that much is really free. Capped at what the machine can give.
   */
  private raisedAfterOom(request: ResourceRequest, peak: PeakSample, kind: 'gpu' | 'host'): ResourceRequest | undefined {
    const cap = this.capacity();
    if (kind === 'gpu' && request.gpu && peak.vramMB !== null) {
      const usable = Math.max(0, ...cap.gpuTotalsMB) - cap.vramMarginMB;
      const want = Math.min(usable, Math.ceil(Math.max(request.gpu.vramMB, peak.vramMB * PROFILE.vram.factor + PROFILE.vram.plusMB)));
      return want > request.gpu.vramMB ? { ...request, gpu: { ...request.gpu, vramMB: want } } : undefined;
    }
    if (kind === 'host' && peak.memoryMB !== null) {
      const usable = cap.memoryTotalMB - cap.memoryMarginMB;
      const want = Math.min(usable, Math.ceil(Math.max(request.memoryMB, peak.memoryMB * PROFILE.memory.factor + PROFILE.memory.plusMB)));
      return want > request.memoryMB ? { ...request, memoryMB: want } : undefined;
    }
    return undefined;
  }

  // ---- degraded mode --------------------------------------------------------------------------

  /**
   * Runs the work of a timer or an event handler. A store error there (SQLITE_FULL on a full
   * disk, a read-only file) must not throw out of the timer and end the process: the Manager goes
   * degraded instead. It stops starting tasks, keeps watching the running ones (their ends are
   * kept until they can be written), says why in health and status, and tries the store again
   * every PROBE_MS until it can write, then carries on.
   */
  private guarded(what: string, work: () => void): void {
    try {
      work();
    } catch (e) {
      // Only the store's own errors mean "cannot write"; anything else is a bug, said as one.
      if (isStoreError(e)) this.degrade(what, e);
      else this.deps.logger.error(`internal error during ${what}`, { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  }

  private degrade(what: string, e: unknown): void {
    const { clock, logger, events } = this.deps;
    const message = e instanceof Error ? e.message : String(e);
    const code = (e as { code?: unknown }).code;
    const reason = code === 'SQLITE_FULL' ? `the disk is full: the task database cannot be written (${message}); free some space and the Manager carries on by itself` : `the task database cannot be written (${message}); the Manager retries every ${PROBE_MS / 1000} s`;
    if (!this.degradedState) {
      this.degradedState = { since: clock.now(), reason };
      logger.error('degraded: not starting tasks until the store can be written', { during: what, error: message });
      events.emit({ type: 'health', degraded: this.degradedState });
    }
    if (!this.probeTimer && !this.stopped) this.probeTimer = clock.setTimeout(() => this.probe(), PROBE_MS);
  }

  private probe(): void {
    this.probeTimer = null;
    if (this.stopped) return;
    try {
      this.deps.store.setSetting('health.probe', this.deps.clock.now());
    } catch (e) {
      this.degrade('probe', e);
      return;
    }
    this.degradedState = null;
    this.deps.logger.info('the store can be written again: carrying on');
    this.deps.events.emit({ type: 'health', degraded: null });
    // Ends that could not be recorded are recorded now.
    for (const run of [...this.active.values()]) {
      if (run.pendingEnd) this.guarded('recording a pending end', () => this.finish(run.taskId, run.attempt, run.pendingEnd!));
    }
    if (this.pendingProgress.size > 0) this.guarded('progress', () => this.flushProgress());
    this.requestCycle();
  }

  private mustGet(id: number): TaskRecord {
    const t = this.deps.store.getTask(id);
    if (!t) throw new ManagerError('NOT_FOUND', `no task with id ${id}; \`agentmgr list\` shows the tasks there are`);
    return t;
  }

  private changed(id: number): TaskRecord {
    const t = this.mustGet(id);
    this.deps.events.emit({ type: 'task', task: t });
    return t;
  }
}

/** An error of the store itself (better-sqlite3's SqliteError codes all start with SQLITE_). */
function isStoreError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_');
}

/** `since`: when it began waiting to start (it only matters while it is queued). */
function toEntry(t: Pick<TaskRecord, 'id' | 'agent' | 'request' | 'notBefore' | 'priority'>, since: number): QueueEntry {
  return { id: t.id, agent: t.agent, request: t.request, notBefore: t.notBefore, priority: t.priority, since };
}
