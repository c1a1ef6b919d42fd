import type { TaskState } from '../../../contracts/task.js';

/**
 * The one transition table, and the rule: the Manager checks it before each guarded store write
 * (see `checkTransition`), and a test checks that the store's SQL guards allow exactly these
 * edges. A task goes queued -> starting -> running and ends in exactly one terminal state per
 * attempt (from starting too: see below); an attempt that failed with attempts left goes back to queued (with a backoff), and a
 * manual retry moves a terminal task back to queued.
 */
export const TRANSITIONS: Readonly<Record<TaskState, readonly TaskState[]>> = {
  queued: ['starting', 'cancelled'],
  // An attempt may end before its spawn is recorded (a run re-adopted by its marker, a timeout
  // while starting), so starting may end every way running can.
  starting: ['running', 'queued', 'succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted'],
  running: ['succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted', 'queued'],
  succeeded: ['queued'],
  failed: ['queued'],
  cancelled: ['queued'],
  timed_out: ['queued'],
  interrupted: ['queued'],
};

export function canTransition(from: TaskState, to: TaskState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** A move the table forbids is a bug in the Manager, never the user's doing: it is not written. */
export class TransitionError extends Error {
  constructor(
    readonly taskId: number,
    readonly from: TaskState,
    readonly to: TaskState,
  ) {
    super(`bug: task ${taskId} cannot go from ${from} to ${to} (lifecycle/transitions.ts)`);
  }
}

export function checkTransition(taskId: number, from: TaskState, to: TaskState): void {
  if (!canTransition(from, to)) throw new TransitionError(taskId, from, to);
}
