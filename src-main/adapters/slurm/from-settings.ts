import { join } from 'node:path';
import type { SlurmSettings } from '../../../contracts/settings.js';
import { SlurmCli } from './cli.js';
import { SlurmQueue } from './queue.js';
import { SlurmCapacity } from './capacity.js';
import { SlurmAgentRunner } from './runner.js';

const words = (s: string): string[] => s.split(/\s+/).filter(Boolean);

/**
 * The Slurm executor the settings describe: null when it is off; what to fix when it is on but
 * cannot work (no shared folder).
 */
export function slurmFromSettings(
  s: SlurmSettings,
  env?: NodeJS.ProcessEnv,
): { runner: SlurmAgentRunner; queue: SlurmQueue; capacity: SlurmCapacity } | { problem: string } | null {
  if (!s.slurmEnabled) return null;
  if (!s.slurmSharedDir)
    return {
      problem:
        'slurmEnabled is true but slurmSharedDir is empty: set it to a folder the cluster nodes see at the same path (agentmgr settings set slurmSharedDir=/shared/agentmgr)',
    };
  const cli = new SlurmCli({ bin: s.slurmBin, via: words(s.slurmVia), ...(env ? { env } : {}) });
  const queue = new SlurmQueue(cli);
  const runner = new SlurmAgentRunner({
    runsDir: join(s.slurmSharedDir, 'runs'),
    cli,
    queue,
    partition: s.slurmPartition || null,
    account: s.slurmAccount || null,
    qos: s.slurmQos || null,
    extraArgs: words(s.slurmExtraArgs),
  });
  return { runner, queue, capacity: new SlurmCapacity(cli, s.slurmPartition || null) };
}
