import type { ResourceRequest } from '../../../contracts/resources.js';
import { buildPool, type KeptResources } from '../ledger/pool.js';
import { Heap } from './heap.js';
import { schedulingPipeline, type Pipeline } from './pipeline.js';
import { withoutKept } from './reservation.js';
import { fit } from './fit.js';
import { chooseVictims, eligible, type PreemptPlan } from './preempt.js';
import { askMB, chooseUnloads, mayFree, type FreePlan } from '../residents/ladder.js';
import { shapeOf, type Bucket, type QueueEntry } from './queue.js';
import { combine, waitAt, type Status } from './status.js';
import { sameModel } from '../../../contracts/residents.js';
import type { CycleInput, StepContext } from './steps/types.js';

export type { CycleInput };

export interface Placement {
  taskId: number;
  entry: QueueEntry;
  gpus: number[];
}

export interface CycleResult {
  starts: Placement[];
  /** Why the tasks of each shape (agent + request) that did not start wait. */
  reasons: Map<string, Status>;
  /** Set when a prefilter held everything back (the queue is paused). */
  held: Status | null;
  /** Earliest moment a backoff ends or a task becomes due a reservation, so the caller can wake up then; null if none. */
  wakeAt: number | null;
  /** What was kept for the task that waited too long, and for whom; null if nothing. */
  kept: KeptResources | null;
  /** Running tasks to preempt for a waiting one of higher priority (see preempt.ts); null if none. */
  preempt: PreemptPlan | null;
  /** Residents to ask to unload for a waiting task (see residents/ladder.ts); null if none. */
  free: FreePlan | null;
}

/** Where one queued task stands, from the last cycle; null if nothing holds it back. */
export function explain(
  result: CycleResult | null,
  task: {
    agent: string;
    project?: string;
    request: ResourceRequest;
    notBefore: number | null;
    attempts?: number;
    arrayId?: number | null;
    throttle?: number | null;
    residentModel?: string | null;
    whenIdle?: boolean;
  },
  now: number,
): Status | null {
  // Before its first attempt, a notBefore is the submitter's `begin`; after one, a retry's backoff.
  if (task.notBefore !== null && task.notBefore > now) return waitAt(task.attempts === 0 ? 'begin' : 'backoff', [], { until: task.notBefore });
  if (!result) return null;
  const array = task.throttle != null ? (task.arrayId ?? null) : null;
  const own = result.reasons.get(shapeOf(task.agent, task.request, array, task.project, task.residentModel ?? null, task.whenIdle ?? false));
  return own ?? result.held ?? null;
}

interface Cursor {
  bucket: Bucket;
  pos: number;
  /** Its project's fair-share rank when it was pushed (0 without fair share). */
  rank: number;
  /** Its model is loaded in the resident server its agent drives (and it may go first for that). */
  warm: boolean;
}

/** How long a task whose model is not loaded may be passed by ones whose model is (default 2 min). */
export const DEFAULT_RESIDENCY_BOUND_MS = 120_000;

/**
 * Residency-aware order: a task whose model its resident server has loaded skips that model's
 * load (5–30 s), so among tasks equal in priority and fair share it goes first; but a task that
 * has waited past the bound is passed no more (it counts as warm), so nothing starves.
 */
function warmth(input: CycleInput): (b: Bucket, e: QueueEntry) => boolean {
  const bound = input.residencyBoundMs ?? DEFAULT_RESIDENCY_BOUND_MS;
  const spare = input.observed?.residentSpare;
  if (!spare || spare.size === 0 || !input.drives) return () => false;
  return (b, e) => {
    if (input.now - e.since >= bound) return true;
    const kind = b.model !== null ? input.drives!(b.agent) : null;
    const held = kind ? spare.get(kind) : undefined;
    return held !== undefined && b.model !== null && held.models.some((m) => sameModel(m.name, b.model!));
  };
}

const DEFAULT_PIPELINE = schedulingPipeline();

/**
 * One scheduling cycle: the pipeline of pipeline.ts over the queue. Tasks are considered in the
 * pipeline's order across all shapes at once through a heap of bucket heads. When the head of a
 * bucket cannot start, none of its tasks can (the pool only shrinks within a cycle), so the whole
 * bucket is set aside with one status: the cost is O((starts + shapes) · log shapes), whatever the
 * length of the queue.
 */
export function runCycle(input: CycleInput, pipeline: Pipeline = DEFAULT_PIPELINE): CycleResult {
  input.queue.promoteDue(input.now);
  let wakeAt = input.queue.nextDue();
  const reasons = new Map<string, Status>();
  const ctx: StepContext = { input, pool: buildPool(input.node, input.running, input, input.observed) };
  const held = combine(pipeline.prefilters.map((p) => p.check(ctx)));
  if (held.code !== 'ok') {
    // Nothing starts, but each shape still says what else it would wait for once the queue runs
    // ("the queue is paused; also: needs 1 GPU…"), so resuming holds no surprise.
    for (const b of input.queue.shapes()) {
      const head = b.entries[0];
      if (!head) continue;
      const limits = combine(pipeline.filters.map((f) => f.check(b, ctx, head)));
      const fitted = pipeline.fit.place(b, ctx).status;
      reasons.set(b.key, { ...held, shortfalls: [...held.shortfalls, ...limits.shortfalls, ...fitted.shortfalls] });
    }
    return { starts: [], reasons, held, wakeAt, kept: null, preempt: null, free: null };
  }
  const starts: Placement[] = [];
  const rank = (b: Bucket): number => (pipeline.rank ? pipeline.rank(b.project, ctx) : 0);
  const warm = warmth(input);
  // Priority first; within one, the project furthest below its share; then a task whose model is
  // loaded (within its bound); then queue order.
  const heads = new Heap<Cursor>((x, y) => {
    const a = x.bucket.entries[x.pos]!;
    const b = y.bucket.entries[y.pos]!;
    if (a.priority !== b.priority) return pipeline.score(a, b);
    if (x.rank !== y.rank) return x.rank < y.rank;
    if (x.warm !== y.warm) return x.warm;
    return pipeline.score(a, b);
  });
  const cursor = (bucket: Bucket, pos: number): Cursor => ({ bucket, pos, rank: rank(bucket), warm: warm(bucket, bucket.entries[pos]!) });
  for (const b of input.queue.shapes()) if (b.entries.length > 0) heads.push(cursor(b, 0));
  const waiting: { bucket: Bucket; head: QueueEntry }[] = [];
  let kept: KeptResources | null = null;
  for (let cur = heads.pop(); cur; cur = heads.pop()) {
    // Its project may have had tasks placed since it was ranked: ranks only grow, so re-rank lazily.
    if (pipeline.rank) {
      const now = rank(cur.bucket);
      if (now > cur.rank) {
        heads.push({ ...cur, rank: now });
        continue;
      }
    }
    const entry = cur.bucket.entries[cur.pos]!;
    const limits = combine(pipeline.filters.map((f) => f.check(cur.bucket, ctx, entry)));
    const placed = limits.code === 'ok' ? pipeline.fit.place(cur.bucket, ctx) : null;
    if (!placed || placed.status.code !== 'ok') {
      waiting.push({ bucket: cur.bucket, head: entry });
      // Only the first task held back by resources alone can have them kept for it (not one
      // waiting for a GPU to come under its limits: keeping memory would not cool it).
      const byLimits = placed?.status.shortfalls.some((s) => s.limited) ?? false;
      const due = placed && !byLimits && kept === null ? pipeline.reserve.dueAt(entry, ctx) : null;
      if (due !== null) {
        if (due <= input.now) kept = pipeline.reserve.keep(entry, ctx);
        else wakeAt = wakeAt === null ? due : Math.min(wakeAt, due);
      }
      continue;
    }
    pipeline.bind(entry, placed.gpus, ctx);
    starts.push({ taskId: entry.id, entry, gpus: placed.gpus });
    if (cur.pos + 1 < cur.bucket.entries.length) heads.push(cursor(cur.bucket, cur.pos + 1));
  }
  // The ladder: idle residents first; preemption only for a task they cannot (or not yet) make room for.
  const free = planFreeing(input, ctx, pipeline, waiting, kept);
  const unloading = free ?? input.residents?.inFlight ?? null;
  const { plan: preempt, wakeAt: preemptAt } = free
    ? { plan: null, wakeAt: null }
    : planPreemption(input, ctx, pipeline, waiting, kept, unloading?.forTask ?? null);
  if (preemptAt !== null) wakeAt = wakeAt === null ? preemptAt : Math.min(wakeAt, preemptAt);
  const making = preempt ?? input.preemption?.inFlight ?? null;
  // Explain against what is left once this cycle's placements are made: that is what a task
  // waits for now, not what was free when it was looked at.
  for (const { bucket, head } of waiting) {
    const mine = kept !== null && head.id === kept.taskId;
    // The task resources are kept for sees them as its own: free, not "kept for" itself.
    const view = mine ? { ...ctx, pool: withoutKept(ctx.pool) } : ctx;
    // Limits too, as they stand now (placements after it was looked at may have filled them).
    const limits = combine(pipeline.filters.map((f) => f.check(bucket, view, head)));
    const fitted = pipeline.fit.place(bucket, view).status;
    const status = combine([limits, fitted]);
    const extra = {
      ...(mine ? { kept: { taskId: head.id, afterMs: input.reserveAfterMs! } } : {}),
      ...(making && making.forTask === head.id ? { preempting: making.victims } : {}),
      ...(unloading && unloading.forTask === head.id
        ? { freeing: unloading.asks.map((a) => ({ label: a.label, models: a.models ?? [], mb: Math.round(askMB(a)) })) }
        : {}),
    };
    reasons.set(bucket.key, status.code === 'ok' ? waitAt(mine ? 'resources' : 'cycle', [], extra) : { ...status, ...extra });
  }
  return { starts, reasons, held: null, wakeAt, kept, preempt, free };
}

/** The waiting tasks held back by resources alone, in the order the pipeline considers them, each with the pool it would use. */
function* heldByResources(ctx: StepContext, pipeline: Pipeline, waiting: readonly { bucket: Bucket; head: QueueEntry }[], kept: KeptResources | null) {
  const order = [...waiting].sort((a, b) => (pipeline.score(a.head, b.head) ? -1 : 1));
  for (const { bucket, head } of order) {
    if (combine(pipeline.filters.map((f) => f.check(bucket, ctx, head))).code !== 'ok') continue;
    // What is kept for a task is its own to use (see reservation.ts).
    const pool = kept !== null && kept.taskId === head.id ? withoutKept(ctx.pool) : ctx.pool;
    const fitted = fit(head.request, pool);
    if (fitted.ok || fitted.shortfalls.some((s) => s.limited || s.note !== undefined)) continue;
    yield { head, pool };
  }
}

/**
 * The first rung: the first waiting task held back by resources alone that would fit once some
 * residents its policies allow unloaded gets the cheapest such unloads. One at a time: none
 * while an earlier one is under way (its memory still counts until telemetry shows it gone).
 */
function planFreeing(
  input: CycleInput,
  ctx: StepContext,
  pipeline: Pipeline,
  waiting: readonly { bucket: Bucket; head: QueueEntry }[],
  kept: KeptResources | null,
): FreePlan | null {
  const r = input.residents;
  if (!r || r.inFlight !== null || waiting.length === 0) return null;
  const candidates = r.list.filter((x) => !r.skip.has(x.kind) && mayFree(x, input.now, r.idleMs));
  if (candidates.length === 0) return null;
  for (const { head, pool } of heldByResources(ctx, pipeline, waiting, kept)) {
    const asks = chooseUnloads(head.request, pool, candidates);
    if (asks) return { forTask: head.id, asks };
  }
  return null;
}

/**
 * Preemption, after the placements: the first waiting task (by priority, then queue order) held
 * back by resources alone that would fit once some lower-priority preemptible tasks are stopped
 * gets the cheapest such set. One at a time: none while an earlier one's victims are still going.
 */
function planPreemption(
  input: CycleInput,
  ctx: StepContext,
  pipeline: Pipeline,
  waiting: readonly { bucket: Bucket; head: QueueEntry }[],
  kept: KeptResources | null,
  /** A task residents are being unloaded for: it waits for that first. */
  unloadingFor: number | null,
): { plan: PreemptPlan | null; wakeAt: number | null } {
  const p = input.preemption;
  // Cheap when nothing running may be preempted (the usual case): no extra fit per waiting bucket.
  if (!p || p.inFlight !== null || waiting.length === 0 || !input.running.some((r) => r.preemptible)) return { plan: null, wakeAt: null };
  let wakeAt: number | null = null;
  for (const { head, pool } of heldByResources(ctx, pipeline, waiting, kept)) {
    if (head.id === unloadingFor) continue;
    // Tasks that will be old enough to preempt later: look again then.
    for (const r of eligible(input.running, head.priority, Number.MAX_SAFE_INTEGER, p.minRunMs)) {
      const at = r.startedAt + p.minRunMs;
      if (at > input.now) wakeAt = wakeAt === null ? at : Math.min(wakeAt, at);
    }
    const candidates = eligible(input.running, head.priority, input.now, p.minRunMs);
    if (candidates.length === 0) continue;
    const victims = chooseVictims(head.request, pool, input.node, candidates, input.now);
    if (victims) return { plan: { forTask: head.id, priority: head.priority, victims }, wakeAt: null };
  }
  return { plan: null, wakeAt };
}
