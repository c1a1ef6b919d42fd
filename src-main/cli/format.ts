import type { TaskView } from '../../contracts/task.js';
import { aboutIn, etaText } from '../../contracts/workflow.js';
import { CliError } from './client.js';

export function age(from: Date, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - from.getTime()) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function pct(p: number | null): string {
  return p === null ? '-' : `${Math.round(p * 100)}%`;
}

export function bar(p: number | null, width = 20): string {
  const filled = Math.round((p ?? 0) * width);
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

/** A fixed-width table; the last column is not padded. */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export function note(t: TaskView): string {
  const text = t.state === 'queued' && t.waitingReason ? t.waitingReason : t.error ? t.error : (t.progressMessage ?? '');
  // Where a Slurm task is, first: its job is what the cluster's own tools know it by.
  if (t.backend !== 'slurm') return text;
  const where = `[slurm${t.slurmJob ? ` ${t.slurmJob}` : ''}${t.runsOn ? `, ${t.runsOn}` : ''}]`;
  return text ? `${where} ${text}` : where;
}

/** A task's time on this machine's clock: the time of day when today, else the date too. */
export function localTime(d: Date, now = Date.now()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const today = new Date(now);
  if (d.toDateString() === today.toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

/** A length of time as a person reads it: 0.4s, 42s, 3m07s, 2h05m, 3d04h. */
export function duration(ms: number): string {
  const s = Math.max(0, ms / 1000);
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

/** How long a task ran (so far, while it runs); null if it never started. */
export function ranFor(t: Pick<TaskView, 'startedAt' | 'finishedAt'>, now = Date.now()): number | null {
  if (!t.startedAt) return null;
  return (t.finishedAt?.getTime() ?? now) - t.startedAt.getTime();
}

/** The STARTS column: "in 4 min" for a queued task with an estimate, "-" otherwise. */
function startsIn(t: TaskView, now = Date.now()): string {
  if (t.state !== 'queued') return '-';
  if (!t.eta) return t.etaNote?.includes('more than') ? '>6 h' : '?';
  return aboutIn(t.eta.startAt.getTime() - now).replace(/^about /, '');
}

/** Queued, as a person would say it: held (by them), waiting (for its dependencies), or queued. */
export function stateWord(t: Pick<TaskView, 'state' | 'held' | 'blocked'>): string {
  if (t.state !== 'queued') return t.state;
  return t.held ? 'held' : t.blocked ? 'waiting' : t.state;
}

/** Every column `list` can show (`--format id,name,duration`), in words. */
const COLUMNS: Record<string, (t: TaskView, now: number) => string> = {
  id: (t) => String(t.id),
  state: (t) => stateWord(t),
  agent: (t) => t.agent,
  name: (t) => t.name ?? '-',
  project: (t) => t.project,
  backend: (t) => (t.backend === 'slurm' ? `slurm${t.slurmJob ? ` ${t.slurmJob}` : ''}` : 'local'),
  array: (t) => (t.arrayId === null ? '-' : `${t.arrayId}[${t.arrayIndex}]`),
  pri: (t) => String(t.priority),
  progress: (t) => pct(t.progress),
  attempts: (t) => `${t.attempts}/${t.maxAttempts}`,
  age: (t, now) => age(t.createdAt, now),
  created: (t, now) => localTime(t.createdAt, now),
  started: (t, now) => (t.startedAt && t.state !== 'queued' ? localTime(t.startedAt, now) : t.state === 'queued' ? startsIn(t, now) : '-'),
  starts: (t, now) => startsIn(t, now),
  duration: (t, now) => {
    const ms = t.state === 'queued' ? null : ranFor(t, now);
    return ms === null ? '-' : duration(ms);
  },
  ended: (t, now) => (t.finishedAt && TERMINAL.has(t.state) ? localTime(t.finishedAt, now) : '-'),
  note: (t) => note(t),
};
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted']);
export const LIST_COLUMNS = Object.keys(COLUMNS);
const DEFAULT_COLUMNS = ['id', 'state', 'agent', 'name', 'pri', 'progress', 'attempts', 'started', 'duration', 'ended', 'note'];
export const LIST_HEAD = DEFAULT_COLUMNS.map((c) => c.toUpperCase());

/** `--format id,name,duration`: the columns asked for, each checked. */
export function columnsArg(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const cols = raw
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter(Boolean);
  const bad = cols.filter((c) => !(c in COLUMNS));
  if (cols.length === 0 || bad.length > 0)
    throw new CliError(`--format ${raw}: ${bad.length ? `no column "${bad[0]}"` : 'no columns given'}; columns are: ${LIST_COLUMNS.join(', ')}`, 2);
  return cols;
}

export function listRow(t: TaskView, columns: readonly string[] = DEFAULT_COLUMNS, now = Date.now()): string[] {
  return columns.map((c) => COLUMNS[c]!(t, now));
}

export function showTask(
  t: TaskView & {
    attemptList?: {
      number: number;
      outcome: string;
      exitCode: number | null;
      signal: string | null;
      reason: string | null;
      startedAt: Date;
      endedAt: Date | null;
    }[];
    artifacts?: { name: string; path: string; sizeBytes: number }[];
    dependencies?: { mode: 'all' | 'any'; items: { type: string; id: number; state: string }[]; total: number } | null;
    dependents?: number[];
    offloaded?: string | null;
  },
  now = Date.now(),
): string {
  const r = t.resources;
  const lines = [
    `Task ${t.id}${t.name ? ` (${t.name})` : ''}`,
    `  agent:      ${t.agent}`,
    ...(t.backend === 'slurm' ? [`  runs on:    the Slurm cluster${t.slurmJob ? `, job ${t.slurmJob}` : ''}${t.runsOn ? ` (${t.runsOn})` : ''}`] : []),
    ...(t.offloaded ? [`              ${t.offloaded}`] : []),
    `  state:      ${t.state}${t.held ? ' (held)' : ''}${t.blocked ? ' (waiting for its dependencies)' : ''}${t.desired === 'cancel' && t.state === 'running' ? ' (cancelling)' : ''}`,
    `  priority:   ${t.priority}`,
    `  progress:   ${pct(t.progress)}${t.progressMessage ? `  ${t.progressMessage}` : ''}`,
    `  attempts:   ${t.attempts} of ${t.maxAttempts}`,
    `  resources:  ${r.cpu} CPU, ${r.memoryMB} MB RAM${r.gpu ? `, ${r.gpu.count} GPU × ${r.gpu.vramMB} MB VRAM` : ''}`,
    `  timeout:    ${t.timeoutSec === null ? 'none' : `${t.timeoutSec} s`}`,
    `  created:    ${localTime(t.createdAt, now)} (${age(t.createdAt, now)} ago)`,
  ];
  if (t.startedAt) lines.push(`  started:    ${localTime(t.startedAt, now)}${t.state === 'queued' ? ' (last attempt)' : ''}`);
  if (t.finishedAt && TERMINAL.has(t.state)) lines.push(`  ended:      ${localTime(t.finishedAt, now)}`);
  const ran = ranFor(t, now);
  if (ran !== null && t.state !== 'queued') lines.push(`  ran for:    ${duration(ran)}${TERMINAL.has(t.state) ? '' : ' so far'}`);
  if (t.arrayId !== null) lines.push(`  array:      ${t.arrayId}, index ${t.arrayIndex}`);
  if (t.dependencies) {
    const shown = t.dependencies.items.map((d) => `${d.type}:${d.id} (${d.state})`).join(t.dependencies.mode === 'any' ? ' or ' : ', ');
    const more = t.dependencies.total - t.dependencies.items.length;
    lines.push(`  depends on: ${t.dependencies.mode === 'any' ? 'any of ' : ''}${shown}${more > 0 ? ` and ${more} more` : ''}`);
  }
  if (t.dependents?.length) lines.push(`  needed by:  ${t.dependents.join(', ')}`);
  if (t.waitingReason) lines.push(`  waiting:    ${t.waitingReason}`);
  const eta = etaText(t);
  if (eta)
    lines.push(
      `  estimate:   ${eta}${t.eta ? ` (${t.state === 'queued' ? `from ${localTime(t.eta.startAt, now)} ` : ''}to ${localTime(t.eta.endAt, now)})` : ''}`,
    );
  if (t.notBefore) lines.push(`  next try:   ${localTime(t.notBefore, now)}`);
  if (t.error) lines.push(`  error:      ${t.error}`);
  lines.push(`  input:      ${JSON.stringify(t.input)}`);
  if (t.result !== null) lines.push(`  result:     ${JSON.stringify(t.result)}`);
  for (const a of t.attemptList ?? []) {
    lines.push(
      `  attempt ${a.number}: ${a.outcome}${a.reason ? ` (${a.reason})` : ''}, started ${localTime(a.startedAt, now)}${a.endedAt ? `, ended ${localTime(a.endedAt, now)} after ${duration(a.endedAt.getTime() - a.startedAt.getTime())}` : ''}`,
    );
  }
  for (const a of t.artifacts ?? []) lines.push(`  artifact:   ${a.name}  ${a.path}  (${a.sizeBytes} bytes)`);
  return lines.join('\n');
}
