import type { PreemptPlan } from '../scheduler/preempt.js';
import { SET_SLURM } from '../admission/admit.js';
import type { AgentEvent } from '../../../contracts/agent-output.js';
import type { ResidentKind } from '../../../contracts/residents.js';
import type { Health } from '../health.js';
import type { RunOutcome } from '../lifecycle/attempt-end.js';
import { nextStep } from '../lifecycle/next-step.js';
import { checkTransition } from '../lifecycle/transitions.js';
import { noPeak, type ActiveRun, type Ledger } from '../ledger/ledger.js';
import type { TaskRecord } from '../model/task.js';
import type { AgentCatalog, AgentRunner, AgentSpec, Clock, EventSink, Logger, RunnerEvent, TaskStore, TelemetrySource, TimerHandle } from '../ports.js';
import type { Publisher } from '../publisher.js';
import type { Capacity } from '../scheduler/fit.js';

/** Why a slurm task cannot start where the cluster is no longer set up. */
export const NO_SLURM = `it is for the Slurm cluster, and none is set up: ${SET_SLURM}; then retry it`;

/** What the scheduling loop hands the supervisor, so it can say when a slot frees up. */
export interface Slots {
  /** A run ended (or never began): resources may be free for the next task. */
  freed(): void;
  /** A task went back to the queue (a retry after its backoff). */
  requeued(task: TaskRecord): void;
  /** A task that was about to start cannot: take it out of the queue. */
  dropped(task: TaskRecord): void;
}

export interface SupervisorDeps {
  store: TaskStore;
  runner: AgentRunner;
  /** Where backend slurm tasks run; absent: no cluster is set up. */
  slurm?: AgentRunner;
  agents: AgentCatalog;
  telemetry: TelemetrySource;
  clock: Clock;
  events: EventSink;
  logger: Logger;
  ledger: Ledger;
  publisher: Publisher;
  health: Health;
  capacity: () => Capacity;
  /** Progress updates are written at most this often per task. */
  progressFlushMs: () => number;
  /** An attempt of this agent succeeded: what was learned about it is out of date. */
  succeeded: (agent: string) => void;
  /** The configured URL of a resident server, for an agent that drives it; null when that integration is off. */
  residentUrl?: (kind: ResidentKind) => string | null;
}

/**
 * Starts runs, listens to them, and ends each attempt exactly once. Runner reports are folded
 * into the store (progress throttled), the ledger and the subscribers; an end goes through
 * lifecycle/next-step.ts, and a freed slot is reported to the loop.
 */
export class Supervisor {
  private readonly pendingProgress = new Map<number, { progress: number; message: string | null }>();
  private progressTimer: TimerHandle | null = null;
  private readonly idleWaiters = new Set<() => void>();
  private slots: Slots = { freed: () => {}, requeued: () => {}, dropped: () => {} };
  /** Set by stop(): runner reports that come later are left for the next Manager. */
  private stopped = false;
  /** Why each task being preempted is (for its attempt's reason); lost on a restart, then said in general. */
  private readonly preemptedFor = new Map<number, string>();

  constructor(private readonly deps: SupervisorDeps) {}

  connect(slots: Slots): void {
    this.slots = slots;
  }

  /** The runner's listener for one attempt: stale and late reports are dropped. */
  listener(taskId: number, attempt: number): (e: RunnerEvent) => void {
    return (e) => this.deps.health.guarded('runner event', () => this.onRunnerEvent(taskId, attempt, e));
  }

  /** Starts a queued task on the given GPUs (the loop's bind). */
  launch(taskId: number, gpus: number[]): void {
    const { store, clock, agents, ledger, publisher } = this.deps;
    const task = store.getTask(taskId);
    if (!task || task.state !== 'queued') return;
    const agent = agents.get(task.agent);
    if (!agent) {
      this.failWithoutAttempt(task, `agent "${task.agent}" is no longer installed`);
      return;
    }
    const runner = this.runnerFor(task);
    if (!runner) {
      this.failWithoutAttempt(task, NO_SLURM);
      return;
    }
    const now = clock.now();
    checkTransition(taskId, task.state, 'starting');
    const begun = store.beginAttempt(taskId, task.attempts, now, gpus);
    if (!begun) return;
    const attempt = begun.attempts;
    const array = task.throttle !== null ? task.arrayId : null;
    const run: ActiveRun = {
      taskId,
      agent: task.agent,
      project: task.project,
      priority: task.priority,
      preemptible: task.preemptible,
      request: task.request,
      gpus,
      array,
      pgid: null,
      attempt,
      handle: null,
      startedAt: now,
      peak: noPeak(),
      drives: agent.resident?.kind ?? null,
      remote: task.backend === 'slurm',
    };
    ledger.add(run);
    publisher.begun(begun);
    const timeoutMs = task.timeoutSec !== null ? task.timeoutSec * 1000 : null;
    const arraySpec = task.arrayId !== null && task.arrayIndex !== null ? { id: task.arrayId, index: task.arrayIndex } : null;
    run.handle = runner.start(
      {
        taskId,
        attempt,
        agent: agent as AgentSpec,
        input: task.input,
        gpus,
        timeoutMs,
        array: arraySpec,
        preemptible: task.preemptible,
        residentUrl: agent.resident ? (this.deps.residentUrl?.(agent.resident.kind) ?? null) : null,
        request: task.request,
      },
      this.listener(taskId, attempt),
    );
    publisher.resources();
  }

  /** The executor of a task's backend; null for slurm when no cluster is set up. */
  runnerFor(task: Pick<TaskRecord, 'backend'>): AgentRunner | null {
    return task.backend === 'slurm' ? (this.deps.slurm ?? null) : this.deps.runner;
  }

  /** A task whose agent vanished between submit and start: it cannot run, and says why. */
  private failWithoutAttempt(task: TaskRecord, reason: string): void {
    const { store, clock, publisher } = this.deps;
    const now = clock.now();
    checkTransition(task.id, task.state, 'starting');
    if (!store.beginAttempt(task.id, task.attempts, now, [])) return;
    this.slots.dropped(task);
    checkTransition(task.id, 'starting', 'failed');
    const t = store.endAttempt(
      task.id,
      task.attempts + 1,
      { outcome: 'failed', reason, exitCode: null, signal: null, endedAt: now },
      { state: 'failed', notBefore: null, error: reason, finishedAt: now },
    );
    if (t) publisher.moved(t);
  }

  private onRunnerEvent(taskId: number, attempt: number, e: RunnerEvent): void {
    const { store, clock, events, publisher, ledger, telemetry } = this.deps;
    const run = ledger.get(taskId);
    if (!run || run.attempt !== attempt) return; // a stale report from an attempt that has ended
    // After stop() the store may be closed: the next Manager finishes this attempt on adoption.
    if (this.stopped) return;
    switch (e.type) {
      case 'spawned': {
        run.pgid = e.pgid;
        // The guarded write only ever moves starting -> running (a running task is left as it is).
        checkTransition(taskId, 'starting', 'running');
        const t = store.markSpawned(taskId, attempt, e);
        telemetry.watch(ledger.watchList());
        if (t) publisher.task(t);
        return;
      }
      case 'progress':
        this.bufferProgress(taskId, e);
        return;
      case 'result':
        // A result read again after a crash (the end of an attempt replayed) is not recorded twice.
        if (store.setResult(taskId, attempt, e.data)) {
          store.addEvent(taskId, attempt, 'result', null, clock.now());
          this.republish(taskId);
        }
        return;
      case 'artifact':
        store.addArtifact({ taskId, attempt, name: e.name, path: e.path, sizeBytes: e.sizeBytes, createdAt: clock.now() });
        this.republish(taskId);
        return;
      case 'log':
        events.emit({ type: 'log', taskId, attempt, text: e.text });
        return;
      case 'placement':
        if (store.setPlacement(taskId, attempt, e.where)) this.republish(taskId);
        return;
      case 'exit':
        // Kept first: if the store refuses the write, the end is recorded once it can be.
        run.pendingEnd = e.outcome;
        this.finish(taskId, attempt, e.outcome);
        return;
    }
  }

  private republish(taskId: number): void {
    const t = this.deps.store.getTask(taskId);
    if (t) this.deps.publisher.task(t);
  }

  private bufferProgress(taskId: number, e: Extract<AgentEvent, { type: 'progress' }>): void {
    this.pendingProgress.set(taskId, { progress: e.progress, message: e.message ?? null });
    if (this.progressTimer) return;
    this.progressTimer = this.deps.clock.setTimeout(() => {
      this.progressTimer = null;
      this.deps.health.guarded('progress', () => this.flushProgress());
    }, this.deps.progressFlushMs());
  }

  /** Writes buffered progress (of one task, or all: then each change is published). */
  flushProgress(only?: number): void {
    const { store, clock, publisher } = this.deps;
    for (const [id, p] of this.pendingProgress) {
      if (only !== undefined && id !== only) continue;
      const t = store.setProgress(id, p.progress, p.message, clock.now());
      this.pendingProgress.delete(id);
      if (only === undefined && t) publisher.task(t);
    }
  }

  /** Ends an attempt exactly once and moves the task on: retry after a backoff, or its end. */
  finish(taskId: number, attempt: number, outcome: RunOutcome): void {
    const { store, clock, ledger, publisher, telemetry, logger } = this.deps;
    this.flushProgress(taskId);
    const task = store.getTask(taskId);
    const run = ledger.get(taskId);
    if (!task || !run || run.attempt !== attempt) return;
    const { end, next } = nextStep({
      task,
      attempt,
      outcome,
      peak: run.peak,
      capacity: this.deps.capacity(),
      now: clock.now(),
      random: clock.random(),
      preemptedFor: this.preemptedFor.get(taskId),
    });
    this.preemptedFor.delete(taskId);
    checkTransition(taskId, task.state, next.state);
    const ended = store.endAttempt(taskId, attempt, end, next);
    ledger.delete(taskId);
    if (ledger.size === 0) {
      for (const w of this.idleWaiters) w();
      this.idleWaiters.clear();
    }
    telemetry.watch(ledger.watchList());
    if (end.outcome === 'succeeded') this.deps.succeeded(task.agent);
    publisher.resources();
    if (!ended) {
      logger.warn('attempt had already ended', { task: taskId, attempt });
      return;
    }
    publisher.moved(ended);
    if (ended.state === 'queued') this.slots.requeued(ended);
    this.slots.freed();
  }

  /**
   * Preempts a running task for a higher-priority one: marked first (so its end, even after a
   * restart, is read as a preemption), an event on both tasks, then SIGTERM with the agent's
   * preemptGraceSec to checkpoint before SIGKILL. Its memory counts until its process group is gone.
   */
  preempt(taskId: number, plan: PreemptPlan): void {
    const why = `for task ${plan.forTask} (priority ${plan.priority}; this one has ${this.deps.store.getTask(taskId)?.priority ?? 0})`;
    if (!this.stopToRequeue(taskId, why, { by: plan.forTask, priority: plan.priority, with: plan.victims })) return;
    this.deps.store.addEvent(
      plan.forTask,
      null,
      'preempting',
      { victim: taskId, attempt: this.deps.ledger.get(taskId)?.attempt ?? null },
      this.deps.clock.now(),
    );
    this.deps.logger.info('preempted a task', { task: taskId, for: plan.forTask });
  }

  /**
   * Stops a preemptible run so that it is queued again (its attempt ends as preempted, not
   * failed), with its agent's grace to checkpoint: what `pause --free-vram` does to GPU tasks.
   * Returns whether it was stopped.
   */
  yieldRun(taskId: number, why: string): boolean {
    const done = this.stopToRequeue(taskId, why, { by: null, reason: why });
    if (done) this.deps.logger.info('requeued a task to free the GPU', { task: taskId, why });
    return done;
  }

  private stopToRequeue(taskId: number, why: string, data: Record<string, unknown>): boolean {
    const { store, clock, publisher, agents, ledger } = this.deps;
    const run = ledger.get(taskId);
    const task = store.getTask(taskId);
    if (!run?.handle || !task || task.desired !== 'run' || !task.preemptible) return false;
    const t = store.setDesired(taskId, 'preempt');
    store.addEvent(taskId, run.attempt, 'preempted', data, clock.now());
    this.preemptedFor.set(taskId, why);
    const graceSec = agents.get(task.agent)?.preemptGraceSec ?? 30;
    run.handle.cancel({ graceMs: graceSec * 1000, note: `preempted ${why}` });
    if (t) publisher.task(t);
    return true;
  }

  /** Ends that could not be recorded (the store refused) are recorded now. */
  recordPending(): void {
    for (const run of this.deps.ledger.all()) {
      if (run.pendingEnd) this.deps.health.guarded('recording a pending end', () => this.finish(run.taskId, run.attempt, run.pendingEnd!));
    }
    if (this.pendingProgress.size > 0) this.deps.health.guarded('progress', () => this.flushProgress());
  }

  /**
   * Cancels every active run (desired cancel first, so each end reads as cancelled) and resolves
   * once each has ended and been recorded, or after `timeoutMs`: what quitting with "stop them"
   * does before the store closes.
   */
  cancelAll(timeoutMs: number): Promise<void> {
    const { ledger, store, clock } = this.deps;
    for (const run of ledger.all()) {
      store.setDesired(run.taskId, 'cancel');
      run.handle?.cancel();
    }
    return new Promise((resolve) => {
      if (ledger.size === 0) return resolve();
      const timer = clock.setTimeout(() => {
        this.idleWaiters.delete(done);
        resolve();
      }, timeoutMs);
      const done = (): void => {
        clock.clearTimeout(timer);
        resolve();
      };
      this.idleWaiters.add(done);
    });
  }

  /** Stops listening. Runs are left running (re-adopted later) unless `stopAgents`. */
  stop(stopAgents: boolean): void {
    this.stopped = true;
    if (this.progressTimer) this.deps.clock.clearTimeout(this.progressTimer);
    this.progressTimer = null;
    this.flushProgress();
    for (const run of this.deps.ledger.all()) {
      if (stopAgents) run.handle?.cancel();
      else run.handle?.detach();
    }
  }
}
