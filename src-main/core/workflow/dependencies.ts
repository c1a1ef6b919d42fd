import type { DependencyType, TaskState } from '../../../contracts/task.js';
import { isTerminal } from '../lifecycle/states.js';

/** Where a task a dependent waits on stands: all the rules need. */
export interface DepTarget {
  id: number;
  state: TaskState;
  attempts: number;
}

/** One dependency's verdict: met, not yet, or never (with why, in words). */
export type DepVerdict = { code: 'met' } | { code: 'wait' } | { code: 'never'; reason: string };

const MET: DepVerdict = { code: 'met' };
const WAIT: DepVerdict = { code: 'wait' };

/**
 * The rules, one dependency at a time (Slurm's): `after` holds once the task has started (or
 * ended without starting); `afterany` once it has ended; `afterok` once it has succeeded, and
 * never once it ended any other way; `afternotok` once it ended without success, and never once
 * it succeeded. Only a terminal state decides: a task queued again for a retry is not over.
 */
export function judgeOne(type: DependencyType, t: DepTarget): DepVerdict {
  const ended = isTerminal(t.state);
  switch (type) {
    case 'after':
      return ended || t.attempts > 0 ? MET : WAIT;
    case 'afterany':
      return ended ? MET : WAIT;
    case 'afterok':
      if (!ended) return WAIT;
      return t.state === 'succeeded' ? MET : { code: 'never', reason: `dependency ${t.id} ended ${t.state}` };
    case 'afternotok':
      if (!ended) return WAIT;
      return t.state !== 'succeeded' ? MET : { code: 'never', reason: `dependency ${t.id} succeeded (it was to start only if that one did not)` };
  }
}

export interface DepLinkLike extends DepTarget {
  type: DependencyType;
}

/**
 * All of a task's dependencies as one verdict. `all`: met once every one is met, never once any
 * one is never; `any`: met once one is met, never once every one is never.
 */
export function judge(mode: 'all' | 'any', links: readonly DepLinkLike[]): DepVerdict {
  if (links.length === 0) return MET;
  const verdicts = links.map((l) => judgeOne(l.type, l));
  if (mode === 'all') {
    const never = verdicts.find((v) => v.code === 'never');
    if (never) return never;
    return verdicts.every((v) => v.code === 'met') ? MET : WAIT;
  }
  if (verdicts.some((v) => v.code === 'met')) return MET;
  if (verdicts.every((v) => v.code === 'never')) {
    const reasons = verdicts.map((v) => (v as { reason: string }).reason);
    return { code: 'never', reason: reasons.length === 1 ? reasons[0]! : `none of its dependencies can be met any more (${reasons.join('; ')})` };
  }
  return WAIT;
}

/** The ones still pending (not met, not never), first to last: what a waiting task says it waits for. */
export function pending<T extends DepLinkLike>(links: readonly T[]): T[] {
  return links.filter((l) => judgeOne(l.type, l).code === 'wait');
}
