import { describe, expect, it } from 'vitest';
import { TASK_STATES, type DependencyType, type TaskState } from '../../../contracts/task.js';
import { parseArraySpec, parseDependencySpec } from '../../../contracts/workflow.js';
import { judge, judgeOne } from '../../../src-main/core/workflow/dependencies.js';

const t = (state: TaskState, attempts = state === 'queued' ? 0 : 1) => ({ id: 12, state, attempts });

describe('dependency rules, one at a time (Slurm)', () => {
  // For each rule: the verdict in each state the task it waits on can be in.
  const table: Record<DependencyType, Record<TaskState, 'met' | 'wait' | 'never'>> = {
    after: { queued: 'wait', starting: 'met', running: 'met', succeeded: 'met', failed: 'met', cancelled: 'met', timed_out: 'met', interrupted: 'met' },
    afterany: { queued: 'wait', starting: 'wait', running: 'wait', succeeded: 'met', failed: 'met', cancelled: 'met', timed_out: 'met', interrupted: 'met' },
    afterok: {
      queued: 'wait',
      starting: 'wait',
      running: 'wait',
      succeeded: 'met',
      failed: 'never',
      cancelled: 'never',
      timed_out: 'never',
      interrupted: 'never',
    },
    afternotok: {
      queued: 'wait',
      starting: 'wait',
      running: 'wait',
      succeeded: 'never',
      failed: 'met',
      cancelled: 'met',
      timed_out: 'met',
      interrupted: 'met',
    },
  };
  for (const [type, row] of Object.entries(table) as [DependencyType, Record<TaskState, string>][]) {
    it.each(TASK_STATES.map((s) => [s, row[s]]))(`${type} on a task %s: %s`, (state, verdict) => {
      expect(judgeOne(type, t(state as TaskState)).code).toBe(verdict);
    });
  }

  it('a task queued again for a retry is not over: afterok and afternotok both wait', () => {
    expect(judgeOne('afterok', { id: 1, state: 'queued', attempts: 2 }).code).toBe('wait');
    expect(judgeOne('afternotok', { id: 1, state: 'queued', attempts: 2 }).code).toBe('wait');
    // but it has started once: `after` holds
    expect(judgeOne('after', { id: 1, state: 'queued', attempts: 1 }).code).toBe('met');
  });

  it('says which dependency failed it', () => {
    expect(judgeOne('afterok', t('failed'))).toEqual({ code: 'never', reason: 'dependency 12 ended failed' });
    expect(judgeOne('afternotok', t('succeeded'))).toMatchObject({ code: 'never', reason: expect.stringMatching(/^dependency 12 succeeded/) });
  });
});

describe('dependencies combined', () => {
  const ok = { type: 'afterok' as const, id: 1, state: 'succeeded' as TaskState, attempts: 1 };
  const bad = { type: 'afterok' as const, id: 2, state: 'failed' as TaskState, attempts: 1 };
  const open = { type: 'afterok' as const, id: 3, state: 'running' as TaskState, attempts: 1 };
  it.each([
    ['all', [ok], 'met'],
    ['all', [ok, open], 'wait'],
    ['all', [ok, open, bad], 'never'],
    ['any', [open, bad], 'wait'],
    ['any', [open, ok, bad], 'met'],
    ['any', [bad, { ...bad, id: 4 }], 'never'],
    ['all', [], 'met'],
  ] as const)('%s of %j: %s', (mode, links, verdict) => {
    expect(judge(mode, links).code).toBe(verdict);
  });

  it('any: once none can be met, names each', () => {
    const v = judge('any', [bad, { ...bad, id: 4, state: 'cancelled' }]);
    expect(v).toEqual({ code: 'never', reason: 'none of its dependencies can be met any more (dependency 2 ended failed; dependency 4 ended cancelled)' });
  });
});

describe('--dependency', () => {
  it.each([
    ['afterok:12', { mode: 'all', items: [{ type: 'afterok', ids: [12] }] }],
    [
      'afterok:12:13,afterany:14',
      {
        mode: 'all',
        items: [
          { type: 'afterok', ids: [12, 13] },
          { type: 'afterany', ids: [14] },
        ],
      },
    ],
    [
      'afterok:12?afternotok:13',
      {
        mode: 'any',
        items: [
          { type: 'afterok', ids: [12] },
          { type: 'afternotok', ids: [13] },
        ],
      },
    ],
    ['after:#7', { mode: 'all', items: [{ type: 'after', ids: [7] }] }],
  ])('%s', (spec, want) => {
    expect(parseDependencySpec(spec)).toEqual(want);
  });

  it.each([
    ['', /empty/],
    ['afterok', /name the task/],
    ['afterwards:12', /unknown dependency type "afterwards"; use afterok, afternotok, afterany or after/],
    ['afterok:12,afterany:x', /"x" is not a task id/],
    ['afterok:0', /"0" is not a task id/],
    ['afterok:1,afterok:2?afterok:3', /mixes "," \(all of\) and "\?" \(any of\)/],
  ])('refuses "%s", saying what to write', (spec, message) => {
    const r = parseDependencySpec(spec);
    expect('problem' in r && r.problem).toMatch(message);
  });
});

describe('--array', () => {
  it.each([
    ['0-3', [0, 1, 2, 3], null],
    ['0-99%4', Array.from({ length: 100 }, (_, i) => i), 4],
    ['1,3,5-7', [1, 3, 5, 6, 7], null],
    ['0-20:5%2', [0, 5, 10, 15, 20], 2],
    ['7', [7], null],
  ])('%s', (spec, indices, throttle) => {
    expect(parseArraySpec(spec)).toEqual({ indices, throttle });
  });

  it.each([
    ['', /names no indices/],
    ['%3', /names no indices/],
    ['5-2', /the range 5-2 is reversed; write 2-5/],
    ['0-100000', /more than 100,000 tasks/],
    ['0-9%0', /a throttle of 0 would never start anything/],
    ['0-9%x', /the throttle after "%" must be a whole number/],
    ['1,1', /index 1 is given twice/],
    ['a-b', /"a-b" is not an index or range/],
    ['0-9:0', /the step in 0-9:0 must be 1 or more/],
  ])('refuses "%s"', (spec, message) => {
    const r = parseArraySpec(spec);
    expect('problem' in r && r.problem).toMatch(message);
  });

  it('takes exactly 100,000', () => {
    const r = parseArraySpec('0-99999');
    expect('indices' in r && r.indices.length).toBe(100_000);
  });
});
