import type { DependencyType } from './task.js';
import { MAX_ARRAY } from './values.js';

/**
 * The spellings people type for workflows, parsed into data (the CLI's flags; the API takes the
 * array spelling too). Each returns what it means, or a problem that says what to write instead.
 */

/** Slurm's `--dependency` spelling: "afterok:12:13,afterany:14" (all) or "afterok:12?afterok:13" (any). */
export function parseDependencySpec(spec: string): { mode: 'all' | 'any'; items: { type: DependencyType; ids: number[] }[] } | { problem: string } {
  const text = spec.trim();
  if (!text) return { problem: 'the dependency is empty; give one like afterok:12 or afterany:12:13' };
  const hasAll = text.includes(',');
  const hasAny = text.includes('?');
  if (hasAll && hasAny) return { problem: `"${spec}" mixes "," (all of) and "?" (any of); use one of them` };
  const mode = hasAny ? 'any' : 'all';
  const items: { type: DependencyType; ids: number[] }[] = [];
  for (const part of text.split(hasAny ? '?' : ',')) {
    const [type, ...ids] = part.trim().split(':');
    if (type !== 'afterok' && type !== 'afternotok' && type !== 'afterany' && type !== 'after')
      return { problem: `"${part}": unknown dependency type "${type}"; use afterok, afternotok, afterany or after, like afterok:12` };
    if (ids.length === 0) return { problem: `"${part}": name the task(s) it waits for, like ${type}:12 or ${type}:12:13` };
    const nums: number[] = [];
    for (const raw of ids) {
      const n = Number(raw.replace(/^#/, ''));
      if (!raw || !Number.isInteger(n) || n <= 0) return { problem: `"${part}": "${raw}" is not a task id (a positive whole number)` };
      nums.push(n);
    }
    items.push({ type, ids: nums });
  }
  return { mode, items };
}

export interface ArraySpec {
  indices: number[];
  /** At most this many at once ("%N"); null for no limit. */
  throttle: number | null;
}

/**
 * Slurm's `--array`: "0-99", "1,3,5-7", "0-20:5" (every 5th), with "%4" for at most 4 at once.
 * Refused: an empty or reversed range, a repeated index, a throttle of 0, more than MAX_ARRAY tasks.
 */
export function parseArraySpec(spec: string): ArraySpec | { problem: string } {
  const text = spec.trim();
  const pct = text.indexOf('%');
  const list = pct >= 0 ? text.slice(0, pct) : text;
  let throttle: number | null = null;
  if (pct >= 0) {
    const raw = text.slice(pct + 1);
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) return { problem: `array "${spec}": the throttle after "%" must be a whole number, like 0-99%4` };
    if (n === 0) return { problem: `array "${spec}": a throttle of 0 would never start anything; give %1 or more` };
    throttle = n;
  }
  if (!list) return { problem: `array "${spec}" names no indices; give a range like 0-99 or a list like 1,3,5` };
  const indices: number[] = [];
  const seen = new Set<number>();
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+)(?::(\d+))?)?$/.exec(part.trim());
    if (!m) return { problem: `array "${spec}": "${part}" is not an index or range; write 7, 0-99 or 0-99:5` };
    const from = Number(m[1]);
    const to = m[2] !== undefined ? Number(m[2]) : from;
    const step = m[3] !== undefined ? Number(m[3]) : 1;
    if (to < from) return { problem: `array "${spec}": the range ${part} is reversed; write ${to}-${from}` };
    if (step === 0) return { problem: `array "${spec}": the step in ${part} must be 1 or more` };
    if ((to - from) / step + 1 + indices.length > MAX_ARRAY)
      return { problem: `array "${spec}" makes more than ${MAX_ARRAY.toLocaleString('en')} tasks; split it into several arrays` };
    for (let i = from; i <= to; i += step) {
      if (seen.has(i)) return { problem: `array "${spec}": index ${i} is given twice` };
      seen.add(i);
      indices.push(i);
    }
  }
  return { indices, throttle };
}

/** "under a minute", "about 4 min", "about 2 h 10 min": how far off an estimate is, in words. */
export function aboutIn(ms: number): string {
  if (ms < 60_000) return 'under a minute';
  const min = Math.round(ms / 60_000);
  if (min < 60) return `about ${min} min`;
  const h = Math.floor(min / 60);
  const rest = min % 60;
  return `about ${h} h${rest ? ` ${rest} min` : ''}`;
}

/** A task's estimate in words: "starts in about 4 min", "ends in about 2 min", or why there is none. */
export function etaText(t: { state: string; eta: { startAt: Date; endAt: Date } | null; etaNote: string | null }, now = Date.now()): string | null {
  if (t.eta) {
    if (t.state === 'queued') return `starts in ${aboutIn(t.eta.startAt.getTime() - now)}, ends in ${aboutIn(t.eta.endAt.getTime() - now)}`;
    return `ends in ${aboutIn(t.eta.endAt.getTime() - now)}`;
  }
  return t.etaNote;
}
