import type { ResourceRequest } from '../../../contracts/resources.js';
import type { NodeSnapshot, RunningUsage } from '../model/node.js';
import { fit } from './fit.js';
import { plural, seconds } from './format.js';
import { buildPool, reserve, type Pool, type PoolConfig } from './pool.js';
import { Heap } from './heap.js';
import { keepFor, withoutKept } from './reservation.js';
import { before, shapeOf, type Bucket, type QueueEntry, type QueueIndex } from './queue.js';
import { OK, waitFor, type Status } from './status.js';

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
  /** The queued tasks. The cycle moves those whose backoff has ended into their buckets. */
  queue: QueueIndex;
  node: NodeSnapshot;
  running: readonly RunningUsage[];
}

export interface Placement {
  taskId: number;
  entry: QueueEntry;
  gpus: number[];
}

export interface CycleResult {
  starts: Placement[];
  /** Why the tasks of each shape (agent + request) that did not start wait. */
  reasons: Map<string, string>;
  paused: boolean;
  /** Earliest moment a backoff ends or a task becomes due a reservation, so the caller can wake up then; null if none. */
  wakeAt: number | null;
  /** The task resources were kept for in this cycle; null if none. */
  keptFor: number | null;
}

/** Why one queued task waits, from the last cycle; null if nothing holds it back. */
export function explain(result: CycleResult | null, task: { agent: string; request: ResourceRequest; notBefore: number | null }, now: number): string | null {
  if (task.notBefore !== null && task.notBefore > now) return `waiting to retry: next attempt not before ${new Date(task.notBefore).toISOString()}`;
  if (!result) return null;
  if (result.paused) return 'the queue is paused';
  return result.reasons.get(shapeOf(task.agent, task.request)) ?? null;
}

interface StepContext {
  input: CycleInput;
  pool: Pool;
}

/** A limit checked before the (costlier) resource fit; each says why it holds a task back. */
type Step = (b: Bucket, ctx: StepContext) => Status;

const globalConcurrency: Step = (_b, { input, pool }) =>
  pool.running >= input.maxConcurrency
    ? waitFor(`the maximum of ${plural(input.maxConcurrency, 'task')} at once is reached`)
    : OK;

const agentConcurrency: Step = (b, { input, pool }) => {
  const limit = input.agentLimit(b.agent);
  const n = pool.perAgent.get(b.agent) ?? 0;
  return limit !== null && n >= limit ? waitFor(`agent ${b.agent} runs at most ${limit} at once (${n} running)`) : OK;
};

/**
 * The pipeline, cheapest first, as in Nomad's feasibility stack: the pause and retry backoffs
 * are prefilters (a paused queue starts nothing; a task in backoff is not even in a bucket),
 * then the limits, then the resource fit that picks GPUs (best fit) and reports every shortfall.
 * All limits are checked and the fit too, so a task held back by a limit also says what else it
 * would need.
 */
const LIMITS: readonly Step[] = [globalConcurrency, agentConcurrency];

function failures(b: Bucket, ctx: StepContext): string[] {
  const out: string[] = [];
  for (const step of LIMITS) {
    const s = step(b, ctx);
    if (!s.ok) out.push(...s.reasons);
  }
  return out;
}

interface Cursor {
  bucket: Bucket;
  pos: number;
}

/**
 * One scheduling cycle. Tasks are considered in queue order (priority, then FIFO) across all
 * shapes at once through a heap of bucket heads; a task that does not fit does not block the
 * ones behind it (backfill). When the head of a bucket cannot start, none of its tasks can (the
 * pool only shrinks within a cycle), so the whole bucket is set aside with one explanation: the
 * cost is O((starts + shapes) · log shapes), whatever the length of the queue. Placements are
 * reserved in the pool as they are made, so one cycle never promises the same resources twice.
 */
export function runCycle(input: CycleInput): CycleResult {
  input.queue.promoteDue(input.now);
  let wakeAt = input.queue.nextDue();
  const reasons = new Map<string, string>();
  if (input.paused) return { starts: [], reasons, paused: true, wakeAt, keptFor: null };
  const pool = buildPool(input.node, input.running, input);
  const ctx: StepContext = { input, pool };
  const starts: Placement[] = [];
  const heads = new Heap<Cursor>((a, b) => before(a.bucket.entries[a.pos]!, b.bucket.entries[b.pos]!));
  for (const b of input.queue.shapes()) if (b.entries.length > 0) heads.push({ bucket: b, pos: 0 });
  const held: { bucket: Bucket; head: QueueEntry; limits: string[] }[] = [];
  const reserveAfter = input.reserveAfterMs;
  for (let cur = heads.pop(); cur; cur = heads.pop()) {
    const limits = failures(cur.bucket, ctx);
    const f = limits.length === 0 ? fit(cur.bucket.request, pool) : null;
    const entry = cur.bucket.entries[cur.pos]!;
    if (!f?.ok) {
      held.push({ bucket: cur.bucket, head: entry, limits });
      // Only the first task held back by resources alone can have them kept for it.
      if (f && reserveAfter !== null && pool.keptFor === null) {
        const due = entry.since + reserveAfter;
        if (due <= input.now) keepFor(entry.id, entry.request, pool);
        else wakeAt = wakeAt === null ? due : Math.min(wakeAt, due);
      }
      continue;
    }
    reserve(pool, entry.agent, entry.request, f.gpus);
    starts.push({ taskId: entry.id, entry, gpus: f.gpus });
    if (cur.pos + 1 < cur.bucket.entries.length) heads.push({ bucket: cur.bucket, pos: cur.pos + 1 });
  }
  // Explain against what is left once this cycle's placements are made: that is what a task
  // waits for now, not what was free when it was looked at.
  for (const { bucket, head, limits } of held) {
    const mine = pool.keptFor !== null && head.id === pool.keptFor;
    // The task resources are kept for sees them as its own: free, not "kept for" itself.
    const f = fit(bucket.request, mine ? withoutKept(pool) : pool);
    const all = [...limits, ...(f.ok ? [] : f.reasons)];
    if (mine) {
      all.push(`task ${head.id} has waited longer than ${seconds(reserveAfter!)}, so what our tasks free is kept for it until it fits`);
    }
    reasons.set(bucket.key, all.length > 0 ? all.join('; ') : 'waiting for the next scheduling cycle');
  }
  return { starts, reasons, paused: false, wakeAt, keptFor: pool.keptFor };
}
