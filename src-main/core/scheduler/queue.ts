import type { Candidate } from './cycle.js';

export interface QueueEntry extends Candidate {
  priority: number;
}

function before(a: QueueEntry, b: QueueEntry): boolean {
  return a.priority > b.priority || (a.priority === b.priority && a.id < b.id);
}

/**
 * The queued tasks in queue order: higher priority first, FIFO (by id) within a priority.
 * Invariant: `entries` is sorted by that order and holds each id at most once.
 */
export class QueueIndex implements Iterable<QueueEntry> {
  private entries: QueueEntry[] = [];
  private ids = new Set<number>();

  get size(): number {
    return this.entries.length;
  }

  has(id: number): boolean {
    return this.ids.has(id);
  }

  [Symbol.iterator](): Iterator<QueueEntry> {
    return this.entries[Symbol.iterator]();
  }

  add(entry: QueueEntry): void {
    if (this.ids.has(entry.id)) this.remove(entry.id);
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.entries[mid]!, entry)) lo = mid + 1;
      else hi = mid;
    }
    this.entries.splice(lo, 0, entry);
    this.ids.add(entry.id);
  }

  /** Adds many at once (a batch submit, a start-up load): one sort instead of n inserts. */
  addAll(entries: readonly QueueEntry[]): void {
    if (entries.length < 16) {
      for (const e of entries) this.add(e);
      return;
    }
    for (const e of entries) {
      if (this.ids.has(e.id)) this.remove(e.id);
      this.ids.add(e.id);
      this.entries.push(e);
    }
    this.entries.sort((a, b) => b.priority - a.priority || a.id - b.id);
  }

  remove(id: number): boolean {
    if (!this.ids.delete(id)) return false;
    const i = this.entries.findIndex((e) => e.id === id);
    if (i >= 0) this.entries.splice(i, 1);
    return true;
  }

  /** Removes many ids in one pass. */
  removeAll(ids: ReadonlySet<number>): void {
    if (ids.size === 0) return;
    this.entries = this.entries.filter((e) => !ids.has(e.id));
    for (const id of ids) this.ids.delete(id);
  }
}
