import type { Holding, SchedulingStatus, Shortfall } from '../../../contracts/task.js';

export type { Holding, SchedulingStatus, Shortfall };

/** The names of the pipeline's steps, as `SchedulingStatus.step` reports them. */
export type StepName =
  | 'paused'
  | 'held'
  | 'dependencies'
  | 'begin'
  | 'backoff'
  | 'person'
  | 'idle'
  | 'concurrency'
  | 'agent-concurrency'
  | 'array-throttle'
  | 'project-quota'
  | 'resources'
  | 'cycle';

/**
 * What every scheduler step returns (see pipeline.ts): `ok` lets the task go on to the next step;
 * otherwise it waits (or can never run) at `step`, for the listed shortfalls.
 */
export type Status = SchedulingStatus;

export const OK: Status = { code: 'ok', step: null, shortfalls: [] };

export function waitAt(step: StepName, shortfalls: Shortfall[], extra: Partial<Pick<Status, 'until' | 'kept' | 'dependencies' | 'yielding'>> = {}): Status {
  return { code: 'wait', step, shortfalls, ...extra };
}

export function neverAt(step: StepName, shortfalls: Shortfall[]): Status {
  return { code: 'never', step, shortfalls };
}

/**
 * Several steps' verdicts as one: the first step that holds the task back names it, and every
 * shortfall found is listed, so a task held back by a limit also says what else it would need.
 */
export function combine(statuses: readonly Status[]): Status {
  const failing = statuses.filter((s) => s.code !== 'ok');
  if (failing.length === 0) return OK;
  const first = failing[0]!;
  return { ...first, code: failing.some((s) => s.code === 'never') ? 'never' : 'wait', shortfalls: failing.flatMap((s) => s.shortfalls) };
}
