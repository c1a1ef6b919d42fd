import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TelemetrySample } from '../../../contracts/telemetry.js';
import { openDb, type OpenDb } from '../../../src-main/adapters/sqlite/db.js';
import { SqliteHistoryStore } from '../../../src-main/adapters/sqlite/history-store.js';
import { HISTORY, TelemetryHistory, type HistoryPersistence } from '../../../src-main/adapters/telemetry/history.js';
import { toSample } from '../../../src-main/adapters/telemetry/sample.js';
import { tempDir } from '../../helpers/fakes.js';

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

describe('history points: ours against other programs, for CPU and RAM too', () => {
  it("a point counts our tasks' process groups apart, and a minute point averages them", () => {
    const node = {
      cpuCores: 8,
      memoryTotalMB: 16000,
      memoryAvailableMB: 6000,
      gpus: [],
      gpuStatus: { state: 'none' as const, message: 'no GPU' },
      groups: new Map([
        [100, { rssMB: 1200.4, cpuCores: 1.5 }],
        [200, { rssMB: 800, cpuCores: 0.5 }],
        [300, { rssMB: 10, cpuCores: null }], // measured once: no CPU figure yet
      ]),
    };
    const view = { gpus: [] } as unknown as Parameters<typeof toSample>[1];
    const p = toSample(node as unknown as Parameters<typeof toSample>[0], view, 40, T0);
    expect(p).toMatchObject({ cpuLoadPct: 40, memoryUsedMB: 10000, oursCpuPct: 25, oursMemoryMB: 2010 });
    const h = new TelemetryHistory();
    for (let i = 0; i < 60; i++) h.add({ ...sample(T0 + i * 1000, 50, 0), oursCpuPct: i < 30 ? 10 : 20, oursMemoryMB: i < 30 ? 100 : 300 });
    expect(h.get('24h')[0]).toMatchObject({ oursCpuPct: 15, oursMemoryMB: 200 });
    // Points saved before these were recorded have none, and fold to none.
    const old = new TelemetryHistory();
    for (let i = 0; i < 60; i++) old.add(sample(T0 + i * 1000, 50, 0));
    expect(old.get('24h')[0]!.oursCpuPct).toBeNull();
  });
});

describe('TelemetryHistory kept in SQLite', () => {
  let tmp: { dir: string; cleanup(): void };
  let conn: OpenDb;
  beforeEach(() => {
    tmp = tempDir();
    conn = openDb(join(tmp.dir, 'h.sqlite'));
  });
  afterEach(() => {
    try {
      conn.close();
    } catch {
      // closed by the test
    }
    tmp.cleanup();
  });
  const count = (tier: string) => (conn.sqlite.prepare('SELECT count(*) AS n FROM telemetry_history WHERE tier = ?').get(tier) as { n: number }).n;

  it('each minute is written when it ends; a restart loads both windows back', () => {
    const store = new SqliteHistoryStore(conn);
    const h = new TelemetryHistory({ persistence: store, now: T0 });
    for (let i = 0; i < 150; i++) h.add(sample(T0 + i * 1000, i, i === 70 ? 4000 : 100));
    // Two minutes have ended: their 120 seconds (and the one that ended the second minute) and 2
    // points are stored; the third minute is in progress.
    expect(count('s')).toBe(121);
    expect(count('m')).toBe(2);
    const again = new TelemetryHistory({ persistence: new SqliteHistoryStore(conn), now: T0 + 150_000 });
    expect(again.get('15m')).toEqual(h.get('15m').slice(0, 121));
    expect(again.get('24h')).toEqual(h.get('24h').slice(0, 2));
    expect(again.get('24h')[1]!.gpus[0]!.oursMB).toBe(4000);
  });

  it('a clean stop writes the minute in progress; after the restart that minute goes on, keeping its peak', () => {
    const h = new TelemetryHistory({ persistence: new SqliteHistoryStore(conn), now: T0 });
    for (let i = 0; i < 30; i++) h.add(sample(T0 + i * 1000, 10, i === 5 ? 6000 : 100));
    h.flush();
    const again = new TelemetryHistory({ persistence: new SqliteHistoryStore(conn), now: T0 + 40_000 });
    expect(again.get('15m')).toHaveLength(30);
    for (let i = 40; i < 70; i++) again.add(sample(T0 + i * 1000, 30, 100));
    const points = again.get('24h');
    expect(points.map((p) => p.at)).toEqual([T0, T0 + 60_000]);
    expect(points[0]!.gpus[0]!.oursMB).toBe(6000); // the spike from before the restart
    expect(points[0]!.cpuLoadPct).toBe(20); // the two halves of the minute averaged
    expect(count('m')).toBe(1);
    expect(JSON.parse((conn.sqlite.prepare(`SELECT sample FROM telemetry_history WHERE tier = 'm'`).get() as { sample: string }).sample)).toMatchObject({
      at: T0,
      gpus: [{ oursMB: 6000 }],
    });
  });

  it('only what is still inside each window comes back, and older rows are deleted', () => {
    const h = new TelemetryHistory({ persistence: new SqliteHistoryStore(conn), now: T0 });
    for (let i = 0; i < 130; i++) h.add(sample(T0 + i * 1000, 1, 100));
    const later = T0 + 20 * 60_000; // 20 minutes on: the seconds are too old, the minutes are not
    const again = new TelemetryHistory({ persistence: new SqliteHistoryStore(conn), now: later });
    expect(again.get('15m')).toEqual([]);
    expect(again.get('24h')).toHaveLength(2);
    again.add(sample(later, 1, 100));
    again.add(sample(later + 60_000, 1, 100)); // a minute ends: the write also drops what has expired
    expect(count('s')).toBe(2);
    expect(count('m')).toBe(3);
    const dayLater = new TelemetryHistory({ persistence: new SqliteHistoryStore(conn), now: T0 + 25 * 3600_000 });
    expect(dayLater.get('24h')).toEqual([]);
  });

  it('unreadable rows are skipped and counted; the rest loads', () => {
    const h = new TelemetryHistory({ persistence: new SqliteHistoryStore(conn), now: T0 });
    for (let i = 0; i < 5; i++) h.add(sample(T0 + i * 1000, 1, 100));
    h.flush();
    conn.sqlite.prepare(`INSERT INTO telemetry_history (tier, at, sample) VALUES ('s', ?, 'not json'), ('s', ?, '{"at":1}')`).run(T0 + 10_000, T0 + 11_000);
    const again = new TelemetryHistory({ persistence: new SqliteHistoryStore(conn), now: T0 + 20_000 });
    expect(again.skipped).toBe(2);
    expect(again.get('15m')).toHaveLength(5);
  });

  it('a failed write is reported, the charts in memory are unaffected, and the points are written later', () => {
    const errors: unknown[] = [];
    let failing = true;
    const real = new SqliteHistoryStore(conn);
    const flaky: HistoryPersistence = {
      load: (since) => real.load(since),
      save: (points, dropBefore) => {
        if (failing) throw new Error('SQLITE_FULL: database or disk is full');
        real.save(points, dropBefore);
      },
    };
    const h = new TelemetryHistory({ persistence: flaky, now: T0, onError: (e) => errors.push(e) });
    for (let i = 0; i < 61; i++) h.add(sample(T0 + i * 1000, 1, 100));
    expect(errors).toHaveLength(1);
    expect(h.get('15m')).toHaveLength(61);
    expect(count('s')).toBe(0);
    failing = false;
    for (let i = 61; i < 121; i++) h.add(sample(T0 + i * 1000, 1, 100));
    expect(count('s')).toBe(121);
    expect(count('m')).toBe(2);
  });
});
