import type { Projects } from '../projects/projects.js';
import type { PreemptPlan } from './preempt.js';
import type { ResidentKind } from '../../../contracts/residents.js';
import { askMB, type FreePlan, type ResidentState, type UnloadAsk } from '../residents/ladder.js';
import type { IdleGate, PersonHold } from '../person/yield.js';
import type { Health } from '../health.js';
import type { Ledger } from '../ledger/ledger.js';
import type { TaskRecord } from '../model/task.js';
import type { AgentCatalog, Clock, TaskStore, TelemetrySource, TimerHandle } from '../ports.js';
import type { Publisher } from '../publisher.js';
import type { Slots } from '../runs/supervisor.js';
import { explain, runCycle, type CycleInput, type CycleResult } from './cycle.js';
import { describeStatus } from './describe.js';
import { QueueIndex, type QueueEntry } from './queue.js';
import { waitAt, type Status } from './status.js';

export interface LoopConfig {
  maxConcurrency: number;
  vramMarginMB: number;
  memoryMarginMB: number;
  reserveAfterMs: number | null;
  /** Preempt lower-priority preemptible tasks for a waiting one (default true). */
  preemption?: boolean;
  /** A task is never preempted before it has run this long (default 60 s). */
  preemptMinRunMs?: number;
  /** A resident under `when-idle` is unloaded only after this long without activity (default 60 s). */
  residentIdleMs?: number;
  /** An unload that telemetry has not shown done by then is given up on, and that resident not asked again for a while (default 30 s). */
  residentUnloadTimeoutMs?: number;
}

export const DEFAULT_RESIDENT_IDLE_MS = 60_000;
export const DEFAULT_RESIDENT_UNLOAD_TIMEOUT_MS = 30_000;
/** A resident whose unload did not free in time is not asked again for this long. */
const RESIDENT_COOLDOWN_MS = 5 * 60_000;

export interface LoopDeps {
  store: TaskStore;
  telemetry: TelemetrySource;
  agents: AgentCatalog;
  clock: Clock;
  ledger: Ledger;
  publisher: Publisher;
  health: Health;
  config: Readonly<LoopConfig>;
  /** Binds a placement: starts the task on those GPUs (the supervisor's launch). */
  bind: (taskId: number, gpus: number[]) => void;
  /** Whether the queue is paused (read at each cycle). */
  paused: () => boolean;
  /** Projects' weights, quotas and usage (fair share); absent: one project, no quotas. */
  projects?: Projects;
  /** Stops a running task to make room for a higher-priority one (the supervisor's preempt). */
  preempt?: (victim: number, plan: PreemptPlan) => void;
  /** The residents (AI servers beside us) and how to ask one to unload; absent: none. */
  residents?: { list(): ResidentState[]; unload(ask: UnloadAsk, plan: FreePlan): void };
  /** What the GPU is yielded to now (game mode, focus mode); absent: nothing. */
  person?: () => PersonHold | null;
  /** Idle-only work's gate now; absent or null: the person counts as away. */
  idle?: () => IdleGate | null;
}

/** The settings one cycle runs with (the scheduling loop's, and the estimates' simulation of it). */
export function cycleSettings(config: Readonly<LoopConfig>, agents: Pick<AgentCatalog, 'get'>, paused: boolean) {
  return {
    paused,
    maxConcurrency: config.maxConcurrency,
    reserveAfterMs: config.reserveAfterMs,
    vramMarginMB: config.vramMarginMB,
    memoryMarginMB: config.memoryMarginMB,
    agentLimit: (name: string) => agents.get(name)?.concurrency ?? null,
    drives: (name: string) => agents.get(name)?.resident?.kind ?? null,
  };
}

/** What a task's scheduling status is read from. */
export type StatusInput = Pick<
  TaskRecord,
  'id' | 'state' | 'agent' | 'project' | 'request' | 'notBefore' | 'attempts' | 'held' | 'blocked' | 'arrayId' | 'throttle'
> & { residentModel?: string | null; whenIdle?: boolean };

const sumOf = (r: ResidentState | undefined): number => (r ? [...r.perGpuMB.values()].reduce((a, b) => a + b, 0) : 0);

/** Past this many, tasks whose waiting reason changed are not sent one by one (a client pages). */
const MAX_REASON_EVENTS = 200;
/**
 * At most this many tasks started by one cycle; a cycle that could start more asks for another
 * (on a later turn), so a freed machine filling up never holds up the thread (issue 18).
 */
export const STARTS_PER_TURN = 2;

/** `since`: when it began waiting to start (it only matters while it is queued). */
export function toEntry(
  t: Pick<TaskRecord, 'id' | 'agent' | 'project' | 'request' | 'notBefore' | 'priority' | 'seq' | 'arrayId' | 'throttle'> & {
    residentModel?: string | null;
    whenIdle?: boolean;
    backend?: TaskRecord['backend'];
  },
  since: number,
): QueueEntry {
  const array = t.throttle !== null ? t.arrayId : null;
  return {
    id: t.id,
    agent: t.agent,
    project: t.project,
    request: t.request,
    notBefore: t.notBefore,
    priority: t.priority,
    since,
    seq: t.seq,
    array,
    throttle: array === null ? null : t.throttle,
    model: t.residentModel ?? null,
    whenIdle: t.whenIdle ?? false,
    ...(t.backend === 'slurm' ? { remote: true } : {}),
  };
}

/**
 * The scheduling loop: the queue index, cycles coalesced onto one turn of the clock (a burst of
 * submissions or exits costs one cycle), the wake timer for backoffs and reservations, and bind.
 */
export class SchedulerLoop {
  private readonly queue = new QueueIndex();
  /**
   * Queued tasks for the Slurm cluster: none of this machine's limits apply to them, so they are
   * not in the local queue; each is sent once it is due (its backoff over) and the queue runs.
   */
  private readonly remote = new Map<number, QueueEntry>();
  private lastCycle: CycleResult | null = null;
  private cycleTimer: TimerHandle | null = null;
  private wakeTimer: { at: number; handle: TimerHandle } | null = null;
  private started = false;
  /** The preemption under way: its plan and each victim's attempt (gone once that attempt has ended). */
  private preempting: { plan: PreemptPlan; attempts: Map<number, number> } | null = null;
  /** The unloads under way: until when they may take, and what each resident held when asked. */
  private freeing: { plan: FreePlan; until: number; before: Map<ResidentKind, number> } | null = null;
  /** Residents not to ask again until then (an ask that did not free in time). */
  private readonly skipResidents = new Map<ResidentKind, number>();

  constructor(private readonly deps: LoopDeps) {}

  /** What the supervisor reports freed slots and requeued tasks through. */
  readonly slots: Slots = {
    freed: () => this.requestCycle(),
    requeued: (t) => {
      const now = this.deps.clock.now();
      // A retry waits from when its backoff ends.
      this.enqueue(toEntry(t, t.notBefore ?? now), now);
    },
    dropped: (t) => {
      this.remove(t);
    },
  };

  private enqueue(e: QueueEntry, now: number): void {
    if (e.remote) {
      this.remote.set(e.id, e);
      this.requestCycle();
    } else this.queue.add(e, now);
  }

  get size(): number {
    return this.queue.size + this.remote.size;
  }

  /** What the estimates simulate from: the first `perShape` entries of each shape, and every delayed one (a copy). */
  snapshot(perShape: number): QueueEntry[] {
    return this.queue.heads(perShape);
  }

  addAll(entries: readonly QueueEntry[]): void {
    const now = this.deps.clock.now();
    this.queue.addAll(
      entries.filter((e) => !e.remote),
      now,
    );
    for (const e of entries) if (e.remote) this.enqueue(e, now);
  }

  add(t: TaskRecord, since = this.deps.clock.now()): void {
    this.enqueue(toEntry(t, since), this.deps.clock.now());
  }

  /** Takes a task out of the queue; returns its entry (with `since`) if it was there. */
  remove(t: TaskRecord): QueueEntry | null {
    const remote = this.remote.get(t.id);
    if (remote) {
      this.remote.delete(t.id);
      return remote;
    }
    return this.queue.remove(toEntry(t, 0));
  }

  start(): void {
    this.started = true;
    this.requestCycle();
  }

  stop(): void {
    this.started = false;
    const { clock } = this.deps;
    if (this.cycleTimer) clock.clearTimeout(this.cycleTimer);
    if (this.wakeTimer) clock.clearTimeout(this.wakeTimer.handle);
    this.cycleTimer = null;
    this.wakeTimer = null;
  }

  /** Where a queued task stands, as of the last cycle; null when it is not queued or nothing holds it back. */
  statusOf(task: StatusInput): Status | null {
    if (task.state !== 'queued') return null;
    if (task.held) return waitAt('held', []);
    // Sent to Slurm once due: nothing here holds it back (Slurm's own queue is said in its log).
    if (this.remote.has(task.id)) return null;
    return explain(this.lastCycle, task, this.deps.clock.now());
  }

  /** Coalesces cycle requests onto one turn of the clock. */
  requestCycle(): void {
    if (!this.started || this.cycleTimer) return;
    this.cycleTimer = this.deps.clock.setTimeout(() => {
      this.cycleTimer = null;
      this.deps.health.guarded('scheduling', () => this.cycle());
    }, 0);
  }

  private cycle(): void {
    const { clock, config, telemetry, agents, ledger, health } = this.deps;
    if (!this.started || health.degraded()) return;
    const now = clock.now();
    const running = ledger.running();
    const projects = this.deps.projects;
    projects?.accrue(running, now);
    const residents = this.residentsInput(now);
    const result = runCycle({
      residents,
      preemption: config.preemption === false || !this.deps.preempt ? undefined : { minRunMs: config.preemptMinRunMs ?? 60_000, inFlight: this.inFlight() },
      now,
      ...cycleSettings(config, agents, this.deps.paused()),
      queue: this.queue,
      node: telemetry.current(),
      running,
      observed: ledger.observed(telemetry.current(), now),
      person: this.deps.person?.() ?? null,
      idle: this.deps.idle?.() ?? null,
      projects: projects ? (name) => projects.limits(name, now) : undefined,
    });
    const before = this.lastCycle;
    this.lastCycle = result;
    ledger.setKept(result.kept);
    if (result.preempt) this.startPreemption(result.preempt);
    if (result.free && residents) this.startFreeing(result.free, residents.list, now);
    this.announceReasons(before, result);
    // A few starts a turn (each writes the store and sets up an attempt); the rest in the next cycle.
    const starts = result.starts.slice(0, STARTS_PER_TURN);
    if (result.starts.length > starts.length) this.requestCycle();
    for (const p of starts) {
      this.queue.remove(p.entry);
      try {
        this.deps.bind(p.taskId, p.gpus);
      } catch (e) {
        // Not started (the store refused the write): it stays queued, in the store and here.
        this.queue.add(p.entry, now);
        throw e;
      }
    }
    const remoteWake = this.sendRemote(now);
    const wakes = [result.wakeAt, this.freeing?.until ?? null, remoteWake].filter((x): x is number => x !== null);
    this.armWake(wakes.length > 0 ? Math.min(...wakes) : null);
  }

  /**
   * Starts each due task of the Slurm cluster (the queue not paused), an array's throttle kept
   * (at most `throttle` of it sent at once); returns when the next one is due.
   */
  private sendRemote(now: number): number | null {
    if (this.remote.size === 0 || this.deps.paused()) return null;
    let next: number | null = null;
    const sent = new Map<number, number>();
    for (const r of this.deps.ledger.remoteRuns()) if (r.array != null) sent.set(r.array, (sent.get(r.array) ?? 0) + 1);
    // Higher priority first, then in submission order (as the local queue).
    for (const e of [...this.remote.values()].sort((a, b) => b.priority - a.priority || a.seq - b.seq)) {
      if (e.notBefore !== null && e.notBefore > now) {
        next = next === null ? e.notBefore : Math.min(next, e.notBefore);
        continue;
      }
      if (e.array !== null && e.throttle !== null) {
        const n = sent.get(e.array) ?? 0;
        // Sent once one of its array ends (that frees a slot and runs a cycle).
        if (n >= e.throttle) continue;
        sent.set(e.array, n + 1);
      }
      this.remote.delete(e.id);
      try {
        this.deps.bind(e.id, []);
      } catch (err) {
        this.remote.set(e.id, e);
        throw err;
      }
    }
    return next;
  }

  /** The residents as the cycle sees them, after settling the unloads under way. */
  private residentsInput(now: number): CycleInput['residents'] {
    const r = this.deps.residents;
    if (!r) return undefined;
    const list = r.list();
    for (const [kind, until] of this.skipResidents) if (until <= now) this.skipResidents.delete(kind);
    const f = this.freeing;
    if (f) {
      const held = (kind: ResidentKind) => sumOf(list.find((x) => x.kind === kind));
      // Done once telemetry shows what was asked for gone (or the task no longer waits).
      const gone = f.plan.asks.every((a) => held(a.kind) <= (f.before.get(a.kind) ?? 0) - 0.9 * askMB(a));
      const waits = this.deps.store.getTask(f.plan.forTask)?.state === 'queued';
      if (gone || !waits) this.freeing = null;
      else if (now >= f.until) {
        for (const a of f.plan.asks) this.skipResidents.set(a.kind, now + RESIDENT_COOLDOWN_MS);
        this.freeing = null;
      }
    }
    return {
      list,
      idleMs: this.deps.config.residentIdleMs ?? DEFAULT_RESIDENT_IDLE_MS,
      inFlight: this.freeing?.plan ?? null,
      skip: new Set(this.skipResidents.keys()),
    };
  }

  private startFreeing(plan: FreePlan, list: readonly ResidentState[], now: number): void {
    const before = new Map(plan.asks.map((a) => [a.kind, sumOf(list.find((x) => x.kind === a.kind))]));
    this.freeing = { plan, until: now + (this.deps.config.residentUnloadTimeoutMs ?? DEFAULT_RESIDENT_UNLOAD_TIMEOUT_MS), before };
    for (const a of plan.asks) this.deps.residents!.unload(a, plan);
  }

  /** The unloads under way, for the views ("freeing"); null when none. */
  unloading(): FreePlan | null {
    return this.freeing?.plan ?? null;
  }

  /** The preemption under way, while any of its victims still runs (its memory counts until it is gone). */
  private inFlight(): PreemptPlan | null {
    const p = this.preempting;
    if (!p) return null;
    for (const [id, attempt] of p.attempts) if (this.deps.ledger.get(id)?.attempt !== attempt) p.attempts.delete(id);
    if (p.attempts.size === 0) this.preempting = null;
    return this.preempting?.plan ?? null;
  }

  private startPreemption(plan: PreemptPlan): void {
    const attempts = new Map<number, number>();
    for (const id of plan.victims) {
      const run = this.deps.ledger.get(id);
      if (run) attempts.set(id, run.attempt);
    }
    this.preempting = { plan, attempts };
    for (const id of plan.victims) this.deps.preempt!(id, plan);
  }

  /**
   * Tells subscribers about tasks whose waiting reason changed, so a waiting task's view is live.
   * Past a bound the views are not sent one by one (a client pages the queue instead).
   */
  private announceReasons(before: CycleResult | null, after: CycleResult): void {
    if (before && (before.held === null) !== (after.held === null)) return; // a pause is announced as a queue event
    const changed: number[] = [];
    for (const [key, status] of after.reasons) {
      const was = before?.reasons.get(key);
      if (was && describeStatus(was) === describeStatus(status)) continue;
      for (const e of this.queue.bucket(key)?.entries ?? []) {
        changed.push(e.id);
        if (changed.length > MAX_REASON_EVENTS) return;
      }
    }
    for (const id of changed) {
      const t = this.deps.store.getTask(id);
      if (t) this.deps.publisher.task(t);
    }
  }

  private armWake(at: number | null): void {
    const { clock } = this.deps;
    if (this.wakeTimer && (at === null || this.wakeTimer.at !== at)) {
      clock.clearTimeout(this.wakeTimer.handle);
      this.wakeTimer = null;
    }
    if (at === null || this.wakeTimer) return;
    const handle = clock.setTimeout(
      () => {
        this.wakeTimer = null;
        this.requestCycle();
      },
      Math.max(0, at - clock.now()),
    );
    this.wakeTimer = { at, handle };
  }
}
