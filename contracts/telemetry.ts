import { z } from 'zod';

export const GpuProcessSchema = z.object({
  pid: z.number().int(),
  name: z.string(),
  /** null where the driver reports no per-process figure ("[N/A]"). */
  usedMB: z.number().nullable(),
});

export const GpuSnapshotSchema = z.object({
  index: z.number().int(),
  uuid: z.string(),
  name: z.string(),
  totalMB: z.number(),
  usedMB: z.number(),
  freeMB: z.number(),
  utilizationPct: z.number().nullable(),
  temperatureC: z.number().nullable(),
  powerW: z.number().nullable(),
  powerLimitW: z.number().nullable(),
  /** null when per-process readings are missing: then nothing on this GPU is known to be ours. */
  processes: z.array(GpuProcessSchema).nullable(),
  /** Its memory reads [N/A] (unified memory, MIG in a container): listed, but nothing is scheduled on its VRAM. */
  memoryUnknown: z.boolean().optional(),
  /** nvidia-smi reported it lost (it was seen before): shown full, so nothing is scheduled on it. */
  lost: z.boolean().optional(),
});
export type GpuSnapshot = z.infer<typeof GpuSnapshotSchema>;

export const GpuStatusSchema = z.object({
  state: z.enum(['ok', 'absent', 'error']),
  message: z.string().nullable(),
});
export type GpuStatus = z.infer<typeof GpuStatusSchema>;

export const TelemetrySnapshotSchema = z.object({
  at: z.date(),
  cpu: z.object({ cores: z.number().int(), loadPct: z.number().nullable() }),
  memory: z.object({ totalMB: z.number(), availableMB: z.number() }),
  gpus: z.array(GpuSnapshotSchema),
  gpuStatus: GpuStatusSchema,
});
export type TelemetrySnapshot = z.infer<typeof TelemetrySnapshotSchema>;

/** One point of the resource history the UI charts. VRAM split as ours / other programs / free. */
export const GpuSampleSchema = z.object({
  index: z.number().int(),
  utilizationPct: z.number().nullable(),
  totalMB: z.number(),
  oursMB: z.number(),
  foreignMB: z.number(),
  freeMB: z.number(),
  temperatureC: z.number().nullable(),
  powerW: z.number().nullable(),
});

export const TelemetrySampleSchema = z.object({
  /** Epoch ms. */
  at: z.number(),
  cpuLoadPct: z.number().nullable(),
  memoryUsedMB: z.number(),
  memoryTotalMB: z.number(),
  /** Of those, what our tasks' process groups used (CPU as % of the machine); absent in points saved before it was recorded. */
  oursCpuPct: z.number().nullable().optional(),
  oursMemoryMB: z.number().nullable().optional(),
  gpus: z.array(GpuSampleSchema),
});
export type TelemetrySample = z.infer<typeof TelemetrySampleSchema>;

export const HistoryRangeSchema = z.enum(['15m', '24h']);
export type HistoryRange = z.infer<typeof HistoryRangeSchema>;

/** The GPU status before nvidia-smi was first asked: not a finding that there is none. */
export const GPU_NOT_QUERIED = 'GPU not queried yet';
