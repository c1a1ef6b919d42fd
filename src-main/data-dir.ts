import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSameProcessAlive, readProcStat } from './adapters/process/proc-stat.js';

export const TOKEN_FILE = 'api-token';
export const SERVER_FILE = 'server.json';
const LOCK_FILE = 'manager.lock';

export interface DataDirLayout {
  root: string;
  db: string;
  runs: string;
  agents: string;
  token: string;
  server: string;
  lock: string;
}

export function layout(root: string): DataDirLayout {
  return {
    root,
    db: join(root, 'agentmgr.sqlite'),
    runs: join(root, 'runs'),
    agents: join(root, 'agents'),
    token: join(root, TOKEN_FILE),
    server: join(root, SERVER_FILE),
    lock: join(root, LOCK_FILE),
  };
}

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
    readonly holderPid: number,
    dir: string,
  ) {
    super(`another Manager (pid ${holderPid}) is already using ${dir}; stop it first, or use another --data-dir`);
  }
}

interface LockInfo {
  pid: number;
  startTime: string;
}

/**
 * One Manager per data dir. The lock file names the holder by pid and process start time; a lock
 * whose holder is gone is taken over. Creation is atomic (link of a complete temp file).
 */
export function acquireLock(l: DataDirLayout): () => void {
  const me: LockInfo = { pid: process.pid, startTime: readProcStat(process.pid)?.startTime ?? 'unknown' };
  const tmp = `${l.lock}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(me));
  try {
    for (let i = 0; i < 3; i++) {
      try {
        linkSync(tmp, l.lock);
        return () => releaseLock(l, me);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let holder: LockInfo | null = null;
      try {
        holder = JSON.parse(readFileSync(l.lock, 'utf8')) as LockInfo;
      } catch {
        holder = null;
      }
      if (holder && isSameProcessAlive(holder.pid, holder.startTime)) {
        throw new DataDirLockedError(holder.pid, l.root);
      }
      rmSync(l.lock, { force: true }); // stale: its holder is gone
    }
    throw new Error(`could not take the lock ${l.lock}`);
  } finally {
    rmSync(tmp, { force: true });
  }
}

function releaseLock(l: DataDirLayout, me: LockInfo): void {
  try {
    const holder = JSON.parse(readFileSync(l.lock, 'utf8')) as LockInfo;
    if (holder.pid === me.pid && holder.startTime === me.startTime) rmSync(l.lock, { force: true });
  } catch {
    // gone already
  }
}
