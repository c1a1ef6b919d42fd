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

export { notStarted, startFailed, unknownOutcome } from '../../core/lifecycle/attempt-end.js';

/** How the run ended, in a few words for its log. */
export function describeEnd(o: RunOutcome): string {
  if (o.cancelled) return 'cancelled';
  if (o.timedOut) return 'timed out';
  if (o.unknown) return 'ended while no Manager was watching; status unknown';
  return o.signal ? `killed by ${o.signal}` : `exit code ${o.exitCode}`;
}
