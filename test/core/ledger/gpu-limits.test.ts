import { describe, expect, it } from 'vitest';
import type { GpuLimits } from '../../../contracts/settings.js';
import { GpuLimiter, limitsFor } from '../../../src-main/core/ledger/gpu-limits.js';
import { node, rtx4060 } from '../../helpers/fakes.js';

const T0 = Date.UTC(2026, 0, 1);

/** Feeds one reading a second and says, after each, why GPU 0 takes no new task (or null). */
function feed(limits: GpuLimits, readings: { util?: number | null; temp?: number | null; power?: number | null }[]): (string | null)[] {
  const limiter = new GpuLimiter(() => limits);
  return readings.map((r, i) => {
    limiter.observe(
      node({
        gpus: [
          rtx4060({
            utilizationPct: r.util === undefined ? 10 : r.util,
            temperatureC: r.temp === undefined ? 50 : r.temp,
            powerW: r.power === undefined ? 30 : r.power,
          }),
        ],
      }),
      T0 + i * 1000,
    );
    return limiter.limited().get(0) ?? null;
  });
}

const rows: { name: string; limits: GpuLimits; readings: Parameters<typeof feed>[1]; expect: (string | RegExp | null)[] }[] = [
  {
    name: 'utilisation: over the limit on the 10 s average, and the reason names the reading and the limit',
    limits: { maxUtilPct: 90 },
    readings: [{ util: 97 }, { util: 97 }],
    expect: ['GPU 0 at 97 % utilisation, limit 90 %', 'GPU 0 at 97 % utilisation, limit 90 %'],
  },
  {
    name: 'utilisation: a one-second spike inside a calm 10 s does not hold anything back',
    limits: { maxUtilPct: 90 },
    readings: [{ util: 50 }, { util: 50 }, { util: 50 }, { util: 100 }],
    expect: [null, null, null, null],
  },
  {
    name: 'utilisation: hysteresis of 5 points (held until the average is 85 or less)',
    limits: { maxUtilPct: 90 },
    readings: [{ util: 95 }, { util: 86 }, { util: 86 }, { util: 80 }, { util: 80 }, { util: 80 }, { util: 80 }],
    // averages: 95, 90.5, 89, 86.75, 85.4, 84.5, 83.9
    expect: [/at 95 %[^(]*$/, /at 91 %[^(]*$/, 'GPU 0 at 89 % utilisation, limit 90 % (new tasks again at 85 % or less)', /at 87 %/, /at 85 %/, null, null],
  },
  {
    name: 'temperature: over 83 °C holds back, hysteresis 3 °C',
    limits: { maxTempC: 83 },
    readings: [{ temp: 85 }, { temp: 81 }, { temp: 78 }, { temp: 78 }, { temp: 78 }],
    // averages: 85, 83, 81.3, 80.5, 80 (back at the limit less 3 °C)
    expect: ['GPU 0 at 85 °C, limit 83 °C', /^GPU 0 at 83 °C, limit 83 °C \(new tasks again at 80 °C or less\)$/, /at 81 °C/, /at 81 °C/, null],
  },
  {
    name: 'power: over the limit holds back, hysteresis 5 % of it',
    limits: { maxPowerW: 100 },
    readings: [{ power: 110 }, { power: 96 }, { power: 90 }],
    // averages: 110, 103, 98.7 (> 95: still held)
    expect: ['GPU 0 drawing 110 W, limit 100 W', 'GPU 0 drawing 103 W, limit 100 W', 'GPU 0 drawing 99 W, limit 100 W (new tasks again at 95 W or less)'],
  },
  {
    name: 'several limits at once are all named',
    limits: { maxUtilPct: 90, maxTempC: 80 },
    readings: [{ util: 99, temp: 84 }],
    expect: ['GPU 0 at 99 % utilisation, limit 90 %; GPU 0 at 84 °C, limit 80 °C'],
  },
  {
    name: 'a reading the GPU does not give ([N/A]) holds nothing back',
    limits: { maxUtilPct: 90, maxTempC: 80, maxPowerW: 50 },
    readings: [{ util: null, temp: null, power: null }],
    expect: [null],
  },
  {
    name: 'no limits: nothing is held back, however busy',
    limits: {},
    readings: [{ util: 100, temp: 95, power: 200 }],
    expect: [null],
  },
];

describe('GPU limits (seed: max GPU utilization thresholds)', () => {
  for (const row of rows) {
    it(row.name, () => {
      const got = feed(row.limits, row.readings);
      row.expect.forEach((want, i) => {
        if (want === null || typeof want === 'string') expect(got[i]).toBe(want);
        else expect(got[i]).toMatch(want);
      });
    });
  }

  it('readings older than 10 s leave the average', () => {
    const limiter = new GpuLimiter(() => ({ maxUtilPct: 90 }));
    limiter.observe(node({ gpus: [rtx4060({ utilizationPct: 100 })] }), T0);
    expect(limiter.limited().get(0)).toBeDefined();
    limiter.observe(node({ gpus: [rtx4060({ utilizationPct: 20 })] }), T0 + 10_001);
    expect(limiter.limited().get(0)).toBeUndefined();
  });

  it('a limit removed frees the GPU at once; each GPU is judged on its own limits', () => {
    let limits: Record<number, GpuLimits> = { 0: { maxUtilPct: 90 }, 1: { maxUtilPct: 99 } };
    const limiter = new GpuLimiter((g) => limits[g] ?? {});
    limiter.observe(node({ gpus: [rtx4060({ utilizationPct: 95 }), rtx4060({ index: 1, uuid: 'GPU-1', utilizationPct: 95 })] }), T0);
    expect([...limiter.limited()]).toEqual([[0, 'GPU 0 at 95 % utilisation, limit 90 %']]);
    limits = {};
    expect(limiter.limited().size).toBe(0);
  });

  it("one GPU's own limits override every GPU's; none (null) removes one", () => {
    expect(limitsFor({ maxUtilPct: 90, maxTempC: 83 }, { 1: { maxUtilPct: 70 } }, 1)).toEqual({ maxUtilPct: 70, maxTempC: 83 });
    expect(limitsFor({ maxUtilPct: 90 }, { 1: { maxUtilPct: null } }, 1)).toEqual({ maxUtilPct: null });
    expect(limitsFor({ maxUtilPct: 90 }, { 1: { maxUtilPct: 70 } }, 0)).toEqual({ maxUtilPct: 90 });
  });
});
