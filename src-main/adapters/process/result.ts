import { constants as osc } from 'node:os';
import type { RunOutcome } from '../../core/lifecycle/attempt-end.js';

function signalName(n: number): string | null {
  for (const [name, num] of Object.entries(osc.signals)) if (num === n) return name;
  return null;
}

/** Exit status as the shell reports it: 128+N means killed by signal N. */
export function decodeStatus(status: number): { exitCode: number | null; signal: string | null } {
  if (status > 128 && status < 128 + 65) {
    const sig = signalName(status - 128);
    if (sig) return { exitCode: null, signal: sig };
  }
  return { exitCode: status, signal: null };
}

const base: RunOutcome = {
  exitCode: null,
  signal: null,
  timedOut: false,
  cancelled: false,
  unknown: false,
  startError: null,
  forcefullyTerminated: false,
  durationMs: 0,
};

/** A run whose fate cannot be known (its files are gone, or it left no exit status). */
export const unknownOutcome = (durationMs = 0): RunOutcome => ({ ...base, unknown: true, durationMs });

/** A run that could not be started (missing executable, spawn error). */
export const startFailed = (message: string): RunOutcome => ({ ...base, startError: message });

/** An attempt whose agent was provably never spawned (the Manager stopped first). */
export const notStarted = (): RunOutcome => ({ ...base, notStarted: true });

/** How the run ended, in a few words for its log. */
export function describeEnd(o: RunOutcome): string {
  if (o.cancelled) return 'cancelled';
  if (o.timedOut) return 'timed out';
  if (o.unknown) return 'ended while no Manager was watching; status unknown';
  return o.signal ? `killed by ${o.signal}` : `exit code ${o.exitCode}`;
}
