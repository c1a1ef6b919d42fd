import type { FamilyLookup, FamilyTracker } from './family-port.js';
import { isLive, isSameProcessAlive, listProcs, readProcStat, type ProcStat } from './proc-stat.js';

/** One process for good: a pid alone may be reused. */
export interface Member {
  pid: number;
  startTime: string;
}

interface Family {
  /** Processes that left the group, by pid, with their start times. */
  escaped: Map<number, string>;
  onJoin: ((m: Member) => void) | undefined;
}

/**
 * Each agent runs in its own process group, and signals go to the whole group. A descendant can
 * still leave the group (setsid, setpgid: a daemon, a model server started in the background),
 * and would then outlive a cancel and hold VRAM that counts as some other program's.
 *
 * So an agent's *family* is its process group plus every process found, by following parent
 * links, to descend from it. Every reading of /proc (a telemetry tick, and once more right before
 * a stop) follows those links; a process that left the group is remembered by pid and start time,
 * so it stays in the family once its parent is gone and it is re-parented to init. Members are
 * measured as the agent's, their VRAM is the agent's, and they are stopped with it.
 *
 * What this cannot see: a process that leaves the group and loses its parent between two readings
 * (a double fork within about a second). Only a cgroup would catch that (ADR 5).
 */
export class Families implements FamilyTracker, FamilyLookup {
  private readonly families = new Map<number, Family>();
  /** Escaped pid -> the group leader of its family. */
  private readonly owners = new Map<number, number>();

  get size(): number {
    return this.families.size;
  }

  /** Starts following the family of the group `pgid`; `known` are members found earlier (an adopted run's). */
  track(pgid: number, known: readonly Member[] = [], onJoin?: (m: Member) => void): void {
    const escaped = new Map<number, string>();
    for (const m of known) {
      escaped.set(m.pid, m.startTime);
      this.owners.set(m.pid, pgid);
    }
    this.families.set(pgid, { escaped, onJoin });
  }

  untrack(pgid: number): void {
    const f = this.families.get(pgid);
    if (!f) return;
    for (const pid of f.escaped.keys()) this.owners.delete(pid);
    this.families.delete(pgid);
  }

  /** The group leader of the family a process that left its group belongs to; null if none. */
  ownerOf(pid: number): number | null {
    return this.owners.get(pid) ?? null;
  }

  /** The members of a family outside its group, as last seen. */
  escaped(pgid: number): Member[] {
    return [...(this.families.get(pgid)?.escaped ?? [])].map(([pid, startTime]) => ({ pid, startTime }));
  }

  /** Whether a member outside the group still lives. */
  escapedAlive(pgid: number): boolean {
    return this.escaped(pgid).some((m) => isSameProcessAlive(m.pid, m.startTime));
  }

  /** Reads /proc and updates every family; see `update`. */
  scan(): Map<number, ProcStat[]> {
    return this.families.size === 0 ? new Map() : this.update(listProcs());
  }

  /**
   * Updates the families from one reading of every process, and returns the live members of each
   * (group and escaped). A remembered member whose pid now names another process is forgotten.
   */
  update(procs: readonly ProcStat[]): Map<number, ProcStat[]> {
    const byPid = new Map<number, ProcStat>();
    for (const p of procs) if (isLive(p)) byPid.set(p.pid, p);
    const familyOf = new Map<number, number>();
    for (const p of byPid.values()) if (this.families.has(p.pgrp)) familyOf.set(p.pid, p.pgrp);
    for (const [pgid, f] of this.families) {
      for (const [pid, startTime] of f.escaped) {
        const p = byPid.get(pid);
        if (p && p.startTime === startTime) {
          if (!familyOf.has(pid)) familyOf.set(pid, pgid);
        } else {
          f.escaped.delete(pid);
          this.owners.delete(pid);
        }
      }
    }
    // Follow parent links until nothing more joins (a chain of forks takes one pass per level).
    for (let changed = true; changed;) {
      changed = false;
      for (const p of byPid.values()) {
        if (familyOf.has(p.pid)) continue;
        const pgid = familyOf.get(p.ppid);
        if (pgid === undefined) continue;
        familyOf.set(p.pid, pgid);
        changed = true;
        const f = this.families.get(pgid)!;
        f.escaped.set(p.pid, p.startTime);
        this.owners.set(p.pid, pgid);
        f.onJoin?.({ pid: p.pid, startTime: p.startTime });
      }
    }
    const members = new Map<number, ProcStat[]>();
    for (const [pid, pgid] of familyOf) {
      const list = members.get(pgid) ?? [];
      list.push(byPid.get(pid)!);
      members.set(pgid, list);
    }
    return members;
  }

  /**
   * Signals the members outside the group (the caller signals the group itself). A member that
   * leads a group of its own gets the signal for its whole group.
   */
  signalEscaped(pgid: number, signal: NodeJS.Signals): number {
    let sent = 0;
    for (const m of this.escaped(pgid)) {
      const st = readProcStat(m.pid);
      if (!st || st.startTime !== m.startTime || !isLive(st)) continue;
      try {
        process.kill(st.pgrp === m.pid ? -m.pid : m.pid, signal);
        sent += 1;
      } catch {
        // gone meanwhile
      }
    }
    return sent;
  }
}
