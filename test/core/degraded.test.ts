import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb, type OpenDb } from '../../src-main/adapters/sqlite/db.js';
import { SqliteTaskStore } from '../../src-main/adapters/sqlite/task-store.js';
import { Manager } from '../../src-main/core/manager.js';
import type { TaskStore } from '../../src-main/core/ports.js';
import { agent, FakeCatalog, FakeRunner, FakeTelemetry, quietLogger, RecordingSink, tempDir } from '../helpers/fakes.js';
import { VirtualClock } from '../helpers/virtual-clock.js';

/**
 * Issue 10, defect 6: a full disk. Faithful to better-sqlite3: every write throws an Error whose
 * code is SQLITE_FULL, reads go on working, and nothing is half-written.
 */
const WRITES = new Set([
  'insertTasks',
  'beginAttempt',
  'markSpawned',
  'endAttempt',
  'cancelQueued',
  'setDesired',
  'setPriority',
  'requeue',
  'setProgress',
  'setResult',
  'addArtifact',
  'addEvent',
  'setSetting',
]);

function fillable(store: SqliteTaskStore): { store: TaskStore; full: { on: boolean; bug?: boolean } } {
  const full: { on: boolean; bug?: boolean } = { on: false };
  const proxy = new Proxy(store, {
    get(target, key, receiver) {
      const v = Reflect.get(target, key, receiver) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (full.on && WRITES.has(String(key))) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
        if (full.bug && key === 'endAttempt') throw new TypeError('a bug');
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store: proxy, full };
}

let db: OpenDb | null = null;
let cleanup: (() => void) | null = null;
afterEach(() => {
  db?.close();
  cleanup?.();
});

function setup() {
  const t = tempDir();
  cleanup = t.cleanup;
  db = openDb(join(t.dir, 'db.sqlite'));
  const real = new SqliteTaskStore(db);
  const { store, full } = fillable(real);
  const clock = new VirtualClock();
  const runner = new FakeRunner();
  const sink = new RecordingSink();
  const manager = new Manager({
    store,
    telemetry: new FakeTelemetry(),
    runner,
    agents: new FakeCatalog([agent({ name: 'cpu', resources: { cpu: 1, memoryMB: 100 } })]),
    clock,
    events: sink,
    logger: quietLogger,
    config: { maxConcurrency: 10, vramMarginMB: 0, memoryMarginMB: 0, progressFlushMs: 100, readingWindowMs: 0, reserveAfterMs: null },
  });
  manager.start();
  clock.flush();
  return { manager, real, full, clock, runner, sink };
}

describe('a full disk', () => {
  it('scheduling hits it: the Manager goes degraded instead of crashing, starts nothing, and carries on when space returns', () => {
    const { manager, real, full, clock, runner, sink } = setup();
    const [a] = manager.submit([{ agent: 'cpu' }]);
    full.on = true;
    expect(() => clock.flush()).not.toThrow(); // beginAttempt throws inside the scheduling timer
    expect(manager.degraded()).toMatchObject({ reason: expect.stringMatching(/the disk is full/) });
    expect(sink.events).toContainEqual({ type: 'health', degraded: expect.objectContaining({ reason: expect.stringMatching(/disk is full/) }) });
    expect(runner.runs).toHaveLength(0);
    expect(real.getTask(a!.id)!.state).toBe('queued'); // acknowledged, and kept
    clock.advance(10_000); // still full: probes fail, still degraded
    expect(manager.degraded()).not.toBeNull();
    full.on = false;
    clock.advance(2_000);
    clock.flush();
    expect(manager.degraded()).toBeNull();
    expect(sink.events.at(-1)).not.toMatchObject({ type: 'health', degraded: expect.anything() });
    expect(runner.live()).toHaveLength(1);
    expect(real.getTask(a!.id)!.state).toBe('running');
  });

  it('an agent ends while the disk is full: its end is kept and recorded once space returns', () => {
    const { manager, real, full, clock, runner } = setup();
    const [a] = manager.submit([{ agent: 'cpu' }]);
    clock.flush();
    full.on = true;
    expect(() => runner.live()[0]!.exit({ exitCode: 0 })).not.toThrow();
    expect(manager.degraded()).not.toBeNull();
    expect(real.getTask(a!.id)!.state).toBe('running');
    full.on = false;
    clock.advance(2_000);
    clock.flush();
    expect(real.getTask(a!.id)).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(real.attempts(a!.id)).toHaveLength(1);
  });

  it('a bug that is not a store error is logged as one, not taken for a full disk', () => {
    const { manager, clock, runner, full } = setup();
    manager.submit([{ agent: 'cpu' }]);
    clock.flush();
    const errors: string[] = [];
    (manager as unknown as { deps: { logger: { error(m: string): void } } }).deps.logger = { ...quietLogger, error: (m: string) => errors.push(m) };
    full.bug = true;
    expect(() => runner.live()[0]!.exit({ exitCode: 0 })).not.toThrow();
    expect(manager.degraded()).toBeNull();
    expect(errors).toEqual(['internal error during runner event']);
  });

  it('a command whose write fails changes nothing in memory: resume stays paused', () => {
    const { manager, full } = setup();
    manager.setPaused(true);
    full.on = true;
    expect(() => manager.setPaused(false)).toThrow(/disk is full/);
    expect(manager.isPaused()).toBe(true);
  });
});
