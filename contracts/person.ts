import { z } from 'zod';

/**
 * Yielding the GPU to the person (game mode, focus mode): while one holds, GPU tasks below a
 * priority do not start. See src-main/core/person/yield.ts.
 */
export const YieldingViewSchema = z.object({
  by: z.enum(['game', 'focus']),
  /** In words: "game mode — steam_app_1091500 is running (GPU tasks below priority 10 wait)". */
  reason: z.string(),
  /** Game mode: since when, and the program; focus mode: until when (null: until turned off). */
  since: z.number().nullable(),
  until: z.number().nullable(),
  program: z.string().nullable(),
});
export type YieldingView = z.infer<typeof YieldingViewSchema>;

/** `agentmgr focus on|off|for 1h`: on (until turned off), off, or on for a while (seconds). */
export const FocusInputSchema = z
  .object({
    on: z.boolean(),
    forSec: z
      .number()
      .int()
      .min(1, 'focus lasts at least 1 s')
      .max(7 * 86_400, 'focus lasts at most a week (7 days)')
      .optional(),
  })
  .strict();
export type FocusInput = z.infer<typeof FocusInputSchema>;
