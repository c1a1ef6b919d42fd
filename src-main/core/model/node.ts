import type { ResidentKind } from '../../../contracts/residents.js';
import type { ResourceRequest } from '../../../contracts/resources.js';
import type { GpuSnapshot, GpuStatus } from '../../../contracts/telemetry.js';

/** A GPU process as the core sees it: the adapter adds the process group, so ours can be told apart. */
export interface GpuProcessView {
  pid: number;
  name: string;
  usedMB: number | null;
  /** Process group id where known; our agents each lead their own group. */
  pgid?: number | null;
}

export interface GpuView extends Omit<GpuSnapshot, 'processes'> {
  processes: GpuProcessView[] | null;
}

/** What one of our process groups (an agent and all it started) uses. */
export interface GroupUsageView {
  rssMB: number;
  /** Cores in use since the last sample; null until two samples exist. */
  cpuCores: number | null;
}

/** The machine as last observed. */
export interface NodeSnapshot {
  cpuCores: number;
  memoryTotalMB: number;
  memoryAvailableMB: number;
  gpus: GpuView[];
  gpuStatus: GpuStatus;
  /** Usage of the process groups the Manager asked to watch (see TelemetrySource.watch). */
  groups?: ReadonlyMap<number, GroupUsageView>;
}

/** One of our tasks that holds resources (starting or running). */
export interface RunningUsage {
  taskId: number;
  agent: string;
  /** Its project (absent: "default"). */
  project?: string;
  request: ResourceRequest;
  /** GPU indexes it was given. */
  gpus: number[];
  /** Its array, when that array has a throttle (counted against it); else null or absent. */
  array?: number | null;
  /** Its process group, to attribute per-process GPU memory to it. null until spawned. */
  pgid: number | null;
  /** Measured resident memory of its process group, where known. */
  measuredMemoryMB?: number | null;
  /** For preemption (scheduler/preempt.ts): its priority, whether it may be preempted, and when it started. */
  priority?: number;
  preemptible?: boolean;
  startedAt?: number;
  /** The resident server its agent drives (an ollama or comfyui task): that server's VRAM up to its request is its own. */
  drives?: ResidentKind | null;
}
