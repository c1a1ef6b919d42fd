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
