import Database from 'better-sqlite3';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { migrationsDir } from '../../paths.js';
import * as schema from './schema.js';

export type Db = BetterSQLite3Database<typeof schema>;

const CHECKPOINT_MS = 5000;

export interface OpenDb {
  db: Db;
  sqlite: Database.Database;
  /** Folds the WAL into the main file now, and moves the sidecar on. */
  checkpoint(): void;
  /** The same soon (after a large batch, say): off this thread where it is more than a few frames. */
  checkpointSoon(): void;
  close(): void;
}

/** The database cannot be used as it is: what is wrong, and which file to restore or move. */
export class DatabaseProblem extends Error {
  readonly code = 'DATABASE_PROBLEM';
}

/**
 * A small record beside the database of the highest task id it has held, written after each
 * checkpoint (when the main file has it too). A database that opens with fewer tasks than that
 * lost them (a zero-length file, a missing or damaged WAL): it is refused, not started empty.
 */
const sidecarOf = (file: string): string => `${file}.last-task`;

function readSidecar(file: string): number | null {
  try {
    const n = Number(readFileSync(sidecarOf(file), 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

function writeSidecar(file: string, id: number): void {
  const tmp = sidecarOf(file) + '.tmp';
  writeFileSync(tmp, `${id}\n`);
  renameSync(tmp, sidecarOf(file));
}

/**
 * Checks at start that the database is intact and writable, and holds every task it ever held;
 * throws a DatabaseProblem that says which file to restore otherwise.
 */
function checkAtStart(sqlite: Database.Database, file: string): { maxId: number; known: number | null } {
  const check = sqlite.pragma('quick_check', { simple: true }) as string;
  if (check !== 'ok')
    throw new DatabaseProblem(
      `the task database ${file} is damaged (${check}); restore it (and ${file}-wal, if there is one) from a backup, or move them away to start with an empty one`,
    );
  try {
    sqlite
      .prepare(`INSERT INTO settings (key, value) VALUES ('health.opened', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`)
      .run(JSON.stringify(Date.now()));
  } catch (e) {
    throw new DatabaseProblem(
      `the task database ${file} cannot be written (${(e as Error).message}); check the file's permissions and attributes (chattr -i), and the free space`,
    );
  }
  const maxId = (sqlite.prepare('SELECT coalesce(max(id), 0) AS n FROM tasks').get() as { n: number }).n;
  const known = readSidecar(file);
  if (known !== null && maxId < known) {
    throw new DatabaseProblem(
      `the task database ${file} holds tasks up to #${maxId}, but task #${known} was stored before: the file is damaged or an old copy (its -wal file may be missing). ` +
        `Restore ${file} and ${file}-wal from a backup; to start empty instead, move them and ${sidecarOf(file)} away`,
    );
  }
  return { maxId, known };
}

/**
 * Opens (creating if needed) the database and applies pending migrations. WAL lets readers (the
 * CLI, the UI) read while the Manager writes; synchronous=NORMAL keeps commits durable across a
 * crash of the process (not of the machine) at a fraction of FULL's cost.
 */
export function openDb(file: string, opts: { checkpointEveryMs?: number } = {}): OpenDb {
  let sqlite: Database.Database;
  try {
    sqlite = new Database(file);
  } catch (e) {
    throw new DatabaseProblem(`the task database ${file} cannot be opened (${(e as Error).message})`);
  }
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // Checkpoints run on a timer (see checkpointEvery), not inside whichever commit crosses the
  // threshold: a submit must not pay for folding the WAL back into the database.
  sqlite.pragma('wal_autocheckpoint = 0');
  const db = drizzle(sqlite, { schema });
  try {
    migrate(db, { migrationsFolder: migrationsDir() });
  } catch (e) {
    sqlite.close();
    throw new DatabaseProblem(
      `the task database ${file} could not be prepared (${(e as Error).message}); restore it from a backup, or move it away to start with an empty one`,
    );
  }
  let recorded: number;
  try {
    const { maxId, known } = checkAtStart(sqlite, file);
    // A database from before the sidecar existed gets one now.
    if (known === null && maxId > 0) writeSidecar(file, maxId);
    recorded = maxId;
  } catch (e) {
    sqlite.close();
    throw e;
  }
  // Only once the main file holds everything up to a task is the sidecar moved on to it.
  const moveSidecar = (maxId: number): void => {
    if (maxId <= recorded) return;
    try {
      writeSidecar(file, maxId);
      recorded = maxId;
    } catch {
      // the disk is full: the next one will do
    }
  };
  const checkpoint = (): void => {
    try {
      const [r] = sqlite.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
      if (r && r.busy === 0 && r.checkpointed === r.log) moveSidecar((sqlite.prepare(MAX_ID_SQL).get() as { n: number }).n);
    } catch {
      // busy, or the disk is full: the next one will do
    }
  };
  // Frames in the WAL not yet in the main file (NOOP only counts them).
  const pending = (): number => {
    try {
      const [r] = sqlite.pragma('wal_checkpoint(NOOP)') as { log: number; checkpointed: number }[];
      return r ? Math.max(0, r.log - r.checkpointed) : 0;
    } catch {
      return 0;
    }
  };
  // The periodic one: nothing to do, nothing done; a few frames (an idle Manager's writes), here;
  // more (tasks flowing: copying the WAL and syncing the file took 40 to 70 ms of the Manager's
  // thread every 5 s), on a thread of its own, started when first needed and let go once idle.
  let checkpointer: Checkpointer | null = null;
  let lastBusy = Date.now();
  const soon = (): void => {
    const frames = pending();
    if (frames === 0) {
      if (checkpointer && Date.now() - lastBusy > CHECKPOINTER_IDLE_MS) {
        checkpointer.close(false);
        checkpointer = null;
      }
      return;
    }
    lastBusy = Date.now();
    if (frames < SMALL_WAL_FRAMES) return checkpoint();
    checkpointer ??= startCheckpointer(file, moveSidecar);
    if (!checkpointer?.run()) checkpoint();
  };
  const timer = setInterval(soon, opts.checkpointEveryMs ?? CHECKPOINT_MS);
  timer.unref();
  return {
    db,
    sqlite,
    checkpoint,
    checkpointSoon: soon,
    close: () => {
      clearInterval(timer);
      checkpointer?.close(true);
      checkpoint();
      sqlite.close();
    },
  };
}

const MAX_ID_SQL = 'SELECT coalesce(max(id), 0) AS n FROM tasks';
/** Fewer frames than this waiting in the WAL are checkpointed on the Manager's thread. */
const SMALL_WAL_FRAMES = 64;
/** The checkpointing thread is let go after this long with nothing to checkpoint. */
const CHECKPOINTER_IDLE_MS = 30_000;

interface Checkpointer {
  /** Asks for a checkpoint (unless one is under way); false when the thread is gone. */
  run(): boolean;
  /** Lets it go; `wait`: until it has closed its connection (at most a second). */
  close(wait: boolean): void;
}

/**
 * The checkpointing thread: its own connection to the database, asked to checkpoint; it answers
 * with the highest task id committed before that checkpoint began, when the checkpoint took in the
 * whole WAL (so the main file holds that task), else nothing. A busy or failing one is tried again
 * at the next turn of the timer. Null when the thread cannot start.
 */
function startCheckpointer(file: string, done: (maxId: number) => void): Checkpointer | null {
  let worker: Worker;
  // Set to 1 by the thread once it has closed its connection.
  const closed = new Int32Array(new SharedArrayBuffer(4));
  try {
    worker = new Worker(CHECKPOINTER_SOURCE, {
      eval: true,
      workerData: { file, module: createRequire(import.meta.url).resolve('better-sqlite3'), maxIdSql: MAX_ID_SQL, closed },
      resourceLimits: { maxOldGenerationSizeMb: 16 },
    });
  } catch {
    return null;
  }
  worker.unref();
  let inFlight = false;
  let dead = false;
  worker.on('message', (m: { maxId?: number | null; ready?: boolean }) => {
    // It could not open the database: the checkpoints are done here again.
    if (m?.ready === false) dead = true;
    if (m?.ready !== undefined) return;
    inFlight = false;
    if (typeof m?.maxId === 'number') done(m.maxId);
  });
  worker.on('error', () => (dead = true));
  worker.on('exit', () => (dead = true));
  return {
    run() {
      if (dead) return false;
      if (!inFlight) {
        inFlight = true;
        worker.postMessage('checkpoint');
      }
      return true;
    },
    close(wait) {
      if (dead) return;
      dead = true;
      worker.postMessage('close');
      // At most a second for it to let go of the database (a checkpoint under way finishes first).
      if (wait) {
        Atomics.wait(closed, 0, 0, 1000);
        void worker.terminate();
      }
    },
  };
}

const CHECKPOINTER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
let db = null;
try {
  db = new Database(workerData.file, { fileMustExist: true });
} catch {}
parentPort.postMessage({ ready: db !== null });
parentPort.on('message', (m) => {
  if (m === 'close') {
    try { db?.close(); } catch {}
    db = null;
    Atomics.store(workerData.closed, 0, 1);
    Atomics.notify(workerData.closed, 0);
    parentPort.close();
    return;
  }
  let maxId = null;
  try {
    const n = db.prepare(workerData.maxIdSql).get().n;
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    if (r && r.busy === 0 && r.checkpointed === r.log) maxId = n;
  } catch {}
  parentPort.postMessage({ maxId });
});
`;
