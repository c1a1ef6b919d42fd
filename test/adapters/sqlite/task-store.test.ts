import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDb, type OpenDb } from '../../../src-main/adapters/sqlite/db.js';
import { SqliteTaskStore } from '../../../src-main/adapters/sqlite/task-store.js';
import type { NewTask } from '../../../src-main/core/model/task.js';
import { tempDir } from '../../helpers/fakes.js';

const T0 = 1_700_000_000_000;
const newTask = (over: Partial<NewTask> = {}): NewTask => ({
  agent: 'a',
  name: null,
  priority: 0,
  input: { k: 'v' },
  request: { cpu: 1, memoryMB: 10 },
  requestPinned: false,
  maxAttempts: 2,
  backoffSec: 1,
  timeoutSec: null,
  createdAt: T0,
  ...over,
});

let tmp: ReturnType<typeof tempDir>;
let conn: OpenDb;
let store: SqliteTaskStore;

function open(): void {
  tmp = tempDir();
  conn = openDb(join(tmp.dir, 'x.sqlite'));
  store = new SqliteTaskStore(conn);
}
afterEach(() => {
  conn.close();
  tmp.cleanup();
});

describe('SqliteTaskStore', () => {
  it('opens in WAL mode with migrations applied; reopening applies nothing twice', () => {
    open();
    expect(conn.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
    const tables = conn.sqlite.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").all().map((r) => (r as { name: string }).name);
    expect(tables).toEqual(expect.arrayContaining(['tasks', 'attempts', 'task_events', 'artifacts', 'settings']));
    store.insertTasks([newTask()]);
    conn.close();
    conn = openDb(join(tmp.dir, 'x.sqlite'));
    store = new SqliteTaskStore(conn);
    expect(store.listTasks({ limit: 5 })).toHaveLength(1);
  });

  it('round-trips a task, with GPU request and JSON input', () => {
    open();
    const [t] = store.insertTasks([newTask({ request: { cpu: 0.5, memoryMB: 100, gpu: { count: 1, vramMB: 3000 } }, name: 'n', timeoutSec: 9 })]);
    expect(store.getTask(t!.id)).toEqual(t);
  });

  it('a batch is one transaction: a failure stores none', () => {
    open();
    expect(() => store.insertTasks([newTask(), newTask({ agent: null as unknown as string })])).toThrow();
    expect(store.listTasks({ limit: 5 })).toEqual([]);
  });

  it('guards every transition by state and attempt', () => {
    open();
    const [t] = store.insertTasks([newTask()]);
    const id = t!.id;
    expect(store.beginAttempt(id, 1, T0, [])).toBe(false); // wrong attempt count
    expect(store.beginAttempt(id, 0, T0, [0])).toBe(true);
    expect(store.beginAttempt(id, 0, T0, [0])).toBe(false); // not queued any more
    expect(store.markSpawned(id, 2, { pid: 1, pidStartTime: '5', pgid: 1, logDir: '/x' })).toBe(false);
    expect(store.markSpawned(id, 1, { pid: 1, pidStartTime: '5', pgid: 1, logDir: '/x' })).toBe(true);
    const end = { outcome: 'failed' as const, reason: 'exit code 1', exitCode: 1, signal: null, endedAt: T0 + 5 };
    expect(store.endAttempt(id, 1, end, { state: 'queued', notBefore: T0 + 1000, error: null, finishedAt: null })).toBe(true);
    expect(store.endAttempt(id, 1, end, { state: 'failed', notBefore: null, error: 'x', finishedAt: T0 })).toBe(false); // ends once
    expect(store.getTask(id)).toMatchObject({ state: 'queued', attempts: 1, notBefore: T0 + 1000 });
    expect(store.attempts(id)).toMatchObject([{ number: 1, outcome: 'failed', exitCode: 1, pid: 1, pidStartTime: '5', gpus: [0], logDir: '/x' }]);
    expect(store.cancelQueued(id, T0)).toBe(true);
    expect(store.cancelQueued(id, T0)).toBe(false);
    expect(store.setPriority(id, 4)).toBe(false);
    expect(store.requeue(id, 'failed', T0)).toBe(false);
    expect(store.requeue(id, 'cancelled', T0)).toBe(true);
    expect(store.getTask(id)).toMatchObject({ state: 'queued', desired: 'run', maxAttempts: 2, error: null });
  });

  it('lists newest first with filters and cursor; loads the queue light', () => {
    open();
    const ts = store.insertTasks([newTask(), newTask({ agent: 'b', priority: 5 }), newTask(), newTask({ priority: 5 })]);
    const ids = ts.map((t) => t.id);
    expect(store.listTasks({ limit: 2 }).map((t) => t.id)).toEqual([ids[3], ids[2]]);
    expect(store.listTasks({ limit: 10, beforeId: ids[2] }).map((t) => t.id)).toEqual([ids[1], ids[0]]);
    expect(store.listTasks({ limit: 10, agent: 'b' }).map((t) => t.id)).toEqual([ids[1]]);
    const entries = store.queuedEntries();
    expect(entries.map((e) => e.id).sort()).toEqual([...ids].sort());
    expect(entries.find((e) => e.id === ids[1])).toMatchObject({ agent: 'b', priority: 5, notBefore: null, request: { cpu: 1, memoryMB: 10 } });
    expect(entries[0]!.request).toBe(entries[1]!.request); // one shape, one shared request object
    expect(store.countByState()).toMatchObject({ queued: 4, running: 0 });
  });

  it('settings persist as JSON', () => {
    open();
    expect(store.getSetting('x')).toBeUndefined();
    store.setSetting('x', { a: [1] });
    store.setSetting('x', true);
    expect(store.getSetting('x')).toBe(true);
  });
});
