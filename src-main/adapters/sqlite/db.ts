import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { migrationsDir } from '../../paths.js';
import * as schema from './schema.js';

export type Db = BetterSQLite3Database<typeof schema>;

const CHECKPOINT_MS = 5000;

export interface OpenDb {
  db: Db;
  sqlite: Database.Database;
  close(): void;
}

/**
 * Opens (creating if needed) the database and applies pending migrations. WAL lets readers (the
 * CLI, the UI) read while the Manager writes; synchronous=NORMAL keeps commits durable across a
 * crash of the process (not of the machine) at a fraction of FULL's cost.
 */
export function openDb(file: string): OpenDb {
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // Checkpoints run on a timer (see checkpointEvery), not inside whichever commit crosses the
  // threshold: a submit must not pay for folding the WAL back into the database.
  sqlite.pragma('wal_autocheckpoint = 0');
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder: migrationsDir() });
  const timer = setInterval(() => {
    try {
      sqlite.pragma('wal_checkpoint(PASSIVE)');
    } catch {
      // busy: the next one will do
    }
  }, CHECKPOINT_MS);
  timer.unref();
  return {
    db,
    sqlite,
    close: () => {
      clearInterval(timer);
      sqlite.close();
    },
  };
}
