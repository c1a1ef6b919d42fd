import { TERMINAL_STATES, type TaskState } from '../../../contracts/task.js';

export { TERMINAL_STATES };
export type { TaskState };

const terminal = new Set<TaskState>(TERMINAL_STATES);

export function isTerminal(state: TaskState): boolean {
  return terminal.has(state);
}

/** Live states hold resources: an agent process exists or is being started. */
export function isActive(state: TaskState): boolean {
  return state === 'starting' || state === 'running';
}
