import { join } from 'node:path';
import { openDb, type OpenDb } from '../../src-main/adapters/sqlite/db.js';
import { SqliteTaskStore } from '../../src-main/adapters/sqlite/task-store.js';
import { MemoryTaskStore } from '../../src-main/adapters/memory/memory-task-store.js';
import { Manager, type ManagerConfig } from '../../src-main/core/manager.js';
import type { AgentSpec, ClusterPort, TaskStore } from '../../src-main/core/ports.js';
import { FakeCatalog, FakeRunner, FakeTelemetry, RecordingSink, quietLogger, tempDir } from './fakes.js';
import { VirtualClock } from './virtual-clock.js';

export interface Harness {
  manager: Manager;
  store: TaskStore;
  runner: FakeRunner;
  telemetry: FakeTelemetry;
  clock: VirtualClock;
  sink: RecordingSink;
  catalog: FakeCatalog;
  /** The database, with `store: 'sqlite'`; null on the in-memory store. */
  db: OpenDb | null;
  dbFile: string | null;
  /** A fresh Manager on the same database, as after a restart. */
  restart(): Harness;
  close(): void;
}

interface HarnessOptions {
  /** The in-memory store (default: fast, same contract, see test/ports/), or a real SQLite file. */
  store?: 'memory' | 'sqlite';
  dbFile?: string;
  memory?: MemoryTaskStore;
  runner?: FakeRunner;
  telemetry?: FakeTelemetry;
  clock?: VirtualClock;
  /** A Slurm executor (a FakeRunner standing in for it) and what the cluster says it has free. */
  slurm?: FakeRunner;
  cluster?: ClusterPort;
}

/** A Manager over the in-memory store (or a real SQLite file), with fake telemetry, runner and clock. */
export function harness(agents: AgentSpec[], config: Partial<ManagerConfig> = {}, opts: HarnessOptions = {}): Harness {
  const sqlite = opts.store === 'sqlite' || opts.dbFile !== undefined;
  const tmp = sqlite && !opts.dbFile ? tempDir() : null;
  const dbFile = sqlite ? (opts.dbFile ?? join(tmp!.dir, 'test.sqlite')) : null;
  const db = dbFile ? openDb(dbFile) : null;
  const clockForStore = opts.clock ?? new VirtualClock();
  const memory = db ? null : (opts.memory ?? new MemoryTaskStore(() => clockForStore.now()));
  const store: TaskStore = db ? new SqliteTaskStore(db) : memory!;
  const runner = opts.runner ?? new FakeRunner();
  const telemetry = opts.telemetry ?? new FakeTelemetry();
  const clock = clockForStore;
  const sink = new RecordingSink();
  const catalog = new FakeCatalog(agents);
  const manager = new Manager({
    store,
    telemetry,
    runner,
    ...(opts.slurm ? { slurm: opts.slurm } : {}),
    ...(opts.cluster ? { cluster: opts.cluster } : {}),
    agents: catalog,
    clock,
    events: sink,
    logger: quietLogger,
    config: { maxConcurrency: 100, vramMarginMB: 0, memoryMarginMB: 0, progressFlushMs: 100, readingWindowMs: 0, reserveAfterMs: null, ...config },
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
      db?.close();
      const keep = { runner, telemetry, clock, slurm: opts.slurm, cluster: opts.cluster };
      const next = harness(agents, config, dbFile ? { dbFile, ...keep } : { memory: memory!, ...keep });
      const close = next.close;
      next.close = () => {
        close();
        tmp?.cleanup();
      };
      return next;
    },
    close() {
      manager.stop();
      db?.close();
      tmp?.cleanup();
    },
  };
  return h;
}
