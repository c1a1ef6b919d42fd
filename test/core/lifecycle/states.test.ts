import { describe, expect, it } from 'vitest';
import { TASK_STATES, TERMINAL_STATES, type TaskState } from '../../../contracts/task.js';
import { classifyRun, type RunOutcome } from '../../../src-main/core/lifecycle/attempt-end.js';
import { isActive, isTerminal } from '../../../src-main/core/lifecycle/states.js';
import { canTransition, TRANSITIONS } from '../../../src-main/core/lifecycle/transitions.js';

describe('transition table', () => {
  const allowed: [TaskState, TaskState][] = [
    ['queued', 'starting'],
    ['queued', 'cancelled'],
    ['starting', 'running'],
    ['starting', 'failed'],
    ['running', 'succeeded'],
    ['running', 'failed'],
    ['running', 'timed_out'],
    ['running', 'cancelled'],
    ['running', 'interrupted'],
    ['running', 'queued'],
    ['failed', 'queued'],
    ['succeeded', 'queued'],
  ];
  const forbidden: [TaskState, TaskState][] = [
    ['queued', 'running'],
    ['queued', 'succeeded'],
    ['succeeded', 'failed'],
    ['cancelled', 'running'],
    ['failed', 'succeeded'],
    ['timed_out', 'running'],
  ];
  it.each(allowed)('%s -> %s is allowed', (from, to) => expect(canTransition(from, to)).toBe(true));
  it.each(forbidden)('%s -> %s is not allowed', (from, to) => expect(canTransition(from, to)).toBe(false));

  it('names every state and only known states', () => {
    expect(Object.keys(TRANSITIONS).sort()).toEqual([...TASK_STATES].sort());
    for (const targets of Object.values(TRANSITIONS)) for (const t of targets) expect(TASK_STATES).toContain(t);
  });

  it('terminal states only lead back to queued (a manual retry)', () => {
    for (const s of TERMINAL_STATES) {
      expect(isTerminal(s)).toBe(true);
      expect(TRANSITIONS[s]).toEqual(['queued']);
    }
    for (const s of ['queued', 'starting', 'running'] as const) expect(isTerminal(s)).toBe(false);
  });

  it('only starting and running hold resources', () => {
    expect(TASK_STATES.filter(isActive)).toEqual(['starting', 'running']);
  });
});

describe('classifyRun', () => {
  const base: RunOutcome = { exitCode: 0, signal: null, timedOut: false, cancelled: false, unknown: false, startError: null };
  const cases: [string, Partial<RunOutcome>, string, boolean, RegExp][] = [
    ['exit 0', {}, 'succeeded', false, /exit code 0/],
    ['exit 3', { exitCode: 3 }, 'failed', true, /exit code 3/],
    ['killed by a signal', { exitCode: null, signal: 'SIGSEGV' }, 'failed', true, /SIGSEGV/],
    ['cancel wins over the exit code', { cancelled: true, exitCode: 0 }, 'cancelled', false, /cancelled/],
    ['timeout', { timedOut: true, exitCode: null, signal: 'SIGTERM' }, 'timed_out', true, /timeout/],
    ['unknown fate', { unknown: true, exitCode: null }, 'interrupted', true, /Manager was not running/],
    ['could not start', { startError: 'agent command not found: ./x', exitCode: null }, 'failed', false, /not found/],
  ];
  it.each(cases)('%s', (_name, over, outcome, retryable, reason) => {
    const r = classifyRun({ ...base, ...over });
    expect(r.outcome).toBe(outcome);
    expect(r.retryable).toBe(retryable);
    expect(r.reason).toMatch(reason);
  });
});
