import type { ResourceRequest } from '../../../contracts/resources.js';
import { Heap } from './heap.js';

export interface QueueEntry {
  id: number;
  agent: string;
  /** Its project: a bucket holds one project's tasks, so its quotas and fair share apply to the whole bucket. */
  project: string;
  request: ResourceRequest;
  /** Epoch ms before which it must not start (retry backoff); null if none. */
  notBefore: number | null;
  priority: number;
  /** Epoch ms since when it has been waiting to start (for the reservation of reservation.ts). */
  since: number;
  /** Its place within its priority (TaskRecord.seq): smaller first. */
  seq: number;
  /** Its array, when that array has a throttle (at most `throttle` of it at once); else null. */
  array: number | null;
  throttle: number | null;
  /** The model it names on the resident server its agent drives (residency: scheduler/steps/resources.ts); null or absent for none. */
  model?: string | null;
  /** Idle-only work: it starts only once the person has been away a while. */
  whenIdle?: boolean;
  /** It runs on the Slurm cluster: sent there once due, whatever this machine holds (see SchedulerLoop). */
  remote?: boolean;
}

/**
 * Tasks of one agent with one request are interchangeable to the scheduler: if the first of them
 * does not fit, none does. The queue keeps them together under this key.
 */
export function shapeOf(
  agent: string,
  r: ResourceRequest,
  throttledArray: number | null = null,
  project = 'default',
  model: string | null = null,
  whenIdle = false,
): string {
  // Tasks for different models of a resident are apart: one whose model is loaded may start where
  // another may not; so is idle-only work.
  const key = `${agent}|${r.cpu}|${r.memoryMB}|${r.gpu?.count ?? 0}|${r.gpu?.vramMB ?? 0}|${project}${model === null ? '' : `|m${model}`}${whenIdle ? '|idle' : ''}`;
  // The tasks of a throttled array are apart: once it is at its limit, only they must wait.
  return throttledArray === null ? key : `${key}|a${throttledArray}`;
}

export const entryShape = (e: Pick<QueueEntry, 'agent' | 'request' | 'array' | 'project' | 'model' | 'whenIdle'>): string =>
  shapeOf(e.agent, e.request, e.array, e.project, e.model ?? null, e.whenIdle ?? false);

/** Queue order: higher priority first, then by place (its id, unless moved), then id. */
export function before(a: QueueEntry, b: QueueEntry): boolean {
  return a.priority > b.priority || (a.priority === b.priority && (a.seq < b.seq || (a.seq === b.seq && a.id < b.id)));
}

export interface Bucket {
  key: string;
  agent: string;
  project: string;
  request: ResourceRequest;
  /** The resident model its tasks name (see QueueEntry.model); null for none. */
  model: string | null;
  /** Its tasks are idle-only work. */
  whenIdle: boolean;
  /** The throttled array its tasks belong to (null: none), and that array's limit. */
  array: number | null;
  throttle: number | null;
  /** Sorted in queue order. */
  entries: QueueEntry[];
}

function search(entries: readonly QueueEntry[], e: QueueEntry): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(entries[mid]!, e)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The queued tasks, grouped by shape (one sorted bucket per agent and request), plus the ones
 * waiting out a retry backoff in a heap by due time. A scheduling cycle then costs
 * O((starts + shapes) · log shapes), not O(queue length).
 *
 * Invariant: every entry is in exactly one place (a bucket, or `delayed`), each bucket is sorted
 * in queue order, and `size` counts them all.
 */
export class QueueIndex {
  private readonly buckets = new Map<string, Bucket>();
  private readonly delayed = new Heap<QueueEntry>((a, b) => a.notBefore! < b.notBefore!);
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** Buckets with at least one eligible task. */
  shapes(): IterableIterator<Bucket> {
    return this.buckets.values();
  }

  bucket(key: string): Bucket | undefined {
    return this.buckets.get(key);
  }

  /** Adds one task; one whose backoff has not ended waits in `delayed` until `promoteDue`. */
  add(e: QueueEntry, now = -Infinity): void {
    this.count += 1;
    if (e.notBefore !== null && e.notBefore > now) {
      this.delayed.push(e);
      return;
    }
    const b = this.bucketFor(e);
    b.entries.splice(search(b.entries, e), 0, e);
  }

  /** Adds many at once (a batch submit, a start-up load): one sort per bucket. */
  addAll(entries: readonly QueueEntry[], now = -Infinity): void {
    if (entries.length < 16) {
      for (const e of entries) this.add(e, now);
      return;
    }
    const touched = new Set<Bucket>();
    for (const e of entries) {
      this.count += 1;
      if (e.notBefore !== null && e.notBefore > now) this.delayed.push(e);
      else {
        const b = this.bucketFor(e);
        b.entries.push(e);
        touched.add(b);
      }
    }
    for (const b of touched) b.entries.sort((x, y) => (before(x, y) ? -1 : before(y, x) ? 1 : 0));
  }

  /**
   * Removes a task, found by what it was added with (its id, agent, request, priority, place and array).
   * Returns the entry removed, or null if it was not there.
   */
  remove(e: QueueEntry): QueueEntry | null {
    const b = this.buckets.get(entryShape(e));
    if (b) {
      const i = search(b.entries, e);
      const found = b.entries[i];
      if (found?.id === e.id) {
        b.entries.splice(i, 1);
        this.count -= 1;
        if (b.entries.length === 0) this.buckets.delete(b.key);
        return found;
      }
    }
    // Not in its bucket: it may be waiting out a backoff (rare: a linear look is fine).
    const all = this.delayed.toArray();
    const at = all.findIndex((x) => x.id === e.id);
    if (at < 0) return null;
    const rest = all.filter((_, i) => i !== at);
    while (this.delayed.pop() !== undefined);
    for (const x of rest) this.delayed.push(x);
    this.count -= 1;
    return all[at]!;
  }

  /** Moves tasks whose backoff has ended into their buckets. */
  promoteDue(now: number): void {
    for (let e = this.delayed.peek(); e && e.notBefore! <= now; e = this.delayed.peek()) {
      this.delayed.pop();
      const b = this.bucketFor(e);
      b.entries.splice(search(b.entries, e), 0, e);
    }
  }

  /** When the next backoff ends; null if none is waiting. */
  nextDue(): number | null {
    return this.delayed.peek()?.notBefore ?? null;
  }

  /**
   * The first `perShape` entries of each bucket (in queue order within it) and every delayed one,
   * unsorted: a copy of what could start within `perShape` starts, for the estimates.
   */
  heads(perShape: number): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (const b of this.buckets.values()) for (let i = 0; i < Math.min(perShape, b.entries.length); i++) out.push(b.entries[i]!);
    return out.concat(this.delayed.toArray());
  }

  /** Every entry in queue order (for tests and small queues; O(n log n)). */
  toArray(): QueueEntry[] {
    const all = [...this.buckets.values()].flatMap((b) => b.entries).concat(this.delayed.toArray());
    return all.sort((x, y) => (before(x, y) ? -1 : before(y, x) ? 1 : 0));
  }

  private bucketFor(e: QueueEntry): Bucket {
    const key = entryShape(e);
    let b = this.buckets.get(key);
    if (!b) {
      b = {
        key,
        agent: e.agent,
        project: e.project,
        request: e.request,
        model: e.model ?? null,
        whenIdle: e.whenIdle ?? false,
        array: e.array,
        throttle: e.throttle,
        entries: [],
      };
      this.buckets.set(key, b);
    }
    return b;
  }
}
