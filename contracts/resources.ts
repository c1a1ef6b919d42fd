import { z } from 'zod';

/** Upper bounds that no workstation reaches: anything above is a typo, not a request. */
export const LIMITS = {
  cpu: 1024,
  memoryMB: 16 * 1024 * 1024,
  gpuCount: 16,
  vramMB: 1024 * 1024,
} as const;

export const GpuRequestSchema = z
  .object({
    count: z.number().int().min(1).max(LIMITS.gpuCount),
    vramMB: z.number().int().min(0).max(LIMITS.vramMB),
  })
  .strict();

/** What a task needs to start: CPU cores (may be fractional), RAM, and optionally VRAM per GPU. */
export const ResourceRequestSchema = z
  .object({
    cpu: z.number().min(0).max(LIMITS.cpu),
    memoryMB: z.number().int().min(0).max(LIMITS.memoryMB),
    gpu: GpuRequestSchema.optional(),
  })
  .strict();

/** A task may override any part of its agent's declared resources. */
export const ResourceOverrideSchema = z
  .object({
    cpu: ResourceRequestSchema.shape.cpu.optional(),
    memoryMB: ResourceRequestSchema.shape.memoryMB.optional(),
    gpu: z
      .object({
        count: GpuRequestSchema.shape.count.optional(),
        vramMB: GpuRequestSchema.shape.vramMB.optional(),
      })
      .strict()
      .nullable()
      .optional(),
  })
  .strict();

export type ResourceRequest = z.infer<typeof ResourceRequestSchema>;
export type ResourceOverride = z.infer<typeof ResourceOverrideSchema>;

/**
 * The one account of the machine's resources, as the scheduler sees it. For each resource:
 * `total` = `foreign` (other programs) + `ours` (our running tasks: the larger of what each
 * reserved and what it was measured to use) + `kept` (held for a task that has waited too long)
 * + `margin` (kept free for the desktop) + `free`. **Free** is what a new task can be given now;
 * it is never shown below 0 (other programs may grow past what is left).
 * CPU is shared time, so only reservations count there: its `foreign` and `margin` are 0.
 */
export const HolderSchema = z.object({
  name: z.string(),
  mb: z.number(),
  /** What more is known of it (a resident: "idle 3 min, can be freed"). */
  note: z.string().optional(),
});
export type Holder = z.infer<typeof HolderSchema>;

const amounts = {
  foreignMB: z.number(),
  oursMB: z.number(),
  keptMB: z.number(),
  marginMB: z.number(),
  freeMB: z.number(),
  totalMB: z.number(),
};

export const ResourceViewSchema = z.object({
  /** Epoch ms of the telemetry it was made from. */
  at: z.number(),
  cpu: z.object({
    totalCores: z.number(),
    foreignCores: z.number(),
    oursCores: z.number(),
    keptCores: z.number(),
    marginCores: z.number(),
    freeCores: z.number(),
  }),
  memory: z.object(amounts),
  gpus: z.array(
    z.object({
      index: z.number().int(),
      name: z.string(),
      ...amounts,
      /** How many of our tasks hold VRAM here. */
      oursTasks: z.number().int(),
      /** The largest other programs, largest first (at most three). */
      foreignTop: z.array(HolderSchema),
      /** Why nothing is scheduled on it (memory not reported, lost); null when it can be used. */
      unusable: z.string().nullable(),
      /** Over one of its limits ("GPU 0 at 97 % utilisation, limit 90 %"): no new GPU task starts on it. */
      limited: z.string().nullable().optional(),
    }),
  ),
  /** Why no GPU is listed, when none is. */
  gpuStatus: z.object({ state: z.enum(['ok', 'absent', 'error']), message: z.string().nullable() }),
  /** Our tasks holding resources (starting or running). */
  running: z.number().int(),
  /** The task what is kept is held for; null when nothing is kept. */
  keptFor: z.number().int().nullable(),
});
export type ResourceView = z.infer<typeof ResourceViewSchema>;
