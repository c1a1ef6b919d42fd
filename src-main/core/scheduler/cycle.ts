import type { ResourceRequest } from '../../../contracts/resources.js';
import type { NodeSnapshot, RunningUsage } from '../model/node.js';
import { fit } from './fit.js';
import { buildPool, reserve, type Pool, type PoolConfig } from './pool.js';
import { OK, waitFor, type Status } from './status.js';

/** A queued task as the scheduler sees it, in queue order (priority first, then FIFO). */
export interface Candidate {
  id: number;
  agent: string;
  request: ResourceRequest;
  /** Epoch ms before which it must not start (retry backoff); null if none. */
  notBefore: number | null;
}

export interface CycleInput extends PoolConfig {
  now: number;
  paused: boolean;
  maxConcurrency: number;
  /** Per-agent concurrency limit, null for none. */
  agentLimit: (agent: string) => number | null;
  /** Queued tasks in queue order. */
  candidates: Iterable<Candidate>;
  node: NodeSnapshot;
  running: readonly RunningUsage[];
}

export interface Placement {
  taskId: number;
  gpus: number[];
}

export interface CycleResult {
  starts: Placement[];
  /** Why each task that does not start now waits. */
  waiting: Map<number, string>;
  /** Earliest moment a backoff ends, so the caller can wake up then; null if none. */
  wakeAt: number | null;
}

interface StepContext {
  input: CycleInput;
  pool: Pool;
}

/** A step that only looks at the task and the cycle (cheap); fit is the last, costliest step. */
type Step = (c: Candidate, ctx: StepContext) => Status;

const notPaused: Step = (_c, { input }) => (input.paused ? waitFor('the queue is paused') : OK);

const backoffOver: Step = (c, { input }) =>
  c.notBefore !== null && c.notBefore > input.now
    ? waitFor(`waiting to retry: next attempt not before ${new Date(c.notBefore).toISOString()}`)
    : OK;

const globalConcurrency: Step = (_c, { input, pool }) =>
  pool.running >= input.maxConcurrency
    ? waitFor(`the maximum of ${input.maxConcurrency} tasks at once is reached`)
    : OK;

const agentConcurrency: Step = (c, { input, pool }) => {
  const limit = input.agentLimit(c.agent);
  const n = pool.perAgent.get(c.agent) ?? 0;
  return limit !== null && n >= limit ? waitFor(`agent ${c.agent} runs at most ${limit} at once (${n} running)`) : OK;
};

/**
 * The pipeline, cheapest first, as in Nomad's feasibility stack: prefilters (pause, backoff), then
 * limits, then the resource fit that picks GPUs (best fit) and reports every shortfall.
 */
const STEPS: readonly Step[] = [notPaused, backoffOver, globalConcurrency, agentConcurrency];

/**
 * One scheduling cycle: walks the queue in order and places every task that fits what is free
 * now (backfilling: a task that does not fit does not block smaller ones behind it). Placements
 * are reserved in the pool as they are made, so one cycle never promises the same resources twice.
 */
export function runCycle(input: CycleInput): CycleResult {
  const pool = buildPool(input.node, input.running, input);
  const ctx: StepContext = { input, pool };
  const starts: Placement[] = [];
  const waiting = new Map<number, string>();
  let wakeAt: number | null = null;
  const unfit: Candidate[] = [];
  for (const c of input.candidates) {
    if (c.notBefore !== null && c.notBefore > input.now) wakeAt = wakeAt === null ? c.notBefore : Math.min(wakeAt, c.notBefore);
    let blocked: Status = OK;
    for (const step of STEPS) {
      blocked = step(c, ctx);
      if (!blocked.ok) break;
    }
    if (!blocked.ok) {
      waiting.set(c.id, blocked.reasons.join('; '));
      continue;
    }
    const f = fit(c.request, pool);
    if (!f.ok) {
      unfit.push(c);
      continue;
    }
    reserve(pool, c.agent, c.request, f.gpus);
    starts.push({ taskId: c.id, gpus: f.gpus });
  }
  // Explain against what is left once this cycle's placements are made: that is what the task
  // waits for now, not what was free when it was looked at.
  for (const c of unfit) {
    const f = fit(c.request, pool);
    waiting.set(c.id, f.ok ? 'waiting for the next scheduling cycle' : f.reasons.join('; '));
  }
  return { starts, waiting, wakeAt };
}
