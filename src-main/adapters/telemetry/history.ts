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

/**
 * Resource history for the charts, downsampled: one point a second for 15 minutes, one a minute
 * for 24 hours. A minute's point averages its seconds, except VRAM held, which keeps the peak
 * (a chart must not hide a spike that nearly ran the GPU out of memory). Samples closer together
 * than a step are folded into the last point.
 */
export class TelemetryHistory {
  private readonly fine = new Ring<TelemetrySample>(HISTORY.fine.keep);
  private readonly coarse = new Ring<TelemetrySample>(HISTORY.coarse.keep);
  private minute: TelemetrySample[] = [];
  private lastFineAt = -Infinity;

  add(s: TelemetrySample): void {
    if (s.at - this.lastFineAt < HISTORY.fine.stepMs * 0.9) return;
    this.lastFineAt = s.at;
    this.fine.push(s);
    const bucket = Math.floor(s.at / HISTORY.coarse.stepMs);
    if (this.minute.length > 0 && Math.floor(this.minute[0]!.at / HISTORY.coarse.stepMs) !== bucket) {
      this.coarse.push(fold(this.minute));
      this.minute = [];
    }
    this.minute.push(s);
  }

  get(range: HistoryRange): TelemetrySample[] {
    if (range === '15m') return this.fine.toArray();
    return this.minute.length ? [...this.coarse.toArray(), fold(this.minute)] : this.coarse.toArray();
  }
}

function fold(samples: TelemetrySample[]): TelemetrySample {
  const last = samples[samples.length - 1]!;
  return {
    at: Math.floor(samples[0]!.at / HISTORY.coarse.stepMs) * HISTORY.coarse.stepMs,
    cpuLoadPct: avgOrNull(samples.map((s) => s.cpuLoadPct)),
    memoryUsedMB: Math.round(avg(samples.map((s) => s.memoryUsedMB))),
    memoryTotalMB: last.memoryTotalMB,
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
