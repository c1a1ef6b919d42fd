import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { isLive, listProcs, readProcStat } from '../process/proc-stat.js';

/** The socket inodes listening on `port` (TCP over IPv4 and IPv6), from /proc/net. */
function listeningInodes(port: number): Set<string> {
  const out = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; st 0A is LISTEN; field 9 is the inode.
      if (f.length < 10 || f[3] !== '0A') continue;
      if (parseInt(f[1]!.split(':')[1] ?? '', 16) === port) out.add(f[9]!);
    }
  }
  return out;
}

/**
 * The process that listens on `port` on this machine (the resident's server), found by matching
 * the listening socket's inode in /proc/<pid>/fd; null when none is visible to us (another user's
 * process, or not Linux). Cost: a look at every process's descriptors, so it is cached by caller.
 */
export function findListener(port: number): number | null {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return null;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return null;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return Number(pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  return null;
}

/** A process and every live descendant of it (Ollama's and llama-server's model runners are children). */
export function withDescendants(pid: number): number[] {
  const procs = listProcs().filter(isLive);
  const children = new Map<number, number[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const out: number[] = [];
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/** Whether `pid` still names the process that started at `startTime`. */
export function stillThere(pid: number, startTime: string): boolean {
  const st = readProcStat(pid);
  return st !== null && isLive(st) && st.startTime === startTime;
}
