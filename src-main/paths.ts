import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | null = null;

/**
 * The package's root folder (where package.json, drizzle/ and resources/ are), found by walking up
 * from this file, so it is the same from the sources (tests), dist/ (CLI) and out/ (Electron).
 */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'agentmgr') return (cached = dir);
      } catch {
        // not ours; keep walking
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the agentmgr package root above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export const migrationsDir = (): string => join(packageRoot(), 'drizzle');
export const bundledAgentsDir = (): string => join(packageRoot(), 'resources', 'agents');
export const rendererDir = (): string => join(packageRoot(), 'out', 'renderer');
/** The Node agent SDK and the TypeScript hook agents run with (clients/node). */
export const nodeSdkDir = (): string => join(packageRoot(), 'clients', 'node');
/** The Python client and agent SDK (clients/python/agentmgr). */
export const pythonSdkDir = (): string => join(packageRoot(), 'clients', 'python', 'agentmgr');
