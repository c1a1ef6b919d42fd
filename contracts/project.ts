import { z } from 'zod';

const quota = (name: string, unit: string) =>
  z.number().int(`${name} must be a whole number of ${unit}`).min(0, `${name} must be 0 or more (${unit}); none removes it`).max(1_000_000_000).nullable();

/** A project's weight and quotas, as set with `agentmgr project set NAME weight=2 maxRunning=4`. */
export const ProjectSettingsSchema = z
  .object({
    /** Its share of the machine against the other projects' weights (fair share). */
    weight: z.number().gt(0, 'weight must be more than 0 (1 is the default; 2 gets twice the share)').max(1_000_000),
    /** Most of its tasks running at once; null: no quota. */
    maxRunning: quota('maxRunning', 'tasks'),
    /** Most VRAM its running tasks hold at once (MB); null: no quota. */
    maxVramMB: quota('maxVramMB', 'MB'),
    /** Most of its tasks queued at once (more are refused at submit); null: no quota. */
    maxQueued: quota('maxQueued', 'tasks'),
  })
  .strict();
export type ProjectSettings = z.infer<typeof ProjectSettingsSchema>;
export const ProjectPatchSchema = ProjectSettingsSchema.partial();
export type ProjectPatch = z.infer<typeof ProjectPatchSchema>;

export const DEFAULT_PROJECT_SETTINGS: ProjectSettings = { weight: 1, maxRunning: null, maxVramMB: null, maxQueued: null };

/** A project as `agentmgr project list` and the UI show it. */
export const ProjectViewSchema = ProjectSettingsSchema.extend({
  name: z.string(),
  /** Its decayed usage (resource-seconds, see docs), and that as a share of all projects' usage (0–1). */
  usage: z.number(),
  usageShare: z.number(),
  /** What its weight entitles it to among the projects with tasks queued or running (0–1). */
  targetShare: z.number(),
  running: z.number().int(),
  queued: z.number().int(),
  vramMB: z.number(),
});
export type ProjectView = z.infer<typeof ProjectViewSchema>;

/** A script's token, bound to one project (the secret itself is shown only once, at creation). */
export const TokenViewSchema = z.object({
  id: z.number().int(),
  project: z.string(),
  label: z.string().nullable(),
  /** The first characters of the token, to tell them apart. */
  prefix: z.string(),
  createdAt: z.date(),
});
export type TokenView = z.infer<typeof TokenViewSchema>;
