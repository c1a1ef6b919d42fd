import type { FamilyTracker } from '../family-port.js';
import type { Member } from '../families.js';
import { markedProcesses, signalOurs, type Marker } from '../ownership.js';
import { isSameProcessAlive, listProcs, type ProcStat } from '../proc-stat.js';

/**
 * What is provably ours of one run, and how to signal it: the leader (pid and start time), its
 * process group while the leader is proven alive, the members that left the group, and every
 * process carrying the run's marker (ADR 10). Nothing else is ever signalled.
 */
export class RunFamily {
  leader: Member | null = null;
  pgid = 0;
  marker: Marker | null = null;
  /** Set once the leader has exited (reaped, or seen gone): its group id may be reused from then on. */
  leaderGone = false;

  constructor(private readonly families: FamilyTracker) {}

  leaderAlive(): boolean {
    return !this.leaderGone && this.leader !== null && isSameProcessAlive(this.leader.pid, this.leader.startTime);
  }

  /** Whether anything provably ours is left. `procs`: a reading of /proc the caller already made. */
  alive(procs?: readonly ProcStat[]): boolean {
    if (this.leader && isSameProcessAlive(this.leader.pid, this.leader.startTime)) return true;
    if (this.families.escapedAlive(this.pgid)) return true;
    if (!this.marker) return false;
    return markedProcesses(this.marker, procs ?? listProcs(), this.bornSince()).length > 0;
  }

  /** Every process provably ours gets `signal`. */
  signal(signal: NodeJS.Signals): void {
    signalOurs({ pgid: this.pgid, leader: this.leaderGone ? null : this.leader, marker: this.marker, bornSince: this.bornSince(), signal });
    this.families.signalEscaped(this.pgid, signal);
  }

  /** One more look at /proc first: what left the group since the last look is found while its parent still links it. */
  rescan(): void {
    this.families.scan();
  }

  /** Descendants start after the leader; null when its start time is not known (scan them all). */
  private bornSince(): string | null {
    return this.leader && /^\d+$/.test(this.leader.startTime) ? this.leader.startTime : null;
  }
}
