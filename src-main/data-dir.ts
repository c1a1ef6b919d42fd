import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { layout, type DataDirLayout } from './data-layout.js';

export { layout, SERVER_FILE, TOKEN_FILE, type DataDirLayout } from './data-layout.js';

/** Tells the CLI where the Manager listens (removed on a clean stop). Readable by its owner only. */
export function writeServerFile(l: DataDirLayout, server: { url: string; port: number }): void {
  writeFileSync(l.server, JSON.stringify({ url: server.url, port: server.port, pid: process.pid }, null, 2) + '\n', { mode: 0o600 });
}

export function ensureDataDir(root: string): DataDirLayout {
  const l = layout(root);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  mkdirSync(l.runs, { recursive: true });
  mkdirSync(l.agents, { recursive: true });
  return l;
}

/** The API token: created once with mode 0600; anyone who can read it may use the API. */
export function loadOrCreateToken(l: DataDirLayout): string {
  if (existsSync(l.token)) {
    const t = readFileSync(l.token, 'utf8').trim();
    if (t.length >= 32) {
      if ((statSync(l.token).mode & 0o077) !== 0) chmodSync(l.token, 0o600);
      return t;
    }
  }
  const token = randomBytes(32).toString('base64url');
  writeFileSync(l.token, token + '\n', { mode: 0o600 });
  chmodSync(l.token, 0o600);
  return token;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly holderPid: number | null,
    dir: string,
  ) {
    super(`another Manager${holderPid !== null ? ` (pid ${holderPid})` : ''} is already using ${dir}; stop it first, or use another --data-dir`);
  }
}

/**
 * One Manager per data dir, held by the kernel: the lock is an exclusive SQLite lock (an fcntl
 * lock) on manager.lock.db, taken with `locking_mode=EXCLUSIVE` and kept while the connection is
 * open. The kernel drops it when its holder dies, however it dies, so there is no stale lock to
 * take over and no race in taking one over (ADR 8). manager.lock.json names the holder, for
 * the message only.
 */
/**
 * The connections holding locks. The lock lives exactly as long as its connection, and a
 * connection nothing refers to is closed by the garbage collector: without this, a caller that
 * dropped the release lost the lock at the next collection, and a second Manager took the dir.
 */
const heldLocks = new Set<Database.Database>();

export function acquireLock(l: DataDirLayout): () => void {
  const holderFile = `${l.lock}.json`;
  const refusal = (e: unknown): Error => {
    const code = (e as { code?: string }).code;
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return new DataDirLockedError(readHolder(holderFile), l.root);
    return new Error(`cannot take the lock ${l.lock}.db: ${(e as Error).message}`);
  };
  let db: Database.Database;
  try {
    db = new Database(`${l.lock}.db`, { timeout: 0 });
  } catch (e) {
    throw new Error(`cannot open the lock ${l.lock}.db: ${(e as Error).message}; check that ${l.root} is writable`);
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // Only one process can hold the RESERVED lock: every other taker fails here at once, and lets
    // go of the SHARED lock it took on the way. (BEGIN EXCLUSIVE, all in one step, let takers that
    // arrive together each block the others' last step, so that at times none won.)
    db.pragma('busy_timeout = 0');
    db.exec('BEGIN IMMEDIATE');
  } catch (e) {
    db.close();
    throw refusal(e);
  }
  try {
    // The winner's first write takes the exclusive lock (in EXCLUSIVE mode it is never given
    // back). Losers may hold a SHARED lock for an instant on their way to failing: wait them out.
    db.pragma('busy_timeout = 5000');
    db.exec('CREATE TABLE IF NOT EXISTS holder (pid INTEGER); DELETE FROM holder; INSERT INTO holder VALUES (' + process.pid + '); COMMIT');
  } catch (e) {
    db.close();
    throw refusal(e);
  }
  heldLocks.add(db);
  writeFileSync(holderFile, JSON.stringify({ pid: process.pid }) + '\n');
  let released = false;
  return () => {
    if (released) return;
    released = true;
    rmSync(holderFile, { force: true });
    heldLocks.delete(db);
    db.close();
  };
}

function readHolder(file: string): number | null {
  try {
    const pid = (JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown }).pid;
    return typeof pid === 'number' ? pid : null;
  } catch {
    return null;
  }
}
