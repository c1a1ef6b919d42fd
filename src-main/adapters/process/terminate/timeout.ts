import type { Escalation } from './escalate.js';

/**
 * The task's time limit: once `timeoutMs` is over (a duration, so the runner never compares
 * against another clock), the run is stopped as timed out unless it is already being stopped.
 * Returns a cancel for the timer.
 */
export function armTimeout(timeoutMs: number | null, escalation: Escalation, now: () => number, isDone: () => boolean): () => void {
  if (timeoutMs === null) return () => {};
  const onTimeout = (): void => {
    if (isDone()) return;
    escalation.begin('timedOut', "timed out (the task's time limit is reached): SIGTERM to the process group", now());
  };
  if (timeoutMs <= 0) {
    onTimeout();
    return () => {};
  }
  const timer = setTimeout(onTimeout, timeoutMs);
  return () => clearTimeout(timer);
}
