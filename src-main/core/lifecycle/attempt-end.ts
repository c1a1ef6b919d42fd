import type { AttemptOutcome } from '../../../contracts/task.js';

/** How an agent run ended, as the runner saw it. */
export interface RunOutcome {
  exitCode: number | null;
  signal: string | null;
  /** Ended by our timeout. */
  timedOut: boolean;
  /** Ended because the user cancelled it. */
  cancelled: boolean;
  /** The run's fate could not be known (it ended while the Manager was down and left no status). */
  unknown: boolean;
  /** Could not be started at all (missing executable, spawn error). */
  startError: string | null;
  /** It ran out of memory: GPU (CUDA said so in its log) or host (its log, or the kernel's SIGKILL). */
  oom?: 'gpu' | 'host' | null;
  /** The log line that showed the out-of-memory, if one did. */
  oomEvidence?: string | null;
  /** The agent was provably never spawned (the Manager stopped in between): it never ran. */
  notStarted?: boolean;
  /** SIGKILL had to follow SIGTERM (the grace period ran out). */
  forcefullyTerminated?: boolean;
  /** Its last line on stderr, where it wrote one: most agents say there why they failed. */
  lastError?: string | null;
  /** From spawn to the end, as the runner measured it (0 when it did not start or is unknown). */
  durationMs?: number;
  /**
   * It was stopped by its executor, not by itself: a Slurm node failed, or Slurm preempted the
   * job. `counts` false: it does not use up one of the task's attempts (it was not the agent's fault).
   */
  interrupted?: { reason: string; counts: boolean } | null;
  /**
   * What it used at its peak, measured by its executor where the Manager's own telemetry cannot
   * see it (a Slurm job, by sacct), and where that was ("slurm"): it teaches that place's profile.
   */
  measured?: { vramMB: number | null; memoryMB: number | null; cpu: number | null; where: string } | null;
}

const BASE: RunOutcome = {
  exitCode: null,
  signal: null,
  timedOut: false,
  cancelled: false,
  unknown: false,
  startError: null,
  forcefullyTerminated: false,
  durationMs: 0,
};

/** The one way to build a RunOutcome: what is not said did not happen. */
export const outcome = (o: Partial<RunOutcome> = {}): RunOutcome => ({ ...BASE, ...o });

/** A run whose fate cannot be known (its files are gone, or it left no exit status). */
export const unknownOutcome = (durationMs = 0): RunOutcome => outcome({ unknown: true, durationMs });

/** A run that could not be started (missing executable, spawn error). */
export const startFailed = (message: string): RunOutcome => outcome({ startError: message });

/** An attempt whose agent was provably never spawned (the Manager stopped first). */
export const notStarted = (): RunOutcome => outcome({ notStarted: true });

export interface AttemptEnd {
  outcome: Exclude<AttemptOutcome, 'running'>;
  reason: string;
  /** Whether this outcome may be retried under the task's retry policy. */
  retryable: boolean;
}

/** Maps a run's ending to the attempt's outcome and a reason a person understands. */
export function classifyRun(run: RunOutcome): AttemptEnd {
  if (run.cancelled) return { outcome: 'cancelled', reason: 'cancelled by request', retryable: false };
  if (run.timedOut) return { outcome: 'timed_out', reason: 'stopped after its timeout', retryable: true };
  if (run.startError !== null) return { outcome: 'failed', reason: run.startError, retryable: false };
  if (run.notStarted) {
    return { outcome: 'interrupted', reason: 'the Manager stopped before the agent was started; it never ran, and is queued again', retryable: true };
  }
  if (run.interrupted) return { outcome: 'interrupted', reason: run.interrupted.reason, retryable: true };
  if (run.unknown) {
    return {
      outcome: 'interrupted',
      reason: 'the agent ended while the Manager was not running and left no exit status',
      retryable: true,
    };
  }
  if (run.exitCode === 0 && run.signal === null) return { outcome: 'succeeded', reason: 'exit code 0', retryable: false };
  const how = run.signal !== null ? `killed by signal ${run.signal}` : `exit code ${run.exitCode ?? 'unknown'}`;
  if (run.oom === 'gpu') return { outcome: 'failed', reason: `out of GPU memory (${run.oomEvidence ?? 'CUDA out of memory'}; ${how})`, retryable: true };
  if (run.oom === 'host') return { outcome: 'failed', reason: `out of host memory (${run.oomEvidence ?? 'killed by the kernel'}; ${how})`, retryable: true };
  if (run.signal !== null) return { outcome: 'failed', reason: `killed by signal ${run.signal}`, retryable: true };
  return { outcome: 'failed', reason: `exit code ${run.exitCode ?? 'unknown'}${run.lastError ? `: ${run.lastError}` : ''}`, retryable: true };
}
