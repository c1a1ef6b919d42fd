import type { ResourceRequest } from '../../../contracts/resources.js';
import type { NodeSnapshot, RunningUsage } from '../model/node.js';
import { fit } from './fit.js';
import { plural } from './format.js';
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
    ? waitFor(`the maximum of ${plural(input.maxConcurrency, 'task')} at once is reached`)
    : OK;

const agentConcurrency: Step = (c, { input, pool }) => {
  const limit = input.agentLimit(c.agent);
  const n = pool.perAgent.get(c.agent) ?? 0;
  return limit !== null && n >= limit ? waitFor(`agent ${c.agent} runs at most ${limit} at once (${n} running)`) : OK;
};

/**
 * The pipeline, cheapest first, as in Nomad's feasibility stack. Prefilters end the look at a
 * task (a paused queue or a backoff says all there is to say). Limits are all checked and then
 * the resource fit too, so a task held back by a limit also says what else it would need.
 */
const PREFILTERS: readonly Step[] = [notPaused, backoffOver];
const LIMITS: readonly Step[] = [globalConcurrency, agentConcurrency];

function failures(steps: readonly Step[], c: Candidate, ctx: StepContext): string[] {
  const out: string[] = [];
  for (const step of steps) {
    const s = step(c, ctx);
    if (!s.ok) out.push(...s.reasons);
  }
  return out;
}

const shapeKey = (r: ResourceRequest): string => `${r.cpu}|${r.memoryMB}|${r.gpu?.count ?? 0}|${r.gpu?.vramMB ?? 0}`;

export function runCycle(input: CycleInput): CycleResult {
  const pool = buildPool(input.node, input.running, input);
  const ctx: StepContext = { input, pool };
  const starts: Placement[] = [];
  const waiting = new Map<number, string>();
  let wakeAt: number | null = null;
  const held: { c: Candidate; limits: string[] }[] = [];
  for (const c of input.candidates) {
    if (c.notBefore !== null && c.notBefore > input.now) wakeAt = wakeAt === null ? c.notBefore : Math.min(wakeAt, c.notBefore);
    const pre = failures(PREFILTERS, c, ctx);
    if (pre.length > 0) {
      waiting.set(c.id, pre[0]!);
      continue;
    }
    const limits = failures(LIMITS, c, ctx);
    const f = limits.length === 0 ? fit(c.request, pool) : null;
    if (f?.ok) {
      reserve(pool, c.agent, c.request, f.gpus);
      starts.push({ taskId: c.id, gpus: f.gpus });
    } else held.push({ c, limits });
  }
  // Explain against what is left once this cycle's placements are made: that is what a task
  // waits for now, not what was free when it was looked at. Same shape, same shortfalls.
  const shortfalls = new Map<string, string[]>();
  for (const { c, limits } of held) {
    const key = shapeKey(c.request);
    let missing = shortfalls.get(key);
    if (!missing) {
      const f = fit(c.request, pool);
      missing = f.ok ? [] : f.reasons;
      shortfalls.set(key, missing);
    }
    const reasons = [...limits, ...missing];
    waiting.set(c.id, reasons.length > 0 ? reasons.join('; ') : 'waiting for the next scheduling cycle');
  }
  return { starts, waiting, wakeAt };
}
