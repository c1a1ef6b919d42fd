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

export type GpuRequest = z.infer<typeof GpuRequestSchema>;
export type ResourceRequest = z.infer<typeof ResourceRequestSchema>;
export type ResourceOverride = z.infer<typeof ResourceOverrideSchema>;
