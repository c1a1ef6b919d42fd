import { join } from 'node:path';

/** Where things live in a data dir. Apart from data-dir.ts, so the CLI finds them without loading SQLite. */
export const TOKEN_FILE = 'api-token';
export const SERVER_FILE = 'server.json';
export const LOCK_FILE = 'manager.lock';

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
