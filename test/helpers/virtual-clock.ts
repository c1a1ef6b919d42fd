import type { Clock, TimerHandle } from '../../src-main/core/ports.js';

interface Timer {
  id: number;
  at: number;
  fn: () => void;
}

/** A clock that only moves when told to; timers fire in time order, ties in creation order. */
export class VirtualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: Timer[] = [];
  private rnd: () => number;

  constructor(start = Date.UTC(2026, 0, 1), random: () => number = () => 0.5) {
    this.t = start;
    this.rnd = random;
  }

  now(): number {
    return this.t;
  }

  random(): number {
    return this.rnd();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: ++this.seq, at: this.t + Math.max(0, ms), fn };
    this.timers.push(timer);
    return { id: timer.id };
  }

  clearTimeout(h: TimerHandle): void {
    this.timers = this.timers.filter((x) => x.id !== h.id);
  }

  pending(): number {
    return this.timers.length;
  }

  /** Runs every timer due within `ms` from now (including ones those timers set). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = Math.max(this.t, due.at);
      due.fn();
    }
    this.t = end;
  }

  /** Runs the one timer due next, if it is due now; says whether there was one. */
  step(): boolean {
    const due = this.timers.filter((x) => x.at <= this.t).sort((a, b) => a.at - b.at || a.id - b.id)[0];
    if (!due) return false;
    this.timers = this.timers.filter((x) => x !== due);
    due.fn();
    return true;
  }

  /** Runs what is due now (zero-delay timers: coalesced scheduling cycles). */
  flush(): void {
    this.advance(0);
  }
}
