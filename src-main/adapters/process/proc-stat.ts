import { readdirSync, readFileSync } from 'node:fs';

export interface ProcStat {
  pid: number;
  /** R, S, D, Z (zombie), T, ... */
  state: string;
  ppid: number;
  pgrp: number;
  /** Clock ticks since boot when the process started: with the pid, it names one process for good. */
  startTime: string;
  /** CPU time used, in clock ticks (user + system). */
  cpuTicks: number;
  /** Resident set size, in pages. */
  rssPages: number;
}

/** Parses /proc/<pid>/stat. The command name may hold spaces and parentheses: split after the last ')'. */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const rest = text
    .slice(close + 2)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state); field N is rest[N - 3].
  const state = rest[0];
  const ppid = Number(rest[1]);
  const pgrp = Number(rest[2]);
  const startTime = rest[19];
  if (!Number.isInteger(pid) || !state || !Number.isInteger(ppid) || !Number.isInteger(pgrp) || !startTime) return null;
  const cpuTicks = Number(rest[11]) + Number(rest[12]);
  const rssPages = Number(rest[21]);
  return { pid, state, ppid, pgrp, startTime, cpuTicks: Number.isFinite(cpuTicks) ? cpuTicks : 0, rssPages: Number.isFinite(rssPages) ? rssPages : 0 };
}

export function readProcStat(pid: number): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** Every process there is now (those that vanish while being read are left out). */
export function listProcs(): ProcStat[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const out: ProcStat[] = [];
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const st = readProcStat(Number(name));
    if (st) out.push(st);
  }
  return out;
}

/** A zombie (Z) or dead (X) process holds nothing and cannot be signalled into doing anything. */
export function isLive(st: ProcStat): boolean {
  return st.state !== 'Z' && st.state !== 'X';
}

/** Whether the process that had this pid and start time is still alive (zombies count as gone). */
export function isSameProcessAlive(pid: number, startTime: string): boolean {
  const s = readProcStat(pid);
  return s !== null && isLive(s) && s.startTime === startTime;
}

/**
 * Whether any live process is left in the group. kill(-pgid, 0) also counts zombies, which a
 * container's init may never reap; so when it says "someone", /proc is asked for a live one.
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return true;
  }
  for (const name of entries) {
    if (name.charCodeAt(0) < 48 || name.charCodeAt(0) > 57) continue;
    const st = readProcStat(Number(name));
    if (st && st.pgrp === pgid && st.state !== 'Z' && st.state !== 'X') return true;
  }
  return false;
}

export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}
