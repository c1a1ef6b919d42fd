import type { TaskView } from '../../contracts/task.js';
import { aboutIn, etaText } from '../../contracts/workflow.js';

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
  if (t.state === 'queued' && t.waitingReason) return t.waitingReason;
  if (t.error) return t.error;
  return t.progressMessage ?? '';
}

export const LIST_HEAD = ['ID', 'STATE', 'AGENT', 'ARRAY', 'PRI', 'PROGRESS', 'ATTEMPTS', 'AGE', 'STARTS', 'NOTE'];

/** The STARTS column: "in 4 min" for a queued task with an estimate, "-" otherwise. */
function startsIn(t: TaskView, now = Date.now()): string {
  if (t.state !== 'queued') return '-';
  if (!t.eta) return t.etaNote?.includes('more than') ? '>6 h' : '?';
  return aboutIn(t.eta.startAt.getTime() - now).replace(/^about /, '');
}

/** Queued, as a person would say it: held (by them), waiting (for its dependencies), or queued. */
export function stateWord(t: Pick<TaskView, 'state' | 'held' | 'blocked'>): string {
  return t.held ? 'held' : t.blocked ? 'waiting' : t.state;
}

export function listRow(t: TaskView): string[] {
  return [
    String(t.id),
    stateWord(t),
    t.agent,
    t.arrayId === null ? '-' : `${t.arrayId}[${t.arrayIndex}]`,
    String(t.priority),
    pct(t.progress),
    `${t.attempts}/${t.maxAttempts}`,
    age(t.createdAt),
    startsIn(t),
    note(t),
  ];
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
  },
): string {
  const r = t.resources;
  const lines = [
    `Task ${t.id}${t.name ? ` (${t.name})` : ''}`,
    `  agent:      ${t.agent}`,
    `  state:      ${t.state}${t.held ? ' (held)' : ''}${t.blocked ? ' (waiting for its dependencies)' : ''}${t.desired === 'cancel' && t.state === 'running' ? ' (cancelling)' : ''}`,
    `  priority:   ${t.priority}`,
    `  progress:   ${pct(t.progress)}${t.progressMessage ? `  ${t.progressMessage}` : ''}`,
    `  attempts:   ${t.attempts} of ${t.maxAttempts}`,
    `  resources:  ${r.cpu} CPU, ${r.memoryMB} MB RAM${r.gpu ? `, ${r.gpu.count} GPU × ${r.gpu.vramMB} MB VRAM` : ''}`,
    `  timeout:    ${t.timeoutSec === null ? 'none' : `${t.timeoutSec} s`}`,
    `  created:    ${t.createdAt.toISOString()}`,
  ];
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
    lines.push(`  estimate:   ${eta}${t.eta ? ` (${t.state === 'queued' ? `from ${t.eta.startAt.toISOString()} ` : ''}to ${t.eta.endAt.toISOString()})` : ''}`);
  if (t.notBefore) lines.push(`  next try:   ${t.notBefore.toISOString()}`);
  if (t.error) lines.push(`  error:      ${t.error}`);
  lines.push(`  input:      ${JSON.stringify(t.input)}`);
  if (t.result !== null) lines.push(`  result:     ${JSON.stringify(t.result)}`);
  for (const a of t.attemptList ?? []) {
    lines.push(
      `  attempt ${a.number}: ${a.outcome}${a.reason ? ` (${a.reason})` : ''}, started ${a.startedAt.toISOString()}${a.endedAt ? `, ended ${a.endedAt.toISOString()}` : ''}`,
    );
  }
  for (const a of t.artifacts ?? []) lines.push(`  artifact:   ${a.name}  ${a.path}  (${a.sizeBytes} bytes)`);
  return lines.join('\n');
}
