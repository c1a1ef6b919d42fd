import type { GpuLimits } from '../../contracts/settings.js';
import type { AgentCatalog, AgentRunner, ClusterPort, Clock, EventSink, Logger, PersonPort, ResidentPort, TaskStore, TelemetrySource } from './ports.js';

export interface ManagerConfig {
  maxConcurrency: number;
  /** Game and focus mode: GPU tasks below this priority wait (default 10). */
  yieldBelowPriority?: number;
  /** Game mode ends this long after the last game was seen (default 30 s). */
  gameModeExitMs?: number;
  /** Idle-only work (whenIdle) starts once the person has been away this long (default 10 min). */
  idleAfterMs?: number;
  /** Game mode also frees the GPU when it begins (preemptible GPU tasks below the threshold queued again, residents unloaded). */
  gameModeFreeVram?: boolean;
  vramMarginMB: number;
  memoryMarginMB: number;
  /** Progress updates are written at most this often per task. */
  progressFlushMs: number;
  /** The window the two nvidia-smi readings are reconciled over (see ledger/readings.ts); 0 trusts each snapshot. */
  readingWindowMs: number;
  /** Fair share: half of a project's usage is forgotten every this long (default 1 h). */
  usageHalfLifeMs?: number;
  /** Preempt lower-priority preemptible tasks for a waiting one (default true). */
  preemption?: boolean;
  /** A task is never preempted before it has run this long (default 60 s). */
  preemptMinRunMs?: number;
  /** Limits past which no new GPU task starts on a GPU (see ledger/gpu-limits.ts): every GPU's, and one GPU's over them. */
  gpuLimits?: { all: GpuLimits; perGpu: Record<string, GpuLimits> };
  /** A task held back by resources this long gets them kept for it (see reservation.ts); null for never. */
  reserveAfterMs: number | null;
  /** A resident under `when-idle` is unloaded only after this long without activity (default 60 s). */
  residentIdleMs?: number;
  /** An unload not seen done by then is given up on (default 30 s). */
  residentUnloadTimeoutMs?: number;
  /** Backend auto: a task whose start here is further off than this is sent to the Slurm cluster when it has room (core/runs/offload.ts); null or absent: never for waiting. */
  slurmAutoAfterMs?: number | null;
  /** How often waiting auto tasks are looked at (default OFFLOAD.everyMs). */
  slurmAutoEveryMs?: number;
  /** The ResourceView is published at most this often (default 900 ms: about once a telemetry tick). */
  resourcesEveryMs?: number;
}

export interface ManagerDeps {
  store: TaskStore;
  telemetry: TelemetrySource;
  runner: AgentRunner;
  /** The Slurm cluster's executor, for tasks whose backend is slurm; absent: no cluster is set up. */
  slurm?: AgentRunner;
  /** What the Slurm cluster has free (sinfo), for backend auto; absent: auto sends only what can never fit here. */
  cluster?: ClusterPort;
  agents: AgentCatalog;
  clock: Clock;
  events: EventSink;
  logger: Logger;
  config: ManagerConfig;
  /** The AI servers beside us, as residents that can be asked to free VRAM; absent: none. */
  residents?: ResidentPort;
  /** The person's programs that take the GPU (game mode); absent: none are looked for. */
  person?: PersonPort;
}
