import type { Clock, TimerHandle } from '../core/ports.js';

/** The real clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => ({ id: setTimeout(fn, ms) }),
  clearTimeout: (h: TimerHandle) => clearTimeout(h.id as NodeJS.Timeout),
  random: () => Math.random(),
};
