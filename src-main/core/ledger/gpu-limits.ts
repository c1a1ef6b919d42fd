import type { GpuLimits } from '../../../contracts/settings.js';
import type { NodeSnapshot } from '../model/node.js';

export type { GpuLimits };

/** The limits are judged on the average of this long. */
export const LIMIT_WINDOW_MS = 10_000;

interface Metric {
  key: keyof GpuLimits;
  read: (s: Sample) => number | null;
  /** How far below its limit a GPU over it must come back before new tasks start there again. */
  hysteresis: (limit: number) => number;
  text: (gpu: number, value: number, limit: number) => string;
  unit: string;
}

interface Sample {
  at: number;
  util: number | null;
  temp: number | null;
  power: number | null;
}

const METRICS: readonly Metric[] = [
  {
    key: 'maxUtilPct',
    read: (s) => s.util,
    hysteresis: () => 5,
    text: (g, v, l) => `GPU ${g} at ${Math.round(v)} % utilisation, limit ${l} %`,
    unit: ' %',
  },
  { key: 'maxTempC', read: (s) => s.temp, hysteresis: () => 3, text: (g, v, l) => `GPU ${g} at ${Math.round(v)} °C, limit ${l} °C`, unit: ' °C' },
  {
    key: 'maxPowerW',
    read: (s) => s.power,
    hysteresis: (l) => l * 0.05,
    text: (g, v, l) => `GPU ${g} drawing ${Math.round(v)} W, limit ${l} W`,
    unit: ' W',
  },
];

/**
 * Seed: "max GPU utilization thresholds". Per GPU, the average utilisation, temperature and
 * power over the last 10 s against its limits. A GPU over one takes no new GPU task until it is
 * back below by the hysteresis (5 points, 3 °C, 5 % of the power limit), so a GPU hovering at
 * its limit does not flap. A reading the GPU does not give (null) holds nothing back.
 */
export class GpuLimiter {
  private readonly series = new Map<number, Sample[]>();
  /** `${gpu}:${metric}` → the average that put it over, while it is over. */
  private readonly over = new Map<string, number>();

  constructor(private readonly limits: (gpu: number) => GpuLimits) {}

  observe(node: NodeSnapshot, now: number): void {
    const seen = new Set<number>();
    for (const g of node.gpus) {
      seen.add(g.index);
      const list = this.series.get(g.index) ?? [];
      list.push({ at: now, util: g.utilizationPct, temp: g.temperatureC, power: g.powerW });
      while (list.length > 1 && list[0]!.at < now - LIMIT_WINDOW_MS) list.shift();
      this.series.set(g.index, list);
      const limits = this.limits(g.index);
      for (const m of METRICS) {
        const key = `${g.index}:${m.key}`;
        const limit = limits[m.key] ?? null;
        const avg = average(list.map(m.read));
        if (limit === null || avg === null) {
          this.over.delete(key);
          continue;
        }
        const wasOver = this.over.has(key);
        if (wasOver ? avg > limit - m.hysteresis(limit) : avg > limit) this.over.set(key, avg);
        else this.over.delete(key);
      }
    }
    for (const index of [...this.series.keys()]) if (!seen.has(index)) this.series.delete(index);
  }

  /** Why each GPU over a limit takes no new task ("GPU 0 at 97 % utilisation, limit 90 %"); absent: none. */
  limited(): Map<number, string> {
    const out = new Map<number, string>();
    for (const [index, list] of this.series) {
      const limits = this.limits(index);
      const reasons: string[] = [];
      for (const m of METRICS) {
        const limit = limits[m.key] ?? null;
        if (limit === null || !this.over.has(`${index}:${m.key}`)) continue;
        const avg = average(list.map(m.read)) ?? this.over.get(`${index}:${m.key}`)!;
        // Under the limit but not yet back by the hysteresis: say what it waits for.
        const back = Math.round((limit - m.hysteresis(limit)) * 10) / 10;
        reasons.push(m.text(index, avg, limit) + (avg <= limit ? ` (new tasks again at ${back}${m.unit} or less)` : ''));
      }
      if (reasons.length > 0) out.set(index, reasons.join('; '));
    }
    return out;
  }
}

function average(values: (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0) / known.length;
}

/** One GPU's limits: its own over those of every GPU. */
export function limitsFor(all: GpuLimits, perGpu: Readonly<Record<string, GpuLimits>>, gpu: number): GpuLimits {
  return { ...all, ...perGpu[String(gpu)] };
}
