import { describe, expect, it } from 'vitest';
import type { TelemetrySample } from '../../../contracts/telemetry.js';
import { HISTORY, TelemetryHistory } from '../../../src-main/adapters/telemetry/history.js';

const T0 = Date.UTC(2026, 0, 1);
const sample = (at: number, load: number, ours: number): TelemetrySample => ({
  at,
  cpuLoadPct: load,
  memoryUsedMB: 1000,
  memoryTotalMB: 16000,
  gpus: [{ index: 0, utilizationPct: load, totalMB: 8188, oursMB: ours, foreignMB: 1000, freeMB: 8188 - 1000 - ours, temperatureC: 50, powerW: 20 }],
});

describe('TelemetryHistory', () => {
  it('keeps a second-by-second window of 15 minutes', () => {
    const h = new TelemetryHistory();
    for (let i = 0; i < HISTORY.fine.keep + 100; i++) h.add(sample(T0 + i * 1000, 1, 0));
    const fine = h.get('15m');
    expect(fine).toHaveLength(HISTORY.fine.keep);
    expect(fine[0]!.at).toBe(T0 + 100 * 1000);
    expect(fine.at(-1)!.at).toBe(T0 + (HISTORY.fine.keep + 99) * 1000);
  });

  it('folds samples closer than a second', () => {
    const h = new TelemetryHistory();
    h.add(sample(T0, 1, 0));
    h.add(sample(T0 + 300, 2, 0));
    h.add(sample(T0 + 1000, 3, 0));
    expect(h.get('15m').map((s) => s.cpuLoadPct)).toEqual([1, 3]);
  });

  it('a minute point averages load but keeps the peak of VRAM held', () => {
    const h = new TelemetryHistory();
    for (let i = 0; i < 120; i++) h.add(sample(T0 + i * 1000, i < 60 ? 10 : 30, i === 30 ? 5000 : 100));
    const coarse = h.get('24h');
    expect(coarse).toHaveLength(2);
    expect(coarse[0]).toMatchObject({ at: T0, cpuLoadPct: 10, gpus: [{ oursMB: 5000, freeMB: 8188 - 1000 - 5000 }] });
    expect(coarse[1]).toMatchObject({ at: T0 + 60_000, cpuLoadPct: 30, gpus: [{ oursMB: 100 }] });
  });
});
