import type { ResourceRequest } from '../../../contracts/resources.js';
import type { TaskState } from '../../../contracts/task.js';
import { PROFILE, type PeakSample } from '../model/profile.js';
import type { AttemptEndRecord, TaskAfterAttempt, TaskRecord } from '../model/task.js';
import type { Capacity } from '../scheduler/fit.js';
import { backoffMs } from '../scheduler/backoff.js';
import { classifyRun, type RunOutcome } from './attempt-end.js';
import { isTerminal } from './states.js';

export interface NextStepInput {
  task: Pick<TaskRecord, 'attempts' | 'maxAttempts' | 'backoffSec' | 'desired' | 'request'> & { result?: unknown };
  /** Preempted: why, and for which task (see runs/supervisor.ts); absent when not known (after a restart). */
  preemptedFor?: string;
  attempt: number;
  outcome: RunOutcome;
  /** The most the attempt was seen to use. */
  peak: PeakSample;
  /** What the machine could ever give (caps a raised request). */
  capacity: Capacity;
  now: number;
  /** Uniform in [0, 1): the backoff's jitter. */
  random: number;
}

export interface NextStep {
  end: AttemptEndRecord;
  next: TaskAfterAttempt;
}

/**
 * What happens once an attempt has ended: how the attempt is recorded, and where the task goes.
 * Pure. A retryable end with attempts left is queued again after a backoff; after an
 * out-of-memory the next attempt asks for what this one reached (with headroom). An attempt that
 * provably never ran does not count against the task's attempts.
 */
export function nextStep({ task, attempt, outcome, peak, capacity, now, random, preemptedFor }: NextStepInput): NextStep {
  // Preempted: queued again at once, keeping its place; not a failure, and it does not use up an
  // attempt. Unless it finished first (exit 0 with a result: nothing to run again).
  const finished = outcome.exitCode === 0 && outcome.signal === null && (task.result ?? null) !== null;
  if (task.desired === 'preempt' && !finished) {
    return {
      end: endRecord('preempted', `preempted${preemptedFor ? ` ${preemptedFor}` : ' for a higher-priority task'}; queued again`, outcome, peak, now),
      next: { state: 'queued', notBefore: null, error: null, finishedAt: null, maxAttempts: task.maxAttempts + 1, desired: 'run' },
    };
  }
  // A preempted task that finished first is not "cancelled": the SIGTERM was ours, not a person's.
  const cancelled = task.desired === 'preempt' ? false : outcome.cancelled || task.desired === 'cancel';
  const end = classifyRun({ ...outcome, cancelled });
  let state = end.outcome as TaskState;
  let notBefore: number | null = null;
  let request: ResourceRequest | undefined;
  const free = outcome.notStarted || (outcome.interrupted && !outcome.interrupted.counts);
  const maxAttempts = free ? task.maxAttempts + 1 : task.maxAttempts;
  if (end.retryable && task.attempts < maxAttempts) {
    state = 'queued';
    notBefore = now + backoffMs(task.backoffSec, attempt, random);
    if (outcome.oom) request = raisedAfterOom(task.request, peak, outcome.oom, capacity);
  }
  return {
    end: endRecord(end.outcome, end.reason, outcome, peak, now),
    next: {
      state,
      notBefore,
      error: state === 'succeeded' || state === 'queued' ? null : `attempt ${attempt}: ${end.reason}`,
      finishedAt: isTerminal(state) ? now : null,
      ...(state === 'succeeded' ? { progress: 1 } : {}),
      ...(request ? { request } : {}),
      ...(maxAttempts !== task.maxAttempts ? { maxAttempts } : {}),
      ...(task.desired === 'preempt' ? { desired: 'run' as const } : {}),
    },
  };
}

/** How an attempt is recorded: its outcome and reason, how the process ended, its peaks. */
function endRecord(result: AttemptEndRecord['outcome'], reason: string, outcome: RunOutcome, peak: PeakSample, now: number): AttemptEndRecord {
  // Measured by the executor (a Slurm job's sacct) where the Manager could not see it itself.
  const m = outcome.measured;
  const seen = m && peak.vramMB === null && peak.memoryMB === null && peak.cpu === null ? m : { ...peak, where: null };
  return {
    outcome: result,
    reason,
    exitCode: outcome.exitCode,
    signal: outcome.signal,
    endedAt: now,
    peakVramMB: seen.vramMB,
    peakMemoryMB: seen.memoryMB,
    peakCpu: seen.cpu,
    ...(seen.where !== null ? { peakWhere: seen.where } : {}),
  };
}

/**
 * After an out-of-memory, the next attempt asks for what this one was seen to reach, with
 * headroom, so it waits until that much is really free. Capped at what the machine can give.
 */
export function raisedAfterOom(request: ResourceRequest, peak: PeakSample, kind: 'gpu' | 'host', cap: Capacity): ResourceRequest | undefined {
  if (kind === 'gpu' && request.gpu && peak.vramMB !== null) {
    const usable = Math.max(0, ...cap.gpuTotalsMB) - cap.vramMarginMB;
    const want = Math.min(usable, Math.ceil(Math.max(request.gpu.vramMB, peak.vramMB * PROFILE.vram.factor + PROFILE.vram.plusMB)));
    return want > request.gpu.vramMB ? { ...request, gpu: { ...request.gpu, vramMB: want } } : undefined;
  }
  if (kind === 'host' && peak.memoryMB !== null) {
    const usable = cap.memoryTotalMB - cap.memoryMarginMB;
    const want = Math.min(usable, Math.ceil(Math.max(request.memoryMB, peak.memoryMB * PROFILE.memory.factor + PROFILE.memory.plusMB)));
    return want > request.memoryMB ? { ...request, memoryMB: want } : undefined;
  }
  return undefined;
}
