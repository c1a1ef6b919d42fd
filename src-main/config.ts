import { homedir } from 'node:os';
import { join } from 'node:path';

export const PRODUCT_NAME = 'Agent Manager';
export const DEFAULT_PORT = 7420;

/**
 * The per-user data folder, the same one Electron's app.getPath('userData') gives the desktop app,
 * so the CLI, `agentmgr serve` and the app share tasks, agents and the API token.
 */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env, platform = process.platform): string {
  if (platform === 'win32') return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), PRODUCT_NAME);
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', PRODUCT_NAME);
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), PRODUCT_NAME);
}

export interface ServeOptions {
  dataDir: string;
  port: number;
  maxConcurrency: number | null;
  agentsDirs: string[];
  telemetryMs: number;
  vramMarginMB: number;
  memoryMarginMB: number;
  graceMs: number;
  /** null: three telemetry intervals. */
  readingWindowMs: number | null;
  reserveAfterSec: number;
  uploadMaxMB: number;
  nvidiaSmi: string;
  /** Residents' URLs given by the environment (they win over saved ones; '' turns one off). */
  residentUrls: Partial<Record<'ollama' | 'comfyui' | 'llamacpp', string>>;
  /** How often each resident is polled. */
  residentPollMs: number;
  /** How often game mode looks for the person's programs. */
  gameWatchMs: number;
  /** Agents are started through the spawner helper (default), or by the Manager itself (AGENTMGR_SPAWNER=0). */
  spawner?: boolean;
  /** The spawner's program, for tests (AGENTMGR_SPAWNER_COMMAND, JSON: ["file", "arg", ...]); absent: the built helper. */
  spawnerCommand?: { file: string; args: string[] };
  /** How often waiting backend-auto tasks are looked at for the Slurm cluster (AGENTMGR_SLURM_AUTO_EVERY_MS); undefined: the default (15 s). */
  slurmAutoEveryMs?: number;
  /** Game mode's programs given by the environment (they win over the saved ones at start; '' turns it off). */
  gamePrograms: string | undefined;
  /** Which of the live settings were given by a flag or the environment (they win over saved ones). */
  explicit: ReadonlySet<LiveSetting>;
}

/** The live settings that a flag or environment variable can also set. */
export type LiveSetting = 'maxConcurrency' | 'vramMarginMB' | 'telemetryMs' | 'reserveAfterSec';

export class ConfigError extends Error {}

function int(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return n;
}

/** Every knob with its flag, its environment variable and its default. Flags win over env. */
export function resolveServeOptions(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): ServeOptions {
  const s = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
  const extraDirs = [
    ...(env.AGENTMGR_AGENTS_DIR ? env.AGENTMGR_AGENTS_DIR.split(':').filter(Boolean) : []),
    ...(Array.isArray(flags['agents-dir']) ? (flags['agents-dir'] as string[]) : typeof flags['agents-dir'] === 'string' ? [flags['agents-dir']] : []),
  ];
  const explicit = new Set<LiveSetting>();
  if (s(flags['max-concurrency']) ?? env.AGENTMGR_MAX_CONCURRENCY) explicit.add('maxConcurrency');
  if (env.AGENTMGR_VRAM_MARGIN_MB) explicit.add('vramMarginMB');
  if (env.AGENTMGR_TELEMETRY_MS) explicit.add('telemetryMs');
  if (env.AGENTMGR_RESERVE_AFTER_SEC) explicit.add('reserveAfterSec');
  return {
    explicit,
    dataDir: s(flags['data-dir']) ?? env.AGENTMGR_DATA_DIR ?? defaultDataDir(env),
    port: int('--port / AGENTMGR_PORT', s(flags.port) ?? env.AGENTMGR_PORT, 0, 65535) ?? DEFAULT_PORT,
    maxConcurrency: int('--max-concurrency / AGENTMGR_MAX_CONCURRENCY', s(flags['max-concurrency']) ?? env.AGENTMGR_MAX_CONCURRENCY, 1, 10_000) ?? null,
    agentsDirs: extraDirs,
    telemetryMs: int('AGENTMGR_TELEMETRY_MS', env.AGENTMGR_TELEMETRY_MS, 100, 60_000) ?? 1000,
    vramMarginMB: int('AGENTMGR_VRAM_MARGIN_MB', env.AGENTMGR_VRAM_MARGIN_MB, 0, 1_048_576) ?? 256,
    memoryMarginMB: int('AGENTMGR_MEMORY_MARGIN_MB', env.AGENTMGR_MEMORY_MARGIN_MB, 0, 16_777_216) ?? 512,
    graceMs: int('AGENTMGR_KILL_GRACE_MS', env.AGENTMGR_KILL_GRACE_MS, 0, 600_000) ?? 5000,
    readingWindowMs: int('AGENTMGR_READING_WINDOW_MS', env.AGENTMGR_READING_WINDOW_MS, 0, 3_600_000) ?? null,
    reserveAfterSec: int('AGENTMGR_RESERVE_AFTER_SEC', env.AGENTMGR_RESERVE_AFTER_SEC, 0, 86_400) ?? 60,
    uploadMaxMB: int('AGENTMGR_UPLOAD_MAX_MB', env.AGENTMGR_UPLOAD_MAX_MB, 1, 1_048_576) ?? 2048,
    nvidiaSmi: env.AGENTMGR_NVIDIA_SMI ?? 'nvidia-smi',
    residentUrls: Object.fromEntries(
      (['ollama', 'comfyui', 'llamacpp'] as const).flatMap((k) => {
        const v = env[`AGENTMGR_${k.toUpperCase()}_URL`];
        return v === undefined ? [] : [[k, v]];
      }),
    ),
    residentPollMs: int('AGENTMGR_RESIDENT_POLL_MS', env.AGENTMGR_RESIDENT_POLL_MS, 50, 600_000) ?? 2000,
    gameWatchMs: int('AGENTMGR_GAME_WATCH_MS', env.AGENTMGR_GAME_WATCH_MS, 50, 600_000) ?? 2000,
    gamePrograms: env.AGENTMGR_GAME_PROGRAMS,
    spawner: env.AGENTMGR_SPAWNER !== '0',
    spawnerCommand: spawnerCommand(env.AGENTMGR_SPAWNER_COMMAND),
    slurmAutoEveryMs: int('AGENTMGR_SLURM_AUTO_EVERY_MS', env.AGENTMGR_SLURM_AUTO_EVERY_MS, 100, 3_600_000),
  };
}

function spawnerCommand(raw: string | undefined): { file: string; args: string[] } | undefined {
  if (!raw) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw new ConfigError(`AGENTMGR_SPAWNER_COMMAND must be a JSON list of strings (["/path/to/program", "arg"]), got "${raw}"`);
  }
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string'))
    throw new ConfigError(`AGENTMGR_SPAWNER_COMMAND must be a JSON list of strings (["/path/to/program", "arg"]), got "${raw}"`);
  return { file: v[0] as string, args: v.slice(1) as string[] };
}
