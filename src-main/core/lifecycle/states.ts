import { TERMINAL_STATES, type TaskState } from '../../../contracts/task.js';

export { TERMINAL_STATES };
export type { TaskState };

/**
 * The one transition table. A task goes queued -> starting -> running and ends in exactly one
 * terminal state per attempt; an attempt that failed with attempts left goes back to queued (with a
 * backoff), and a manual retry moves a terminal task back to queued.
 */
export const TRANSITIONS: Readonly<Record<TaskState, readonly TaskState[]>> = {
  queued: ['starting', 'cancelled'],
  starting: ['running', 'queued', 'failed', 'cancelled', 'interrupted'],
  running: ['succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted', 'queued'],
  succeeded: ['queued'],
  failed: ['queued'],
  cancelled: ['queued'],
  timed_out: ['queued'],
  interrupted: ['queued'],
};

const terminal = new Set<TaskState>(TERMINAL_STATES);

export function isTerminal(state: TaskState): boolean {
  return terminal.has(state);
}

/** Live states hold resources: an agent process exists or is being started. */
export function isActive(state: TaskState): boolean {
  return state === 'starting' || state === 'running';
}

export function canTransition(from: TaskState, to: TaskState): boolean {
  return TRANSITIONS[from].includes(to);
}
