import { describe, expect, it } from 'vitest';
import { parseBegin } from '../../../src-main/core/admission/begin.js';

const NOW = new Date(2026, 11, 1, 21, 0, 0).getTime(); // local time

describe('begin (start after)', () => {
  it.each([
    ['+30m', NOW + 30 * 60_000],
    ['+2h', NOW + 2 * 3_600_000],
    ['+1d', NOW + 86_400_000],
    ['+90s', NOW + 90_000],
    ['+1.5h', NOW + 1.5 * 3_600_000],
    ['2026-12-24T02:00', new Date(2026, 11, 24, 2, 0, 0).getTime()], // local time
    ['2026-12-24 02:00:30', new Date(2026, 11, 24, 2, 0, 30).getTime()],
    ['2026-12-24T02:00:00Z', Date.UTC(2026, 11, 24, 2, 0, 0)],
    ['2026-12-24T02:00:00+01:00', Date.UTC(2026, 11, 24, 1, 0, 0)],
    [NOW + 5000, NOW + 5000],
    [NOW - 30_000, NOW], // a little in the past (a clock behind): at once
  ] as const)('%s', (value, at) => expect(parseBegin(value, NOW)).toEqual({ at }));

  it.each([
    ['tomorrow', /is not a time: give "2026-12-24T02:00"/],
    ['+2 weeks', /is not a time/],
    ['2026-13-45T99:99', /not a valid date|is in the past/],
    ['2026-11-30T02:00', /is in the past; give a later time/],
    [NOW - 120_000, /is in the past/],
  ] as const)('%s is refused, saying what to give', (value, problem) => {
    const r = parseBegin(value, NOW);
    expect('problem' in r && r.problem).toMatch(problem);
  });
});
