import type { ResourceRequest } from '../../../contracts/resources.js';
import type { AttemptOutcome, DesiredState, TaskState } from '../../../contracts/task.js';

/** A task as stored. Times are epoch milliseconds. */
export interface TaskRecord {
  id: number;
  agent: string;
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
}

export type NewTask = Pick<
  TaskRecord,
  'agent' | 'name' | 'priority' | 'input' | 'request' | 'requestPinned' | 'maxAttempts' | 'backoffSec' | 'timeoutSec' | 'createdAt'
> & {
  /** Not before then (a submission's `begin`); null or absent for as soon as it can. */
  notBefore?: number | null;
  /** Submitted held (submit --hold). */
  held?: boolean;
};

/**
 * A task as first stored: queued, no attempt yet. Spelled out, not spread: `{...t, ...13 more}`
 * makes V8 build a slow object, and was three quarters of a batch submit's cost.
 */
export function newTaskRecord(id: number, t: NewTask): TaskRecord {
  return {
    id,
    agent: t.agent,
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
  /** A new attempt limit (raised when an attempt never ran). */
  maxAttempts?: number;
}

/** One entry of a task's timeline (attempt-ended, retried, cancelled, result...). */
export interface TaskEventRecord {
  taskId: number;
  attempt: number | null;
  type: string;
  data: unknown;
  at: number;
}
