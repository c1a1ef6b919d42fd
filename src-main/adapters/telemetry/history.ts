import type { HistoryRange, TelemetrySample } from '../../../contracts/telemetry.js';

/** A fixed-size ring of samples, oldest first when read. */
class Ring<T> {
  private items: T[] = [];
  private start = 0;
  constructor(private readonly size: number) {}
  push(item: T): void {
    if (this.items.length < this.size) this.items.push(item);
    else {
      this.items[this.start] = item;
      this.start = (this.start + 1) % this.size;
    }
  }
  toArray(): T[] {
    return [...this.items.slice(this.start), ...this.items.slice(0, this.start)];
  }
  last(): T | undefined {
    if (this.items.length === 0) return undefined;
    return this.items[(this.start + this.items.length - 1) % this.items.length];
  }
  replaceLast(item: T): void {
    if (this.items.length === 0) this.push(item);
    else this.items[(this.start + this.items.length - 1) % this.items.length] = item;
  }
  get length(): number {
    return this.items.length;
  }
}

export const HISTORY = {
  fine: { stepMs: 1000, keep: 15 * 60 },
  coarse: { stepMs: 60_000, keep: 24 * 60 },
} as const;

const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const avgOrNull = (xs: (number | null)[]): number | null => {
  const k = xs.filter((x): x is number => x !== null);
  return k.length ? Math.round(avg(k) * 10) / 10 : null;
};

export type HistoryTier = 's' | 'm';

/** Where TelemetryHistory keeps its points so the charts survive a restart. */
export interface HistoryPersistence {
  /** The points of each tier at or after its cut-off, oldest first; rows that do not parse are skipped and counted. */
  load(since: Record<HistoryTier, number>): { fine: TelemetrySample[]; coarse: TelemetrySample[]; skipped: number };
  /** Writes points (a point of the same tier and time is replaced) and drops those older than the cut-offs, in one transaction. */
  save(points: readonly { tier: HistoryTier; sample: TelemetrySample }[], dropBefore: Record<HistoryTier, number>): void;
}

const windowMs = (tier: { stepMs: number; keep: number }): number => tier.stepMs * tier.keep;

export interface HistoryOptions {
  /** Where points are kept across restarts; none keeps them in memory only. */
  persistence?: HistoryPersistence;
  /** Now, for what to load back (defaults to the wall clock). */
  now?: number;
  /** Told when points could not be written (they stay in memory; the next write tries again). */
  onError?: (e: unknown) => void;
}

/**
 * Resource history for the charts, downsampled: one point a second for 15 minutes, one a minute
 * for 24 hours. A minute's point averages its seconds, except VRAM held, which keeps the peak
 * (a chart must not hide a spike that nearly ran the GPU out of memory). Samples closer together
 * than a step are folded into the last point.
 *
 * With persistence, each minute's seconds and its point are written in one transaction when the
 * minute ends (about one small write a minute), and `flush` writes the minute in progress at a
 * clean stop. A restart loads back what is still inside each window; a crash loses at most the
 * minute in progress.
 */
export class TelemetryHistory {
  private readonly fine = new Ring<TelemetrySample>(HISTORY.fine.keep);
  private readonly coarse = new Ring<TelemetrySample>(HISTORY.coarse.keep);
  private minute: TelemetrySample[] = [];
  private lastFineAt = -Infinity;
  private unsaved: { tier: HistoryTier; sample: TelemetrySample }[] = [];
  /** Rows that did not parse when the history was loaded back (skipped). */
  readonly skipped: number = 0;

  constructor(private readonly opts: HistoryOptions = {}) {
    if (!opts.persistence) return;
    const now = opts.now ?? Date.now();
    const loaded = opts.persistence.load({ s: now - windowMs(HISTORY.fine), m: now - windowMs(HISTORY.coarse) });
    for (const s of loaded.fine) this.fine.push(s);
    for (const s of loaded.coarse) this.coarse.push(s);
    this.lastFineAt = this.fine.last()?.at ?? -Infinity;
    this.skipped = loaded.skipped;
  }

  add(s: TelemetrySample): void {
    if (s.at - this.lastFineAt < HISTORY.fine.stepMs * 0.9) return;
    this.lastFineAt = s.at;
    this.fine.push(s);
    if (this.opts.persistence) this.unsaved.push({ tier: 's', sample: s });
    const bucket = Math.floor(s.at / HISTORY.coarse.stepMs);
    if (this.minute.length > 0 && Math.floor(this.minute[0]!.at / HISTORY.coarse.stepMs) !== bucket) {
      this.endMinute();
      this.save(s.at);
    }
    this.minute.push(s);
  }

  get(range: HistoryRange): TelemetrySample[] {
    if (range === '15m') return this.fine.toArray();
    const points = this.coarse.toArray();
    if (this.minute.length === 0) return points;
    const now = fold(this.minute);
    // The minute in progress may have begun before a restart: then its first part is stored.
    if (points.at(-1)?.at === now.at) points[points.length - 1] = fold([points.at(-1)!, now]);
    else points.push(now);
    return points;
  }

  /** Writes what is not stored yet, including the minute in progress (at a clean stop). */
  flush(): void {
    if (!this.opts.persistence) return;
    if (this.minute.length > 0) {
      const last = this.coarse.last();
      const partial = fold(this.minute);
      this.unsaved.push({ tier: 'm', sample: last?.at === partial.at ? fold([last, partial]) : partial });
    }
    this.save(this.lastFineAt);
  }

  private endMinute(): void {
    let point = fold(this.minute);
    this.minute = [];
    const last = this.coarse.last();
    if (last?.at === point.at) {
      point = fold([last, point]);
      this.coarse.replaceLast(point);
    } else this.coarse.push(point);
    if (this.opts.persistence) this.unsaved.push({ tier: 'm', sample: point });
  }

  private save(now: number): void {
    const { persistence, onError } = this.opts;
    if (!persistence || this.unsaved.length === 0) return;
    try {
      persistence.save(this.unsaved, { s: now - windowMs(HISTORY.fine), m: now - windowMs(HISTORY.coarse) });
      this.unsaved = [];
    } catch (e) {
      // Kept for the next try, within bounds: the charts in memory are unaffected.
      if (this.unsaved.length > HISTORY.fine.keep) this.unsaved = this.unsaved.slice(-HISTORY.fine.keep);
      onError?.(e);
    }
  }
}

function fold(samples: TelemetrySample[]): TelemetrySample {
  const last = samples[samples.length - 1]!;
  return {
    at: Math.floor(samples[0]!.at / HISTORY.coarse.stepMs) * HISTORY.coarse.stepMs,
    cpuLoadPct: avgOrNull(samples.map((s) => s.cpuLoadPct)),
    memoryUsedMB: Math.round(avg(samples.map((s) => s.memoryUsedMB))),
    memoryTotalMB: last.memoryTotalMB,
    oursCpuPct: avgOrNull(samples.map((s) => s.oursCpuPct ?? null)),
    oursMemoryMB: avgOrNull(samples.map((s) => s.oursMemoryMB ?? null)),
    gpus: last.gpus.map((g) => {
      const same = samples.map((s) => s.gpus.find((x) => x.index === g.index)).filter((x): x is NonNullable<typeof x> => !!x);
      const peakOurs = Math.max(...same.map((x) => x.oursMB));
      const peakForeign = Math.max(...same.map((x) => x.foreignMB));
      return {
        index: g.index,
        totalMB: g.totalMB,
        utilizationPct: avgOrNull(same.map((x) => x.utilizationPct)),
        oursMB: peakOurs,
        foreignMB: peakForeign,
        freeMB: Math.min(...same.map((x) => x.freeMB)),
        temperatureC: avgOrNull(same.map((x) => x.temperatureC)),
        powerW: avgOrNull(same.map((x) => x.powerW)),
      };
    }),
  };
}
