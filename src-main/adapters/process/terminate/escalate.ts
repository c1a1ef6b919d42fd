import type { RunFamily } from './family.js';

/** Why we stopped a run. */
export type Termination = 'cancelled' | 'timedOut' | 'leftovers';

/** The stop of one run: its reason, set once, and when SIGTERM and SIGKILL went. */
export interface StopState {
  reason: Termination;
  termAt: number;
  killAt: number | null;
  /** This stop's grace period (a preemption's may differ from the runner's). */
  graceMs: number;
}

/**
 * SIGTERM to the family, then SIGKILL once the grace period is over if anything is left. The
 * first reason wins: a cancel after a timeout stays a timeout.
 */
export class Escalation {
  state: StopState | null = null;

  constructor(
    private readonly family: RunFamily,
    private readonly graceMs: number,
    private readonly note: (message: string) => void,
  ) {}

  get reason(): Termination | null {
    return this.state?.reason ?? null;
  }

  /** SIGKILL had to follow SIGTERM. */
  get forced(): boolean {
    return this.state !== null && this.state.killAt !== null;
  }

  begin(reason: Termination, message: string, now: number, graceMs = this.graceMs): void {
    if (this.state) return;
    this.state = { reason, termAt: now, killAt: null, graceMs };
    this.note(message);
    this.family.rescan();
    this.family.signal('SIGTERM');
  }

  /** At each poll: SIGKILL once the grace period is over. */
  tick(now: number): void {
    const s = this.state;
    if (!s || s.killAt !== null || now - s.termAt < s.graceMs) return;
    if (this.family.alive()) {
      this.note(`still running ${s.graceMs} ms after SIGTERM: SIGKILL to the process group`);
      this.family.rescan();
      this.family.signal('SIGKILL');
    }
    s.killAt = now;
  }
}
