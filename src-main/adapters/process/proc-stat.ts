import { closeSync, openSync, readdirSync, readSync } from 'node:fs';

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

/**
 * Parses /proc/<pid>/stat. The command name may hold spaces and parentheses: the fields are read
 * after the last ')'. Only the fields used are cut out (a reading of /proc at each end made tens
 * of millions of short strings a day of work with a split; issue 18).
 */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  let state = '';
  let ppid = Number.NaN;
  let pgrp = Number.NaN;
  let utime = Number.NaN;
  let stime = Number.NaN;
  let startTime = '';
  let rssPages = Number.NaN;
  // Field 3 (state) is the first after ") ".
  let field = 3;
  for (let i = close + 1; i < text.length && field <= 24; field++) {
    while (i < text.length && text.charCodeAt(i) <= 32) i++;
    const from = i;
    while (i < text.length && text.charCodeAt(i) > 32) i++;
    if (from === i) break;
    if (field === 3) state = text.slice(from, i);
    else if (field === 4) ppid = wholeNumber(text, from, i);
    else if (field === 5) pgrp = wholeNumber(text, from, i);
    else if (field === 14) utime = wholeNumber(text, from, i);
    else if (field === 15) stime = wholeNumber(text, from, i);
    else if (field === 22) startTime = text.slice(from, i);
    else if (field === 24) rssPages = wholeNumber(text, from, i);
  }
  if (!Number.isInteger(pid) || !state || !Number.isInteger(ppid) || !Number.isInteger(pgrp) || !startTime) return null;
  const cpuTicks = utime + stime;
  return { pid, state, ppid, pgrp, startTime, cpuTicks: Number.isFinite(cpuTicks) ? cpuTicks : 0, rssPages: Number.isFinite(rssPages) ? rssPages : 0 };
}

/** The decimal integer text[from, to) (a leading '-' allowed), NaN if it is not one. */
function wholeNumber(text: string, from: number, to: number): number {
  const negative = text.charCodeAt(from) === 45;
  let n = 0;
  let i = negative ? from + 1 : from;
  if (i >= to) return Number.NaN;
  for (; i < to; i++) {
    const d = text.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return Number.NaN;
    n = n * 10 + d;
  }
  return negative ? -n : n;
}

/** One buffer for every read of a stat file (they are a few hundred bytes). */
const STAT_BUFFER = Buffer.allocUnsafe(4096);

export function readProcStat(pid: number): ProcStat | null {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/stat`, 'r');
  } catch {
    return null;
  }
  try {
    const n = readSync(fd, STAT_BUFFER, 0, STAT_BUFFER.length, 0);
    return parseProcStat(STAT_BUFFER.toString('latin1', 0, n));
  } catch {
    return null;
  } finally {
    closeSync(fd);
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
