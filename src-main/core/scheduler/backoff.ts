/**
 * Exponential backoff with "equal jitter": half the delay is fixed, half random, so retries of many
 * tasks that failed together spread out without ever retrying sooner than half the base delay.
 * `attempt` is the number of the attempt that just failed (1-based). `random` is in [0, 1).
 */
export function backoffMs(baseSec: number, attempt: number, random: number, capSec = 3600): number {
  if (baseSec <= 0) return 0;
  const exp = Math.min(capSec, baseSec * 2 ** Math.max(0, attempt - 1));
  const half = exp / 2;
  return Math.round((half + half * random) * 1000);
}
