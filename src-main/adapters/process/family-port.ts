import type { Member } from './families.js';
import type { ProcStat } from './proc-stat.js';

/**
 * The named port over one shared registry of agents' families (adapters/process/families.ts):
 * the processes that left an agent's group but still descend from it. The runner tracks and
 * stops them; telemetry finds them at each reading of /proc and counts their use as the agent's.
 * One object (`Families`) implements both views, so what one finds the other sees.
 */
export interface FamilyTracker {
  /** Starts following `pgid`'s family; `known` were found earlier (an adopted run's), `onJoin` hears of each new one. */
  track(pgid: number, known?: readonly Member[], onJoin?: (m: Member) => void): void;
  untrack(pgid: number): void;
  /** Whether a member that left the group is still alive (pid and start time). */
  escapedAlive(pgid: number): boolean;
  /** A fresh reading of /proc, folded in: right before a stop, so nothing that left since is missed. */
  scan(): Map<number, ProcStat[]>;
  /** Folds a reading of /proc the caller already made. */
  update(procs: readonly ProcStat[]): Map<number, ProcStat[]>;
  /** Sends `signal` to every live member that left the group; returns how many. */
  signalEscaped(pgid: number, signal: NodeJS.Signals): number;
}

/** What telemetry needs: to fold its readings in, and to attribute a process to its agent's group. */
export interface FamilyLookup {
  readonly size: number;
  update(procs: readonly ProcStat[]): Map<number, ProcStat[]>;
  /** The group leader of the family `pid` belongs to, or null. */
  ownerOf(pid: number): number | null;
}
