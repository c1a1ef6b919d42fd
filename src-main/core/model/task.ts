import type { Backend } from '../../../contracts/agent-manifest.js';
import type { ResourceRequest } from '../../../contracts/resources.js';
import type { AttemptOutcome, DependencyType, DesiredState, TaskState } from '../../../contracts/task.js';

/** A task as stored. Times are epoch milliseconds. */
export interface TaskRecord {
  id: number;
  agent: string;
  /** Its project (fair share, quotas, project-bound tokens); "default" unless given. */
  project: string;
  name: string | null;
  state: TaskState;
  desired: DesiredState;
  priority: number;
  input: Record<string, unknown>;
  request: ResourceRequest;
  /** Whether the request was set by the submitter (not taken from the agent). */
  requestPinned: boolean;
  attempts: number;
  maxAttempts: number;
  backoffSec: number;
  timeoutSec: number | null;
  progress: number | null;
  progressMessage: string | null;
  result: unknown;
  error: string | null;
  notBefore: number | null;
  createdAt: number;
  updatedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** Queued but held (agentmgr hold): not started until released. */
  held: boolean;
  /** May be preempted for a higher-priority task (see scheduler/preempt.ts). */
  preemptible: boolean;
  /** Queued, waiting for its dependencies: outside the scheduler's queue until they are met. */
  blocked: boolean;
  /** How its dependencies combine; null when it has none. */
  dependsMode: 'all' | 'any' | null;
  /** Cancelled because this dependency could no longer be met (for retry --with-dependents). */
  cause: number | null;
  /** The array it belongs to (its first task's id) and its index there; null for none. */
  arrayId: number | null;
  arrayIndex: number | null;
  /** At most this many of its array's tasks at once; null for no limit. */
  throttle: number | null;
  /** Its place within its priority: smaller starts first (its id, until moved). */
  seq: number;
  /** The model it names on the resident server its agent drives (an ollama task's model); null for none. */
  residentModel: string | null;
  /** It starts only once the person has been away a while (idle-only work). */
  whenIdle: boolean;
  /** Where it runs (auto was decided at submit). */
  backend: Backend;
  /** Submitted with backend auto: while queued here it may still be sent to the Slurm cluster (core/runs/offload.ts). */
  backendAuto: boolean;
  /** The remote job of its latest attempt ("slurm:<job id>"); null for none. */
  remoteJob: string | null;
  /** Where that job waits or runs ("partition gpu, node gpu03"); null for none. */
  remoteWhere: string | null;
}

/** A new task's dependency: on a stored task, or on another task of the same insert (its index there). */
export type NewDependency = { type: DependencyType; taskId: number } | { type: DependencyType; index: number };

export type NewTask = Pick<
  TaskRecord,
  'agent' | 'name' | 'priority' | 'input' | 'request' | 'requestPinned' | 'maxAttempts' | 'backoffSec' | 'timeoutSec' | 'createdAt'
> & {
  /** Its project; absent: "default". */
  project?: string;
  /** May be preempted; absent: no. */
  preemptible?: boolean;
  /** The model it names on the resident server its agent drives; absent: none. */
  residentModel?: string | null;
  /** Idle-only work; absent: no. */
  whenIdle?: boolean;
  /** Where it runs; absent: this machine. */
  backend?: Backend;
  /** Submitted with backend auto; absent: no. */
  backendAuto?: boolean;
  /** Not before then (a submission's `begin`); null or absent for as soon as it can. */
  notBefore?: number | null;
  /** Submitted held (submit --hold). */
  held?: boolean;
  /** What it waits for; `blocked` says whether it waits for it now (decided at submit). */
  dependsOn?: readonly NewDependency[];
  dependsMode?: 'all' | 'any';
  blocked?: boolean;
  /** One task of an array: its group within this insert (members share one array id), index and throttle. */
  array?: { group: number; index: number; throttle: number | null };
};

/**
 * A task as first stored: queued, no attempt yet. Spelled out, not spread: `{...t, ...13 more}`
 * makes V8 build a slow object, and was three quarters of a batch submit's cost.
 */
/** `arrayId`: the id of its array's first task (the store assigns it), for an array's member. */
export function newTaskRecord(id: number, t: NewTask, arrayId: number | null = null): TaskRecord {
  return {
    id,
    agent: t.agent,
    project: t.project ?? 'default',
    name: t.name,
    priority: t.priority,
    input: t.input,
    request: t.request,
    requestPinned: t.requestPinned,
    maxAttempts: t.maxAttempts,
    backoffSec: t.backoffSec,
    timeoutSec: t.timeoutSec,
    createdAt: t.createdAt,
    state: 'queued',
    desired: 'run',
    attempts: 0,
    progress: null,
    progressMessage: null,
    result: null,
    error: null,
    notBefore: t.notBefore ?? null,
    updatedAt: t.createdAt,
    startedAt: null,
    finishedAt: null,
    held: t.held ?? false,
    preemptible: t.preemptible ?? false,
    blocked: t.blocked ?? false,
    dependsMode: t.dependsOn?.length ? (t.dependsMode ?? 'all') : null,
    cause: null,
    arrayId,
    arrayIndex: t.array?.index ?? null,
    throttle: t.array?.throttle ?? null,
    seq: id,
    residentModel: t.residentModel ?? null,
    whenIdle: t.whenIdle ?? false,
    backend: t.backend ?? 'local',
    backendAuto: t.backendAuto ?? false,
    remoteJob: null,
    remoteWhere: null,
  };
}

export interface AttemptRecord {
  taskId: number;
  number: number;
  outcome: AttemptOutcome;
  startedAt: number;
  endedAt: number | null;
  exitCode: number | null;
  signal: string | null;
  reason: string | null;
  pid: number | null;
  /** The process's start time as the OS records it, so a reused pid is never mistaken for ours. */
  pidStartTime: string | null;
  pgid: number | null;
  gpus: number[];
  logDir: string | null;
  /** What it really used at its peak (null where not measured). */
  peakVramMB: number | null;
  peakMemoryMB: number | null;
  peakCpu: number | null;
  /** Where the peaks were measured: null for this machine, "slurm" for the cluster. */
  peakWhere: string | null;
}

export interface ArtifactRecord {
  taskId: number;
  attempt: number;
  name: string;
  path: string;
  sizeBytes: number;
  createdAt: number;
}

export interface AttemptEndRecord {
  outcome: Exclude<AttemptOutcome, 'running'>;
  reason: string;
  exitCode: number | null;
  signal: string | null;
  endedAt: number;
  peakVramMB?: number | null;
  peakMemoryMB?: number | null;
  peakCpu?: number | null;
  /** Where the peaks were measured: null for this machine, "slurm" for the cluster (by sacct). */
  peakWhere?: string | null;
}

/** Where the task goes once an attempt has ended. */
export interface TaskAfterAttempt {
  state: TaskState;
  notBefore: number | null;
  error: string | null;
  finishedAt: number | null;
  progress?: number;
  /** A new request for the next attempt (raised after an out-of-memory). */
  request?: ResourceRequest;
  /** A new attempt limit (raised when an attempt never ran, or was preempted). */
  maxAttempts?: number;
  /** What is asked of it from now on (back to `run` after a preemption). */
  desired?: DesiredState;
}

/** One entry of a task's timeline (attempt-ended, retried, cancelled, result...). */
export interface TaskEventRecord {
  taskId: number;
  attempt: number | null;
  type: string;
  data: unknown;
  at: number;
}

/** A dependency as stored, with where the task it waits on stands now. */
export interface DependencyLink {
  type: DependencyType;
  id: number;
  state: TaskState;
  attempts: number;
  progress: number | null;
}
