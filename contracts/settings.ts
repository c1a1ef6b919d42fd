import { z } from 'zod';

/** The Manager's knobs a person can change while it runs; applied live and kept across restarts. */
export const SettingsSchema = z
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
  })
  .strict();
export type Settings = z.infer<typeof SettingsSchema>;
export const SettingsPatchSchema = SettingsSchema.partial();
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
};
