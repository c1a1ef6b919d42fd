import { z } from 'zod';
import { isLoopbackUrl, ResidentPolicySchema, ResidentUrlSchema } from './residents.js';

/**
 * Limits past which no new GPU task starts on a GPU, judged on the average of its last 10 s
 * (see core/ledger/gpu-limits.ts); null: no limit.
 */
export const GpuLimitsSchema = z
  .object({
    maxUtilPct: z.number().int().min(1, 'maxUtilPct must be 1–100 (%)').max(100, 'maxUtilPct must be 1–100 (%)').nullable(),
    maxTempC: z.number().int().min(30, 'maxTempC must be 30–120 (°C)').max(120, 'maxTempC must be 30–120 (°C)').nullable(),
    maxPowerW: z.number().min(1, 'maxPowerW must be 1–2000 (W)').max(2000, 'maxPowerW must be 1–2000 (W)').nullable(),
  })
  .partial()
  .strict();
export type GpuLimits = z.infer<typeof GpuLimitsSchema>;

/** The Manager's knobs a person can change while it runs; applied live and kept across restarts. */
const SettingsObject = z
  .object({
    maxConcurrency: z.number().int().min(1).max(10_000),
    vramMarginMB: z.number().int().min(0).max(65_536),
    telemetryMs: z.number().int().min(100).max(60_000),
    /**
     * Seconds a task held back by resources waits before what our tasks free is kept for it, so a
     * stream of smaller tasks cannot starve it; 0 never keeps anything (pure backfill).
     */
    reserveAfterSec: z.number().int().min(0).max(86_400),
    /** Desktop notifications when a task finishes or fails (the desktop app). */
    desktopNotifications: z.boolean(),
    /** Every GPU's limits (see GpuLimitsSchema); null: none. */
    gpuMaxUtilPct: GpuLimitsSchema.shape.maxUtilPct.unwrap(),
    gpuMaxTempC: GpuLimitsSchema.shape.maxTempC.unwrap(),
    gpuMaxPowerW: GpuLimitsSchema.shape.maxPowerW.unwrap(),
    /** Fair share: half of a project's usage is forgotten every this long. */
    usageHalfLifeSec: z
      .number()
      .int()
      .min(60)
      .max(30 * 86_400),
    /** A task is never preempted before it has run this long (so nothing thrashes). */
    preemptMinRunSec: z.number().int().min(0).max(86_400),
    /** One GPU's limits, by index, over those of every GPU (`gpuMaxUtilPct.1=80` in the CLI). */
    gpuLimits: z.record(z.string().regex(/^\d+$/, 'a GPU index'), GpuLimitsSchema),
    /** Residents (contracts/residents.ts): each server's URL (empty: off) and policy. */
    ollamaUrl: ResidentUrlSchema,
    ollamaPolicy: ResidentPolicySchema,
    comfyuiUrl: ResidentUrlSchema,
    comfyuiPolicy: ResidentPolicySchema,
    llamacppUrl: ResidentUrlSchema,
    llamacppPolicy: ResidentPolicySchema,
    /** A resident under when-idle is unloaded only after this long without activity. */
    residentIdleSec: z.number().int().min(0).max(86_400),
    /** Game mode (core/person/yield.ts): the programs that take the GPU, comma-separated globs; empty: off. */
    gameModePrograms: z
      .string()
      .max(2000, 'at most 2000 characters of patterns')
      .refine((s) => s.split(',').every((p) => p.trim() === '' || /^[A-Za-z0-9_.*?\-]+$/.test(p.trim())), {
        message: 'program patterns are names with * and ? (like steam_app_*, *.exe), separated by commas',
      }),
    /** Game and focus mode hold GPU tasks below this priority (0: none held; 101: all). */
    gameModeBelowPriority: z.number().int().min(-1000).max(1001),
    /** Game mode ends this long after the last game exits. */
    gameModeExitSec: z.number().int().min(0).max(3600),
    /** Game mode also frees the GPU when it begins: preemptible GPU tasks below the threshold queued again, residents unloaded. */
    gameModeFreeVram: z.boolean(),
    /** Idle-only work (whenIdle) starts once the person has been away this many minutes. */
    idleAfterMin: z.number().int().min(0).max(1440),
    /** A resident URL that is not on this machine's loopback is taken (the person confirmed the server is theirs). */
    residentRemoteAllowed: z.boolean(),
    /** The Slurm cluster (adapters/slurm): read when the Manager starts. */
    slurmEnabled: z.boolean(),
    /** A folder the cluster's nodes see at the same path: each attempt's job script, output and artifacts go there. */
    slurmSharedDir: z
      .string()
      .max(1000)
      .refine((s) => s === '' || s.startsWith('/'), { message: 'slurmSharedDir must be an absolute path (or empty)' }),
    /** The folder of sbatch, squeue, scontrol and scancel; empty: found on PATH. */
    slurmBin: z.string().max(1000),
    /** A command that reaches a login node, put before each Slurm command (e.g. "ssh login1"); empty: run here. */
    slurmVia: z.string().max(1000),
    slurmPartition: z
      .string()
      .max(200)
      .regex(/^[\w.,-]*$/, 'a partition name (letters, digits, . , _ -)'),
    slurmAccount: z
      .string()
      .max(200)
      .regex(/^[\w.-]*$/, 'an account name (letters, digits, . _ -)'),
    slurmQos: z
      .string()
      .max(200)
      .regex(/^[\w.-]*$/, 'a QoS name (letters, digits, . _ -)'),
    /** More sbatch options, separated by spaces (e.g. "--constraint=a100 --exclusive"). */
    slurmExtraArgs: z.string().max(2000),
    /** Backend auto: a task whose start here is further off than this (s) goes to the cluster when it has room; null: never for waiting. Applied live. */
    slurmAutoAfterSec: z
      .number()
      .int()
      .min(0, 'slurmAutoAfterSec must be 0–2592000 s, or none')
      .max(30 * 86_400, 'slurmAutoAfterSec must be 0–2592000 s, or none')
      .nullable(),
  })
  .strict();

/**
 * What is wrong with the residents' URLs taken together with residentRemoteAllowed, in words;
 * null when nothing is. Checked on the whole settings after a change (and in the Settings view).
 */
export function remoteResidentProblem(s: Partial<Settings>): { key: keyof Settings; message: string } | null {
  if (s.residentRemoteAllowed) return null;
  for (const key of ['ollamaUrl', 'comfyuiUrl', 'llamacppUrl'] as const) {
    const url = s[key];
    if (url && !isLoopbackUrl(url))
      return {
        key,
        message: `${key} ${url} is not on this machine (a resident is a server on this machine: http://127.0.0.1:PORT); if that server is yours, in a container or VM on this machine, say so with residentRemoteAllowed=true`,
      };
  }
  return null;
}

export const SettingsSchema = SettingsObject.superRefine((s, ctx) => {
  const p = remoteResidentProblem(s);
  if (p) ctx.addIssue({ code: 'custom', path: [p.key], message: p.message });
});

/** What game mode looks for unless changed: Steam games (its launcher's reaper), gamescope, and Windows games under Wine or Proton. */
export const DEFAULT_GAME_PROGRAMS = 'steam_app_*, gamescope, *.exe';

/** The settings that take effect when the Manager next starts (the Slurm executor is built then). */
export const SLURM_SETTINGS = [
  'slurmEnabled',
  'slurmSharedDir',
  'slurmBin',
  'slurmVia',
  'slurmPartition',
  'slurmAccount',
  'slurmQos',
  'slurmExtraArgs',
] as const;

/** The settings that are text, not numbers (the CLI and the UI pass them as typed). */
export const TEXT_SETTINGS = new Set<keyof Settings>([
  'ollamaUrl',
  'ollamaPolicy',
  'comfyuiUrl',
  'comfyuiPolicy',
  'llamacppUrl',
  'llamacppPolicy',
  'gameModePrograms',
  // Every Slurm setting but the switch.
  ...SLURM_SETTINGS.filter((k) => k !== 'slurmEnabled'),
]);
export type SlurmSettings = Pick<Settings, (typeof SLURM_SETTINGS)[number]>;
export const DEFAULT_SLURM_SETTINGS: SlurmSettings = {
  slurmEnabled: false,
  slurmSharedDir: '',
  slurmBin: '',
  slurmVia: '',
  slurmPartition: '',
  slurmAccount: '',
  slurmQos: '',
  slurmExtraArgs: '',
};
export type Settings = z.infer<typeof SettingsObject>;
export const SettingsPatchSchema = SettingsObject.partial();
export type SettingsPatch = z.infer<typeof SettingsPatchSchema>;

/** What each setting is, in words, for the Settings view and `agentmgr settings`. */
export const SETTINGS_INFO: Record<keyof Settings, { label: string; help: string }> = {
  maxConcurrency: { label: 'Max tasks at once', help: 'How many tasks may run at the same time (1–10000).' },
  vramMarginMB: { label: 'VRAM safety margin (MB)', help: 'Kept free on every GPU for the desktop and allocator slack (0–65536).' },
  telemetryMs: { label: 'Telemetry interval (ms)', help: 'How often CPU, RAM and GPUs are sampled (100–60000).' },
  reserveAfterSec: {
    label: 'Keep resources for a waiting task after (s)',
    help: 'Smaller tasks may start ahead of one that does not fit. After this long, what finishing tasks free is kept for it, so it is not starved (0 = never, up to 86400).',
  },
  desktopNotifications: { label: 'Desktop notifications when a task finishes or fails (desktop app)', help: 'true or false.' },
  gpuMaxUtilPct: {
    label: 'GPU utilisation limit (%)',
    help: 'No new GPU task starts on a GPU busier than this over the last 10 s; it starts again 5 points below (1–100, none = no limit).',
  },
  gpuMaxTempC: {
    label: 'GPU temperature limit (°C)',
    help: 'No new GPU task starts on a GPU hotter than this over the last 10 s; it starts again 3 °C below (30–120, none = no limit).',
  },
  gpuMaxPowerW: {
    label: 'GPU power limit (W)',
    help: 'No new GPU task starts on a GPU drawing more than this over the last 10 s; it starts again 5 % below (1–2000, none = no limit).',
  },
  usageHalfLifeSec: {
    label: 'Fair-share half-life (s)',
    help: "Half of a project's recorded usage is forgotten every this long; shorter forgives heavy use sooner (60–2592000, default 3600).",
  },
  preemptMinRunSec: {
    label: 'Preempt only after (s)',
    help: 'A preemptible task is never preempted before it has run this long, so nothing thrashes (0–86400, default 60).',
  },
  gpuLimits: { label: 'Per-GPU limits', help: "One GPU's limits over the ones above, e.g. gpuMaxUtilPct.1=80 (none removes it)." },
  ollamaUrl: { label: 'Ollama URL', help: 'Its API on this machine (default http://127.0.0.1:11434); empty turns the integration off.' },
  ollamaPolicy: {
    label: 'Ollama: unload models',
    help: 'never, when-idle (default: after residentIdleSec without a request) or always, when a task needs the VRAM.',
  },
  comfyuiUrl: { label: 'ComfyUI URL', help: 'Its API on this machine (default http://127.0.0.1:8188); empty turns the integration off.' },
  comfyuiPolicy: { label: 'ComfyUI: free memory', help: 'never, when-idle (default: its queue empty for residentIdleSec) or always.' },
  llamacppUrl: {
    label: 'llama-server URL',
    help: 'A llama.cpp llama-server in router mode, e.g. http://127.0.0.1:8080 (off by default); only router mode can unload.',
  },
  llamacppPolicy: { label: 'llama-server: unload models', help: 'never, when-idle (default) or always.' },
  residentIdleSec: {
    label: 'Residents idle after (s)',
    help: 'A resident under when-idle is asked to unload only after this long without activity (0–86400, default 60).',
  },
  gameModePrograms: {
    label: 'Game mode: programs',
    help: 'While one of these runs, GPU tasks below the priority below wait. Names with * and ?, comma-separated (default steam_app_*, gamescope, *.exe); empty turns game mode off.',
  },
  gameModeBelowPriority: {
    label: 'Game and focus mode: hold GPU tasks below priority',
    help: 'GPU tasks with a lower priority wait while a game runs or focus mode is on; higher ones and CPU tasks go on (default 10).',
  },
  gameModeExitSec: { label: 'Game mode: ends after (s)', help: 'How long after the last game exits GPU work resumes (0–3600, default 30).' },
  gameModeFreeVram: {
    label: 'Game mode: free the GPU when a game starts',
    help: 'true: preemptible GPU tasks below the threshold are queued again and residents asked to unload; false (default): they finish.',
  },
  residentRemoteAllowed: {
    label: 'Residents: allow a URL that is not on this machine',
    help: "true: a resident URL such as a container's address (http://172.17.0.2:11434) is taken, as you confirm the server is yours; false (default): only http://127.0.0.1, localhost or [::1].",
  },
  slurmEnabled: {
    label: 'Slurm: send tasks to the cluster',
    help: 'true: tasks with backend slurm (or auto, when they can never fit here) run as Slurm batch jobs; needs slurmSharedDir. Takes effect when the Manager restarts.',
  },
  slurmSharedDir: {
    label: 'Slurm: shared folder',
    help: "An absolute path the cluster's nodes see at the same path (NFS, Lustre): job scripts, output and artifacts go there. Takes effect on restart.",
  },
  slurmBin: { label: 'Slurm: commands folder', help: 'Where sbatch, squeue, scontrol and scancel are; empty: on PATH. Takes effect on restart.' },
  slurmVia: {
    label: 'Slurm: reach the cluster through',
    help: 'A command put before each Slurm command, e.g. "ssh login1" (key-based, no password prompt); empty: this machine is a login node. Takes effect on restart.',
  },
  slurmPartition: { label: 'Slurm: partition', help: "sbatch --partition; empty: the cluster's default. Takes effect on restart." },
  slurmAccount: { label: 'Slurm: account', help: 'sbatch --account; empty: your default account. Takes effect on restart.' },
  slurmQos: { label: 'Slurm: QoS', help: 'sbatch --qos; empty: the default. Takes effect on restart.' },
  slurmAutoAfterSec: {
    label: 'Slurm: send auto tasks that would wait here longer than (s)',
    help: 'A task submitted with backend auto whose start on this machine is estimated further off than this goes to the cluster, when sinfo says a node has room for it now (0–2592000; none, the default: only what can never fit here goes). Applied at once.',
  },
  slurmExtraArgs: {
    label: 'Slurm: more sbatch options',
    help: 'Passed to every sbatch as given, separated by spaces, e.g. --constraint=a100. Takes effect on restart.',
  },
  idleAfterMin: {
    label: 'Idle-only work starts after (min away)',
    help: 'Tasks marked whenIdle start once you have had no keyboard or mouse input this long (0–1440, default 10). Headless, the idle time is fed through the API (agentmgr idle SECONDS); never fed, you count as away.',
  },
};
