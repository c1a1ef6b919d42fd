/**
 * What every scheduler step returns. `ok` lets the task go on to the next step; otherwise the task
 * waits and `reasons` says why, in words a person understands, one per shortfall.
 */
export type Status = { ok: true } | { ok: false; reasons: string[] };

export const OK: Status = { ok: true };

export function waitFor(...reasons: string[]): Status {
  return { ok: false, reasons };
}
