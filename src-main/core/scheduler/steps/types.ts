import type { NodeSnapshot, RunningUsage } from '../../model/node.js';
import type { KeptResources, Observed, Pool, PoolConfig } from '../../ledger/pool.js';
import type { ProjectLimits } from '../../projects/projects.js';
import type { PreemptPlan } from '../preempt.js';
import type { ResidentKind } from '../../../../contracts/residents.js';
import type { IdleGate, PersonHold } from '../../person/yield.js';
import type { FreePlan, ResidentState } from '../../residents/ladder.js';
import type { Bucket, QueueEntry, QueueIndex } from '../queue.js';
import type { StepName, Status } from '../status.js';

export interface CycleInput extends PoolConfig {
  now: number;
  paused: boolean;
  maxConcurrency: number;
  /**
   * After waiting this long, the first task held back by resources gets what is free kept for it
   * (see reservation.ts); null never keeps anything (pure backfill).
   */
  reserveAfterMs: number | null;
  /** Per-agent concurrency limit, null for none. */
  agentLimit: (agent: string) => number | null;
  /** The resident server an agent's tasks drive (see Observed.residentSpare); absent or null: none. */
  drives?: (agent: string) => ResidentKind | null;
  /** How long a task whose model is not loaded may be passed by ones whose model is (see cycle.ts); absent: 2 min. */
  residencyBoundMs?: number;
  /** What the GPU is yielded to now (game mode, focus mode: core/person/yield.ts); absent or null: nothing. */
  person?: PersonHold | null;
  /** Idle-only work's gate (how long the person has been away, against how long they must be); absent or null: away. */
  idle?: IdleGate | null;
  /** The queued tasks. The cycle moves those whose backoff has ended into their buckets. */
  queue: QueueIndex;
  node: NodeSnapshot;
  running: readonly RunningUsage[];
  /** What the ledger saw over time: other programs' VRAM reconciled over a window of readings, GPUs over a limit. */
  observed?: Observed;
  /** Each project's weight, quotas and usage now (see projects/projects.ts); absent: one project, no quotas. */
  projects?: (name: string) => ProjectLimits;
  /**
   * Preemption (scheduler/preempt.ts): how long a task must have run before it may be preempted,
   * and the preemption under way (victims not yet gone), if any; absent: never preempt.
   */
  preemption?: { minRunMs: number; inFlight: PreemptPlan | null };
  /**
   * Residents (residents/ladder.ts), the first rung of the ladder: each one's state, how long one
   * must be idle to be unloaded under `when-idle`, the unloads under way (their memory still
   * counts until telemetry shows it gone), and the residents not to ask again for now (an earlier
   * ask did not free in time). Absent: none.
   */
  residents?: { list: readonly ResidentState[]; idleMs: number; inFlight: FreePlan | null; skip: ReadonlySet<ResidentKind> };
}

/** What each step sees: the cycle's input, and the pool that this cycle's placements shrink. */
export interface StepContext {
  input: CycleInput;
  pool: Pool;
}

/** Runs once per cycle, before any task is looked at; a verdict other than ok starts nothing. */
export interface Prefilter {
  name: StepName;
  check(ctx: StepContext): Status;
}

/**
 * Can the tasks of this bucket (one agent and one request: interchangeable) start now? A filter
 * only looks; it never changes the pool.
 */
export interface Filter {
  name: StepName;
  /** `head`: the bucket's task being looked at (the first; those after it come no earlier in the queue's order). */
  check(bucket: Bucket, ctx: StepContext, head: QueueEntry): Status;
}

/** The last filter: where the task fits, and on which GPUs; or every shortfall. */
export interface Fitter {
  name: StepName;
  place(bucket: Bucket, ctx: StepContext): { status: Status; gpus: number[] };
}

/** The order tasks are considered in, across every bucket: true when a goes before b. */
export type Score = (a: QueueEntry, b: QueueEntry) => boolean;

/** Keeps resources for a task held back too long; returns what was kept, or null. */
export interface Reserver {
  name: string;
  /** When `entry` becomes due for keeping (epoch ms), or null for never. */
  dueAt(entry: QueueEntry, ctx: StepContext): number | null;
  keep(entry: QueueEntry, ctx: StepContext): KeptResources | null;
}

/**
 * Orders projects within one priority (fair share): smaller goes first. It may only grow within a
 * cycle (as placements are made), so a cycle re-ranks a bucket lazily when it comes up.
 */
export type Ranker = (project: string, ctx: StepContext) => number;

/** Records a placement in the pool, so later tasks in the cycle see it. */
export type Bind = (entry: QueueEntry, gpus: number[], ctx: StepContext) => void;

export interface Pipeline {
  prefilters: readonly Prefilter[];
  filters: readonly Filter[];
  fit: Fitter;
  score: Score;
  /** Fair share across projects within a priority; absent: none (priority, then queue order). */
  rank?: Ranker;
  reserve: Reserver;
  bind: Bind;
}
