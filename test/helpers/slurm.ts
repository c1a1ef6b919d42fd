import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { SlurmCli, withoutToken } from '../../src-main/adapters/slurm/cli.js';

/**
 * The one-machine Slurm cluster of scripts/slurm-dev.sh, which `npm test` starts where Slurm is
 * installed and the tests run as root (CI). Its tests are skipped where it is not up, unless
 * AGENTMGR_REQUIRE_SLURM=1 (set by npm test when it started it): then a cluster that is not up fails them.
 */
export const SLURM_DEV = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'scripts', 'slurm-dev.sh');
const CONF = process.env.SLURM_CONF ?? join(process.env.AGENTMGR_SLURM_DIR ?? '/tmp/agentmgr-slurm', 'slurm.conf');

/** The dev cluster's slurm.conf (SLURM_CONF for its client commands). */
export const SLURM_CONF_PATH = CONF;
export const slurmEnv = (): NodeJS.ProcessEnv => ({ ...withoutToken(process.env), SLURM_CONF: CONF });

function up(): boolean {
  if (!existsSync(CONF)) return false;
  try {
    return /idle|mix|alloc|compl|plan/.test(execFileSync('sinfo', ['-h', '-N', '-o', '%T'], { env: slurmEnv(), timeout: 10_000, encoding: 'utf8' }));
  } catch {
    return false;
  }
}

/** Whether the dev cluster is up; throws where it is required and is not. */
export function devSlurm(): boolean {
  const ok = up();
  if (!ok && process.env.AGENTMGR_REQUIRE_SLURM === '1')
    throw new Error(`AGENTMGR_REQUIRE_SLURM=1 but the dev Slurm cluster is not up (${CONF}): run scripts/slurm-dev.sh start`);
  return ok;
}

export const slurmCli = (over: Partial<ConstructorParameters<typeof SlurmCli>[0]> = {}): SlurmCli =>
  new SlurmCli({ env: slurmEnv(), timeoutMs: 15_000, ...over });

/** Runs a Slurm command for a test's own look (squeue, scontrol), synchronously. */
export const slurmSync = (tool: string, args: string[]): string => execFileSync(tool, args, { env: slurmEnv(), timeout: 15_000, encoding: 'utf8' });

/** Cancels every job of that name prefix (a test's leftovers). */
export function cancelJobs(prefix: string): void {
  try {
    const out = slurmSync('squeue', ['-h', '-o', '%i %j']);
    const ids = out
      .split('\n')
      .map((l) => l.trim().split(' '))
      .filter(([, name]) => name?.startsWith(prefix))
      .map(([id]) => id!);
    if (ids.length) slurmSync('scancel', ids);
  } catch {
    // the cluster is gone: nothing to cancel
  }
}

/** Runs scripts/slurm-dev.sh (start, stop). */
export const slurmDev = (verb: 'start' | 'stop'): string => execFileSync(SLURM_DEV, [verb], { timeout: 60_000, encoding: 'utf8' });
