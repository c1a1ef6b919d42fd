/** Numbers as people read them in reasons: "3000 MB", "1.5 cores". */
export function mb(n: number): string {
  return `${Math.max(0, Math.round(n))} MB`;
}

export function cores(n: number): string {
  const v = Math.max(0, Math.round(n * 100) / 100);
  return `${v} ${v === 1 ? 'core' : 'cores'}`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A duration as people say it: "90 s", "2 min", "1.5 h". */
export function seconds(ms: number): string {
  const s = ms / 1000;
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round((s / 60) * 10) / 10} min`;
  return `${Math.round((s / 3600) * 10) / 10} h`;
}
