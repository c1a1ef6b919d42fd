/** What one view of the thread's lateness says (ms). */
export interface LoopDelaySummary {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** How many seconds it covers. */
  sinceSec: number;
}

/** Samples kept for a window: 10 minutes at the default resolution. */
const RING = 12_000;
/** Whole milliseconds counted since the start; anything later counts in the last one. */
const BUCKETS = 10_000;

/**
 * How late timers run on this thread (what the desktop app's IPC and the tray feel): a timer every
 * `resolutionMs`, each firing's lateness recorded, since the start (whole milliseconds) and for
 * the last 10 minutes (each sample), so a window (the last N seconds: while a batch flowed, say)
 * can be asked for. Unref'd: it never keeps the process alive.
 */
export class LoopDelay {
  private readonly since = Date.now();
  private readonly counts = new Uint32Array(BUCKETS + 1);
  private total = 0;
  private max = 0;
  private readonly delays = new Float32Array(RING);
  private readonly times = new Float64Array(RING);
  private next = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly resolutionMs = 50) {}

  start(): void {
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      this.record(Math.max(0, now - last - this.resolutionMs), Date.now());
      last = now;
    }, this.resolutionMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One sample: `ms` late, at `at` (epoch ms). */
  record(ms: number, at: number): void {
    this.counts[Math.min(BUCKETS, Math.floor(ms))]! += 1;
    this.total += 1;
    this.max = Math.max(this.max, ms);
    this.delays[this.next % RING] = ms;
    this.times[this.next % RING] = at;
    this.next += 1;
  }

  /** Since the start; or, with `windowSec`, over the last that many seconds (at most 10 minutes). */
  summary(windowSec?: number, now = Date.now()): LoopDelaySummary {
    if (windowSec === undefined) {
      const at = (p: number): number => {
        const rank = Math.ceil((p / 100) * this.total);
        let seen = 0;
        for (let ms = 0; ms <= BUCKETS; ms++) {
          seen += this.counts[ms]!;
          if (seen >= rank && seen > 0) return ms;
        }
        return 0;
      };
      return { p50Ms: at(50), p99Ms: at(99), maxMs: round(this.max), sinceSec: Math.round((now - this.since) / 1000) };
    }
    const from = now - windowSec * 1000;
    const picked: number[] = [];
    for (let i = Math.max(0, this.next - RING); i < this.next; i++) if (this.times[i % RING]! >= from) picked.push(this.delays[i % RING]!);
    picked.sort((a, b) => a - b);
    const pct = (p: number): number => (picked.length === 0 ? 0 : round(picked[Math.min(picked.length - 1, Math.ceil((p / 100) * picked.length) - 1)]!));
    return { p50Ms: pct(50), p99Ms: pct(99), maxMs: round(picked.at(-1) ?? 0), sinceSec: Math.min(windowSec, Math.round((now - this.since) / 1000)) };
  }
}

const round = (ms: number): number => Math.round(ms * 10) / 10;
