import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatabaseProblem, openDb } from '../../../src-main/adapters/sqlite/db.js';
import { SqliteTaskStore } from '../../../src-main/adapters/sqlite/task-store.js';
import type { NewTask } from '../../../src-main/core/model/task.js';
import { tempDir } from '../../helpers/fakes.js';

/** Issue 10, defect 9: a damaged or unusable database must never start silently, let alone empty. */
const task = (i: number): NewTask => ({
  agent: 'a',
  name: `t${i}`,
  priority: 0,
  input: {},
  request: { cpu: 1, memoryMB: 10 },
  requestPinned: false,
  maxAttempts: 1,
  backoffSec: 1,
  timeoutSec: null,
  createdAt: i,
});

function withTasks(n: number): { dir: string; file: string; cleanup(): void } {
  const t = tempDir();
  const file = join(t.dir, 'agentmgr.sqlite');
  const db = openDb(file);
  new SqliteTaskStore(db).insertTasks(Array.from({ length: n }, (_, i) => task(i)));
  db.close();
  return { dir: t.dir, file, cleanup: t.cleanup };
}

describe('the database at start', () => {
  it('a zero-length file where 50 tasks were stored is refused, saying which files to restore', () => {
    const t = withTasks(50);
    truncateSync(t.file, 0);
    rmSync(`${t.file}-wal`, { force: true });
    expect(() => openDb(t.file)).toThrow(DatabaseProblem);
    expect(() => openDb(t.file)).toThrow(/holds tasks up to #0, but task #50 was stored before.*Restore .*agentmgr\.sqlite and .*agentmgr\.sqlite-wal/);
    t.cleanup();
  });

  it('a damaged file is refused with what to do', () => {
    const t = withTasks(20);
    const fd = openSync(t.file, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0xab), 0, 4096, 4096); // garbage over the second page
    closeSync(fd);
    expect(() => openDb(t.file)).toThrow(/damaged|cannot be opened|could not be prepared|malformed/);
    t.cleanup();
  });

  it('an immutable file is refused at start, not answered with a 500 on every write', (ctx) => {
    const t = withTasks(5);
    try {
      execFileSync('chattr', ['+i', t.file], { stdio: 'ignore' });
    } catch {
      t.cleanup();
      ctx.skip(); // chattr needs root and a file system with attributes
      return;
    }
    try {
      expect(() => openDb(t.file)).toThrow(/cannot be (written|opened)|could not be prepared/);
    } finally {
      execFileSync('chattr', ['-i', t.file]);
      t.cleanup();
    }
  });

  it('a healthy database opens, and keeps opening after more tasks', () => {
    const t = withTasks(10);
    const db = openDb(t.file);
    new SqliteTaskStore(db).insertTasks([task(11)]);
    db.close();
    openDb(t.file).close();
    t.cleanup();
  });

  it('a large batch is checkpointed on a thread of its own (this one busy meanwhile), and the record of the highest task moves on', async () => {
    const t = withTasks(5);
    const db = openDb(t.file, { checkpointEveryMs: 50 });
    try {
      new SqliteTaskStore(db).insertTasks(Array.from({ length: 5000 }, (_, i) => task(i)));
      // This thread does nothing else, in this one turn, until the WAL is in the main file: only
      // the checkpointing thread can have done it.
      const walNow = () => (db.sqlite.pragma('wal_checkpoint(NOOP)') as { log: number; checkpointed: number }[])[0]!;
      const busyUntil = Date.now() + 10_000;
      while (walNow().checkpointed < walNow().log) {
        if (Date.now() > busyUntil) throw new Error(`the WAL was not checkpointed: ${JSON.stringify(walNow())}`);
      }
      expect(walNow().log).toBeGreaterThan(64);
      const sidecar = (): number => Number(readFileSync(`${t.file}.last-task`, 'utf8'));
      const end = Date.now() + 10_000;
      while (sidecar() !== 5005) {
        if (Date.now() > end) throw new Error(`the record stayed at ${sidecar()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      // A few more frames (an idle Manager's writes) are checkpointed here, by the timer, and the record follows.
      new SqliteTaskStore(db).insertTasks([task(1)]);
      expect(walNow().checkpointed).toBeLessThan(walNow().log);
      while (sidecar() !== 5006) {
        if (Date.now() > end) throw new Error(`the record stayed at ${sidecar()}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      db.close();
    }
    openDb(t.file).close();
    t.cleanup();
  });
});
