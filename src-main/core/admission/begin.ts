const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** How far in the past a begin may be (a clock a little behind, a slow submit). */
export const BEGIN_GRACE_MS = 60_000;

/**
 * When a task given `begin` may start, as epoch ms; or what is wrong with it. Takes epoch ms, an
 * ISO time (local time without an offset: "2026-12-24T02:00"; with one: "...+01:00" or "...Z"),
 * or a time from now ("+30m", "+2h", "+1d", "+90s"). Pure: `now` is the Manager's clock.
 */
export function parseBegin(value: number | string, now: number): { at: number } | { problem: string } {
  let at: number;
  if (typeof value === 'number') at = value;
  else {
    const v = value.trim();
    const rel = /^\+(\d+(?:\.\d+)?)\s*(s|m|min|h|d)$/i.exec(v);
    const local = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(v);
    if (rel) at = now + Number(rel[1]) * UNIT_MS[rel[2]!.toLowerCase()]!;
    else if (local) {
      const [y, mo, d, h, mi, se] = [+local[1]!, +local[2]! - 1, +local[3]!, +local[4]!, +local[5]!, +(local[6] ?? 0)];
      const date = new Date(y, mo, d, h, mi, se);
      // No rolling over: 2026-13-45 is a typo, not a day in 2027.
      const same =
        date.getFullYear() === y &&
        date.getMonth() === mo &&
        date.getDate() === d &&
        date.getHours() === h &&
        date.getMinutes() === mi &&
        date.getSeconds() === se;
      if (!same) return { problem: `begin "${v}" is not a valid date` };
      at = date.getTime();
    } else if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v)) at = Date.parse(v);
    else return { problem: `begin "${value}" is not a time: give "2026-12-24T02:00" (local time), an ISO time with an offset, or "+30m", "+2h", "+1d"` };
  }
  if (!Number.isFinite(at)) return { problem: `begin "${String(value)}" is not a valid date` };
  if (at < now - BEGIN_GRACE_MS)
    return { problem: `begin ${new Date(at).toISOString()} is in the past; give a later time, or leave begin out to start as soon as it can` };
  return { at: Math.max(at, now) };
}
