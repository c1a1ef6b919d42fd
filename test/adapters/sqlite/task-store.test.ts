import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../../src-main/adapters/sqlite/db.js';
import { SqliteTaskStore } from '../../../src-main/adapters/sqlite/task-store.js';
import { tempDir } from '../../helpers/fakes.js';

// The TaskStore contract itself is in test/ports/task-store.contract.test.ts; here, what only SQLite has.
describe('SqliteTaskStore', () => {
  it('opens in WAL mode with migrations applied; reopening applies nothing twice', () => {
    const tmp = tempDir();
    let conn = openDb(join(tmp.dir, 'x.sqlite'));
    try {
      expect(conn.sqlite.pragma('journal_mode', { simple: true })).toBe('wal');
      const tables = conn.sqlite
        .prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        .all()
        .map((r) => (r as { name: string }).name);
      expect(tables).toEqual(expect.arrayContaining(['tasks', 'attempts', 'task_events', 'artifacts', 'settings']));
      new SqliteTaskStore(conn).insertTasks([
        {
          agent: 'a',
          name: null,
          priority: 0,
          input: {},
          request: { cpu: 1, memoryMB: 1 },
          requestPinned: false,
          maxAttempts: 1,
          backoffSec: 1,
          timeoutSec: null,
          createdAt: 1,
        },
      ]);
      conn.close();
      conn = openDb(join(tmp.dir, 'x.sqlite'));
      expect(new SqliteTaskStore(conn).listTasks({ limit: 5 })).toHaveLength(1);
    } finally {
      conn.close();
      tmp.cleanup();
    }
  });
});
