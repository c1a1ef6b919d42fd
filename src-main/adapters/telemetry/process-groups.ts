import { readFileSync } from 'node:fs';
import type { FamilyLookup } from '../process/family-port.js';
import { isLive, listProcs, type ProcStat } from '../process/proc-stat.js';

export interface GroupUsage {
  /** Resident memory of every live process in the group. */
  rssMB: number;
  /** CPU cores used since the last sample; null on the first sample of a group. */
  cpuCores: number | null;
  processes: number;
}

/** Linux reports CPU time in USER_HZ ticks, 100 per second on every mainstream kernel. */
const TICKS_PER_SECOND = 100;

let pageBytes: number | null = null;

/** The page size, from this very process: VmRSS (kB) over its resident pages. */
function pageSize(): number {
  if (pageBytes !== null) return pageBytes;
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
    const pages = Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]);
    const guess = (kb * 1024) / pages;
    // Round to a power of two (4 KiB, 16 KiB, 64 KiB): the two reads are not taken at once.
    pageBytes = guess > 0 ? 2 ** Math.round(Math.log2(guess)) : 4096;
  } catch {
    pageBytes = 4096;
  }
  return pageBytes;
}

/**
 * RAM and CPU of whole process groups (an agent and everything it started), from /proc. Only the
 * groups asked for are reported; with none, /proc is not read at all. With `families`, the same
 * reading also finds the processes that left an agent's group (see Families), and they count as
 * the agent's.
 */
export class ProcessGroupSampler {
  private last = new Map<number, { ticks: number; at: number }>();

  constructor(private readonly families: FamilyLookup | null = null) {}

  sample(pgids: ReadonlySet<number>, now = Date.now()): Map<number, GroupUsage> {
    const out = new Map<number, GroupUsage>();
    if (pgids.size === 0) {
      this.last.clear();
      return out;
    }
    const procs = listProcs();
    let members: Map<number, ProcStat[]>;
    if (this.families && this.families.size > 0) members = this.families.update(procs);
    else {
      members = new Map();
      for (const st of procs) {
        if (!pgids.has(st.pgrp) || !isLive(st)) continue;
        const list = members.get(st.pgrp) ?? [];
        list.push(st);
        members.set(st.pgrp, list);
      }
    }
    const page = pageSize();
    for (const [pgid, list] of members) {
      if (!pgids.has(pgid)) continue;
      let rssPages = 0;
      let ticks = 0;
      for (const st of list) {
        rssPages += st.rssPages;
        ticks += st.cpuTicks;
      }
      const prev = this.last.get(pgid);
      const dt = prev ? (now - prev.at) / 1000 : 0;
      const cpu = prev && dt > 0 ? Math.max(0, (ticks - prev.ticks) / TICKS_PER_SECOND / dt) : null;
      this.last.set(pgid, { ticks, at: now });
      out.set(pgid, { rssMB: Math.round((rssPages * page) / 1048576), cpuCores: cpu === null ? null : Math.round(cpu * 100) / 100, processes: list.length });
    }
    for (const pgid of this.last.keys()) if (!pgids.has(pgid)) this.last.delete(pgid);
    return out;
  }
}
