import type { Ledger } from '../ledger/ledger.js';
import type { TaskRecord } from '../model/task.js';
import type { AgentCatalog, Clock, Logger, TaskStore, TelemetrySource, TimerHandle } from '../ports.js';
import { percentile } from '../model/profile.js';
import type { LoopConfig, SchedulerLoop } from '../scheduler/loop.js';
import { cycleSettings, toEntry } from '../scheduler/loop.js';
import type { IdleGate, PersonHold } from '../person/yield.js';
import { simulation, type Eta, type SimBlocked, type SimInput, type SimResult } from './simulate.js';

export const ETA = {
  /** No estimate further ahead than this. */
  horizonMs: 6 * 3_600_000,
  /**
   * At most this many starts simulated (the bound on one estimate's cost: 30 to 60 µs each); of
   * each shape's queue only this many are copied into the simulation.
   */
  maxStarts: 2_000,
  /** An estimate that took long is worked out again at most once per this many times its cost (so it takes at most 5 % of the time). */
  costFactor: 20,
  /** At most this many tasks waiting for dependencies are taken into the simulation. */
  maxBlocked: 5_000,
  /** An estimate is worked out again once it is this old (and asked for)... */
  maxAgeMs: 2000,
  /** ...or this old, once the queue has changed (a submit, a cancel, a move). */
  minAgeMs: 250,
  /** What a task of an agent with no history and no `expectedSec` is taken to need. */
  defaultSec: 300,
  /** The learned duration is the median of this many recent successes. */
  window: 20,
  /**
   * One turn of the Manager's thread works on an estimate for at most about this long (by its
   * clock); a longer one goes on in later turns, and the one before stays in use meanwhile, so
   * a queue of thousands never holds up IPC, the API or the tray (issue 18).
   */
  sliceMs: 4,
} as const;

export interface EstimatorDeps {
  store: TaskStore;
  clock: Clock;
  telemetry: TelemetrySource;
  agents: Pick<AgentCatalog, 'get'>;
  ledger: Ledger;
  loop: Pick<SchedulerLoop, 'snapshot'>;
  config: Readonly<LoopConfig>;
  paused: () => boolean;
  /** What the GPU is yielded to now (game and focus mode): the tasks it holds back wait in the estimate too. */
  person?: () => PersonHold | null;
  /** Idle-only work's gate: those tasks wait in the estimate too while the person is here. */
  idle?: () => IdleGate | null;
  logger?: Logger;
}

export interface Estimate extends SimResult {
  computedAt: number;
  horizonMs: number;
  /** What working it out took (ms, by the Manager's clock). */
  costMs: number;
}

/** An estimate being worked out over several turns. */
interface Pending {
  steps: Generator<void, SimResult, void>;
  computedAt: number;
  /** Time spent on it so far, in its turns only. */
  spentMs: number;
  timer: TimerHandle | null;
}

/**
 * The queue's estimates: each queued task's expected start and end, from the simulation of
 * simulate.ts run on the live state. Worked out when asked for and at most every maxAgeMs, never
 * inside a scheduling cycle; durations are each agent's median of recent successes (kept until
 * another one succeeds), else its manifest's `expectedSec`, else ETA.defaultSec. One that takes
 * longer than ETA.sliceMs goes on in later turns; until it is done the one before is given.
 */
export class Estimator {
  private last: Estimate | null = null;
  private pending: Pending | null = null;
  private changed = false;
  private stopped = false;
  private readonly durations = new Map<string, number>();

  constructor(private readonly deps: EstimatorDeps) {}

  /**
   * The latest estimate, worked out again when it is older than ETA.maxAgeMs (ETA.minAgeMs once
   * the queue changed). While the first one is still being worked out, an empty one.
   */
  current(): Estimate {
    const now = this.deps.clock.now();
    const age = this.last ? now - this.last.computedAt : Infinity;
    const spent = (this.last?.costMs ?? 0) * ETA.costFactor;
    if (!this.pending && (age >= Math.max(ETA.maxAgeMs, spent) || (this.changed && age >= Math.max(ETA.minAgeMs, spent)))) {
      this.changed = false;
      this.pending = { steps: simulation(this.input(now)), computedAt: now, spentMs: 0, timer: null };
      this.work();
    }
    return this.last ?? { etas: new Map(), none: new Map(), drainsAt: null, starts: 0, truncated: false, computedAt: now, horizonMs: ETA.horizonMs, costMs: 0 };
  }

  /** No more work on an estimate in later turns (the Manager stops). */
  stop(): void {
    this.stopped = true;
    if (this.pending?.timer) this.deps.clock.clearTimeout(this.pending.timer);
    this.pending = null;
  }

  /** One turn's work on the pending estimate: at most about ETA.sliceMs, then on in a later turn. */
  private work(): void {
    const p = this.pending;
    if (!p || this.stopped) return;
    p.timer = null;
    const { clock } = this.deps;
    const t0 = clock.now();
    for (let i = 1; ; i++) {
      let r: IteratorResult<void, SimResult>;
      try {
        r = p.steps.next();
      } catch (e) {
        // It runs from a timer too: a failure must not take the Manager down. The one before stays.
        this.pending = null;
        this.deps.logger?.error('the queue estimate could not be worked out', { error: String(e) });
        return;
      }
      if (r.done) {
        this.pending = null;
        this.last = { ...r.value, computedAt: p.computedAt, horizonMs: ETA.horizonMs, costMs: p.spentMs + Math.max(0, clock.now() - t0) };
        return;
      }
      if (i % 8 === 0 && clock.now() - t0 >= ETA.sliceMs) break;
    }
    p.spentMs += Math.max(0, clock.now() - t0);
    p.timer = clock.setTimeout(() => this.work(), 0);
  }

  /** The queue changed (a submit, a cancel, a move): the next estimate asked for may be worked out sooner. */
  queueChanged(): void {
    this.changed = true;
  }

  /** An attempt of this agent succeeded: its learned duration is out of date. */
  forget(agent: string): void {
    this.durations.delete(agent);
  }

  /** Where a task's estimate stands: its expected start and end, or why there is none. */
  of(task: Pick<TaskRecord, 'id' | 'state' | 'held' | 'updatedAt'>): { eta: Eta | null; note: string | null } {
    if (task.state !== 'queued' && task.state !== 'running' && task.state !== 'starting') return { eta: null, note: null };
    if (task.held) return { eta: null, note: 'no estimate while it is held' };
    const e = this.current();
    if (!this.last) return { eta: null, note: 'no estimate yet: it is being worked out' };
    const eta = e.etas.get(task.id) ?? null;
    if (eta) return { eta, note: null };
    const none = e.none.get(task.id);
    if (none !== undefined || task.state !== 'queued') return { eta: null, note: none ?? null };
    // Not in the simulation at all: queued after it was worked out (the next one has it), or more
    // than maxStarts of its own shape are ahead of it.
    if (task.updatedAt > e.computedAt) return { eta: null, note: 'no estimate yet: it is worked out again within 2 s' };
    return { eta: null, note: `no estimate: more than ${ETA.maxStarts.toLocaleString('en')} tasks start before it` };
  }

  /** How long a task of the agent is taken to need. */
  durationMs(agent: string): number {
    let d = this.durations.get(agent);
    if (d === undefined) {
      const learned = percentile(this.deps.store.recentDurations(agent, ETA.window), 50);
      d = learned ?? (this.deps.agents.get(agent)?.expectedSec ?? ETA.defaultSec) * 1000;
      this.durations.set(agent, d);
    }
    return d;
  }

  /** What the simulation starts from: the live state now. */
  private input(now: number): SimInput {
    const { store, telemetry, ledger, config, loop } = this.deps;
    const running = ledger.running().map((r) => {
      const run = ledger.get(r.taskId);
      return { ...r, startedAt: run?.startedAt ?? now, progress: store.getTask(r.taskId)?.progress ?? null };
    });
    const blocked: SimBlocked[] = [];
    for (const t of store.listTasks({ states: ['queued'], blocked: true, limit: ETA.maxBlocked })) {
      if (t.held) continue;
      const d = store.dependencies(t.id);
      if (d) blocked.push({ entry: toEntry(t, now), mode: d.mode, deps: d.links.map((l) => ({ type: l.type, id: l.id })) });
    }
    return {
      now,
      ...cycleSettings(config, this.deps.agents, this.deps.paused()),
      person: this.deps.person?.() ?? null,
      idle: this.deps.idle?.() ?? null,
      node: telemetry.current(),
      running,
      queued: loop.snapshot(ETA.maxStarts),
      blocked,
      durationMs: (a) => this.durationMs(a),
      horizonMs: ETA.horizonMs,
      maxStarts: ETA.maxStarts,
    };
  }
}
