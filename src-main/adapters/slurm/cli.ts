import { execFile } from 'node:child_process';

/** How the Slurm commands are reached: on this machine (a login node), or through `via` (ssh). */
export interface SlurmCliConfig {
  /** The folder holding sbatch, squeue, scontrol and scancel; '' to find them on PATH. */
  bin: string;
  /** A command put in front of each call, e.g. ["ssh", "login1"]; [] to run them here. */
  via: readonly string[];
  /** A call that takes longer is taken as the controller being unreachable. */
  timeoutMs: number;
  /** Their environment (SLURM_CONF, for one); absent: the Manager's, less its API token. */
  env?: NodeJS.ProcessEnv;
}

export const DEFAULT_SLURM_CLI: SlurmCliConfig = { bin: '', via: [], timeoutMs: 20_000 };

export type SlurmTool = 'sbatch' | 'squeue' | 'scontrol' | 'scancel' | 'sacct' | 'sinfo';

export type CliResult =
  | { ok: true; stdout: string }
  /** unreachable: the controller (or the ssh hop) did not answer; try again later. Else Slurm said no. */
  | { ok: false; message: string; unreachable: boolean; stdout: string };

/** What Slurm's commands print when slurmctld cannot be reached (22.05 to 24.x), and ssh's own failures. */
const UNREACHABLE =
  /unable to contact slurm controller|socket timed out|connection refused|zero bytes were transmitted|communication connection failure|slurm_load_(jobs|partitions) error: unable|slurmctld.*(not responding|down)|could not resolve hostname|no route to host|connection timed out|ssh: connect to host|munge.*(socket|connect)/i;

/** The first line of a command's complaint, without Slurm's "sbatch: error: " prefixes. */
export function oneLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.replace(/^(sbatch|squeue|scontrol|scancel|sacct|sinfo|slurm_\w+)(: error)?:\s*/i, '').trim())
    .filter(Boolean);
  return (lines.find((l) => !/^batch job submission failed:?$/i.test(l)) ?? lines[0] ?? '').slice(0, 300);
}

const shellQuote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Runs Slurm's commands without blocking the Manager: each call is a child process, bounded in time. */
export class SlurmCli {
  readonly config: SlurmCliConfig;

  constructor(config: Partial<SlurmCliConfig> = {}) {
    this.config = { ...DEFAULT_SLURM_CLI, ...config };
  }

  run(tool: SlurmTool, args: readonly string[]): Promise<CliResult> {
    const program = this.config.bin ? `${this.config.bin.replace(/\/$/, '')}/${tool}` : tool;
    const [file, argv] =
      this.config.via.length > 0
        ? // Through ssh the command is one line for the remote shell: each word quoted.
          [this.config.via[0]!, [...this.config.via.slice(1), [program, ...args].map(shellQuote).join(' ')]]
        : [program, [...args]];
    const env = this.config.env ?? withoutToken(process.env);
    return new Promise((resolve) => {
      execFile(file, argv, { env, timeout: this.config.timeoutMs, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
        if (!error) return resolve({ ok: true, stdout });
        const e = error as Error & { killed?: boolean; code?: unknown };
        if (e.code === 'ENOENT') {
          return resolve({
            ok: false,
            unreachable: false,
            stdout,
            message: `${file} was not found: install Slurm's client commands here, or set slurm.bin (or slurm.via)`,
          });
        }
        if (e.killed)
          return resolve({ ok: false, unreachable: true, stdout, message: `${tool} did not answer within ${Math.round(this.config.timeoutMs / 1000)} s` });
        const said = oneLine(stderr) || oneLine(stdout) || e.message;
        // ssh itself fails with 255.
        resolve({ ok: false, unreachable: UNREACHABLE.test(stderr) || (this.config.via.length > 0 && e.code === 255), stdout, message: said });
      });
    });
  }
}

export function withoutToken(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const copy = { ...env };
  delete copy.AGENTMGR_TOKEN;
  return copy;
}
