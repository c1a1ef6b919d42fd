import { readFileSync } from 'node:fs';
import { isLive, isSameProcessAlive, listProcs, type ProcStat } from './proc-stat.js';

/**
 * Proof that a process is ours. A pid, or a process group id, names a process only while it
 * lives: once it has ended the kernel may hand the number to anything. So the Manager signals a
 * process only when it can prove the process belongs to one of its attempts:
 * - the attempt's leader, matched by pid *and* start time, or
 * - a process whose environment carries the attempt's marker, `AGENTMGR_RUN_ID=<nonce>`.
 *   Every descendant inherits it (fork, setsid, a double fork), so a scan of /proc/<pid>/environ
 *   also finds what left the group and lost its parent. Only a process that replaces its whole
 *   environment (`env -i`) sheds it.
 * A group is signalled as a whole only while its leader is proven alive, or while a live member
 * carries the marker: a group id cannot be reused while the group has a member.
 */
export const RUN_ID_ENV = 'AGENTMGR_RUN_ID';

export type Marker = string;

export const markerFor = (runId: string): Marker => `${RUN_ID_ENV}=${runId}`;

/** Whether the process's environment holds the marker exactly (one whole `KEY=VALUE` entry). */
export function carriesMarker(pid: number, marker: Marker): boolean {
  let env: Buffer;
  try {
    env = readFileSync(`/proc/${pid}/environ`);
  } catch {
    return false; // gone, or another user's: not ours either way
  }
  const needle = Buffer.from(marker + '\0');
  for (let i = env.indexOf(needle); i >= 0; i = env.indexOf(needle, i + 1)) {
    if (i === 0 || env[i - 1] === 0) return true;
  }
  // The last entry may lack its terminating NUL.
  const last = Buffer.from(marker);
  return (
    env.length >= last.length && env.subarray(env.length - last.length).equals(last) && (env.length === last.length || env[env.length - last.length - 1] === 0)
  );
}

/**
 * Every live process that carries the marker. `bornSince` (the attempt's leader's start time, in
 * clock ticks) skips the environment of every process older than the attempt, which cannot be
 * its descendant: the scan at each stop then reads only the few processes started since.
 */
export function markedProcesses(marker: Marker, procs: readonly ProcStat[] = listProcs(), bornSince: string | null = null): ProcStat[] {
  const since = bornSince === null ? Number.NaN : Number(bornSince);
  return procs.filter((p) => isLive(p) && p.pid !== process.pid && !(Number(p.startTime) < since) && carriesMarker(p.pid, marker));
}

/**
 * Sends `signal` to every process proven ours: the group while its leader is proven alive (or a
 * live member of it carries the marker), and every marked process wherever it went. Returns how
 * many were signalled (groups count once).
 */
export function signalOurs(opts: {
  pgid: number | null;
  leader: { pid: number; startTime: string } | null;
  marker: Marker | null;
  bornSince?: string | null;
  signal: NodeJS.Signals;
}): number {
  const { pgid, leader, marker, signal } = opts;
  const marked = marker ? markedProcesses(marker, listProcs(), opts.bornSince ?? null) : [];
  let sent = 0;
  if (pgid !== null) {
    const leaderAlive = leader !== null && isSameProcessAlive(leader.pid, leader.startTime);
    if (leaderAlive || marked.some((p) => p.pgrp === pgid)) {
      try {
        process.kill(-pgid, signal);
        sent += 1;
      } catch {
        // emptied meanwhile
      }
    }
  }
  for (const p of marked) {
    if (pgid !== null && p.pgrp === pgid) continue; // had the group's signal
    try {
      process.kill(p.pid, signal);
      sent += 1;
    } catch {
      // gone meanwhile
    }
  }
  return sent;
}
