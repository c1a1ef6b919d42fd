export function age(from: Date | number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - (typeof from === 'number' ? from : from.getTime())) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

export function mb(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–';
  return n >= 10_240 ? `${(n / 1024).toFixed(1)} GB` : `${Math.round(n)} MB`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1073741824) return `${(n / 1048576).toFixed(1)} MB`;
  return `${(n / 1073741824).toFixed(2)} GB`;
}

export function pct(p: number | null | undefined): string {
  return p === null || p === undefined ? '' : `${Math.round(p * 100)}%`;
}

export function resources(r: { cpu: number; memoryMB: number; gpu?: { count: number; vramMB: number } }): string {
  return `${r.cpu} CPU · ${mb(r.memoryMB)} RAM${r.gpu ? ` · ${r.gpu.count > 1 ? `${r.gpu.count} × ` : ''}${mb(r.gpu.vramMB)} VRAM` : ''}`;
}

export const STATE_LABEL: Record<string, string> = {
  queued: 'Queued',
  starting: 'Starting',
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
  timed_out: 'Timed out',
  interrupted: 'Interrupted',
};

/**
 * A timestamp as people read it: the local time (with the date when not today) and how long
 * ago, e.g. "14:03 · 5m ago" or "2 Dec 09:12 · 1d ago"; `full` is the whole local date and time
 * (for a tooltip).
 */
export function when(d: Date | number, now = Date.now()): { text: string; full: string } {
  const date = typeof d === 'number' ? new Date(d) : d;
  const today = new Date(now).toDateString() === date.toDateString();
  const time = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  const day = today ? '' : `${date.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })} `;
  return { text: `${day}${time} · ${age(date, now)} ago`, full: date.toLocaleString() };
}

/** A duration in words: "42s", "3m 05s", "2h 10m", "1d 4h". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}
