import { join } from 'node:path';
import { openDb, type OpenDb } from '../../src-main/adapters/sqlite/db.js';
import { SqliteTaskStore } from '../../src-main/adapters/sqlite/task-store.js';
import { Manager, type ManagerConfig } from '../../src-main/core/manager.js';
import type { AgentSpec } from '../../src-main/core/ports.js';
import { FakeCatalog, FakeRunner, FakeTelemetry, RecordingSink, quietLogger, tempDir } from './fakes.js';
import { VirtualClock } from './virtual-clock.js';

export interface Harness {
  manager: Manager;
  store: SqliteTaskStore;
  runner: FakeRunner;
  telemetry: FakeTelemetry;
  clock: VirtualClock;
  sink: RecordingSink;
  catalog: FakeCatalog;
  db: OpenDb;
  dbFile: string;
  /** A fresh Manager on the same database, as after a restart. */
  restart(): Harness;
  close(): void;
}

/** A Manager over a real SQLite file, with fake telemetry, runner and clock. */
export function harness(agents: AgentSpec[], config: Partial<ManagerConfig> = {}, opts: { dbFile?: string; runner?: FakeRunner; telemetry?: FakeTelemetry; clock?: VirtualClock } = {}): Harness {
  const tmp = opts.dbFile ? null : tempDir();
  const dbFile = opts.dbFile ?? join(tmp!.dir, 'test.sqlite');
  const db = openDb(dbFile);
  const store = new SqliteTaskStore(db);
  const runner = opts.runner ?? new FakeRunner();
  const telemetry = opts.telemetry ?? new FakeTelemetry();
  const clock = opts.clock ?? new VirtualClock();
  const sink = new RecordingSink();
  const catalog = new FakeCatalog(agents);
  const manager = new Manager({
    store,
    telemetry,
    runner,
    agents: catalog,
    clock,
    events: sink,
    logger: quietLogger,
    config: { maxConcurrency: 100, vramMarginMB: 0, memoryMarginMB: 0, progressFlushMs: 100, settleMs: 0, reserveAfterMs: null, ...config },
  });
  manager.start();
  clock.flush();
  const h: Harness = {
    manager,
    store,
    runner,
    telemetry,
    clock,
    sink,
    catalog,
    db,
    dbFile,
    restart() {
      manager.stop();
      db.close();
      const next = harness(agents, config, { dbFile, runner, telemetry, clock });
      const close = next.close;
      next.close = () => {
        close();
        tmp?.cleanup();
      };
      return next;
    },
    close() {
      manager.stop();
      db.close();
      tmp?.cleanup();
    },
  };
  return h;
}
