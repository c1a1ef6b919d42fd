import { appendFileSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Member } from './families.js';

/**
 * The files of an attempt's folder that tell a restarted Manager what became of its agent:
 * - `run-id`: the attempt's marker, written *before* the agent is spawned. Its absence proves the
 *   agent never started; its presence lets recovery find the agent's processes by marker even
 *   when the Manager died before recording the pid.
 * - `pid`: written by the wrapper shell as its first act: the leader of the agent's group.
 * - `exit-status`: written by the wrapper when the agent ends.
 * - `escaped`: processes that left the agent's group, one "pid start-time" a line.
 */
export const RUN_ID_FILE = 'run-id';
export const PID_FILE = 'pid';
export const EXIT_FILE = 'exit-status';
export const ESCAPED_FILE = 'escaped';

const readText = (dir: string, name: string): string | null => {
  try {
    return readFileSync(join(dir, name), 'utf8');
  } catch {
    return null;
  }
};

export function writeRunId(dir: string, runId: string): void {
  writeFileSync(join(dir, RUN_ID_FILE), runId + '\n');
}

export function readRunId(dir: string): string | null {
  const t = readText(dir, RUN_ID_FILE)?.trim();
  return t && /^[0-9a-f]{16,64}$/.test(t) ? t : null;
}

export function readPidFile(dir: string): number | null {
  const t = readText(dir, PID_FILE)?.trim();
  return t && /^\d+$/.test(t) ? Number(t) : null;
}

export function readExitFile(dir: string): number | null {
  const t = readText(dir, EXIT_FILE)?.trim();
  if (!t || !/^\d+$/.test(t)) return null;
  return Number(t);
}

export function clearExitFile(dir: string): void {
  rmSync(join(dir, EXIT_FILE), { force: true });
}

export function readEscapedFile(dir: string): Member[] {
  const out: Member[] = [];
  for (const line of (readText(dir, ESCAPED_FILE) ?? '').split('\n')) {
    const [pid, startTime] = line.trim().split(' ');
    if (pid && /^\d+$/.test(pid) && startTime && /^\d+$/.test(startTime)) out.push({ pid: Number(pid), startTime });
  }
  return out;
}

export function appendEscaped(dir: string, m: Member): void {
  try {
    appendFileSync(join(dir, ESCAPED_FILE), `${m.pid} ${m.startTime}\n`);
  } catch {
    // the log line still says so
  }
}

/** When a file of the attempt was last written, in epoch ms (null if it is not there). */
export function writtenAt(dir: string, name: string): number | null {
  try {
    return statSync(join(dir, name)).mtimeMs;
  } catch {
    return null;
  }
}
