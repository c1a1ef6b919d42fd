/**
 * The spawner: a small, long-lived helper process that starts agents for the Manager (ADR 22).
 * Forking a process costs time in proportion to its size, and the parent waits for the child's
 * exec; the Manager's heap is large (and in the desktop app it is Electron's main process), so
 * the Manager hands each start to this process, whose heap stays small, and goes on.
 *
 * Protocol: one JSON object per line. On stdin, requests:
 *   {"op":"spawn","id":1,"dirs":[...],"writes":[{"path","text"}],"file":"/bin/sh","args":[...],"cwd":"...","env":{...},"stdout":"path","stderr":"path"}
 * (the folders are made and the files written first: the attempt's artifacts and state folders and its input)
 * On stdout, answers and events:
 *   {"ready":true,"pid":123}                            once, at start
 *   {"id":1,"pid":4567,"startTime":"884211"}            spawned (its own process group)
 *   {"id":1,"error":"..."}                              could not be spawned
 *   {"exit":4567,"code":0,"signal":null}                a child it spawned ended
 *   {"bad":"..."}                                       a request line it could not read
 * It imports nothing of the Manager's: it must start fast and stay small. It never signals an
 * agent. When its stdin closes (the Manager went away) it exits; the agents run on, reparented,
 * and a restarted Manager re-adopts them from their attempt folders as always.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';

interface SpawnRequest {
  op: 'spawn';
  id: number;
  dirs?: string[];
  writes?: { path: string; text: string }[];
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  stdout: string;
  stderr: string;
}

const send = (msg: unknown): void => {
  process.stdout.write(JSON.stringify(msg) + '\n');
};

/** Field 22 of /proc/<pid>/stat: the process's start time, what tells it apart from a later one with its pid. */
function startTime(pid: number): string | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function isRequest(m: unknown): m is SpawnRequest {
  const r = m as Partial<SpawnRequest> | null;
  return (
    !!r &&
    r.op === 'spawn' &&
    Number.isInteger(r.id) &&
    typeof r.file === 'string' &&
    Array.isArray(r.args) &&
    r.args.every((a) => typeof a === 'string') &&
    typeof r.cwd === 'string' &&
    !!r.env &&
    typeof r.env === 'object' &&
    typeof r.stdout === 'string' &&
    typeof r.stderr === 'string' &&
    (r.dirs === undefined || (Array.isArray(r.dirs) && r.dirs.every((d) => typeof d === 'string'))) &&
    (r.writes === undefined || (Array.isArray(r.writes) && r.writes.every((w) => w && typeof w.path === 'string' && typeof w.text === 'string')))
  );
}

function start(r: SpawnRequest): void {
  let out: number | null = null;
  let err: number | null = null;
  try {
    for (const d of r.dirs ?? []) mkdirSync(d, { recursive: true });
    for (const w of r.writes ?? []) writeFileSync(w.path, w.text);
  } catch (e) {
    send({ id: r.id, error: `could not prepare the attempt's folder: ${(e as Error).message}` });
    return;
  }
  try {
    out = openSync(r.stdout, 'a');
    err = openSync(r.stderr, 'a');
    const child = spawn(r.file, r.args, { cwd: r.cwd, env: r.env, detached: true, stdio: ['ignore', out, err] });
    child.on('error', (e) => {
      if (child.pid === undefined) send({ id: r.id, error: e.message });
    });
    if (child.pid === undefined) return; // answered by 'error'
    const pid = child.pid;
    child.on('exit', (code, signal) => send({ exit: pid, code, signal }));
    send({ id: r.id, pid, startTime: startTime(pid) ?? 'unknown' });
  } catch (e) {
    send({ id: r.id, error: (e as Error).message });
  } finally {
    if (out !== null) closeSync(out);
    if (err !== null) closeSync(err);
  }
}

let buffered = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  buffered += chunk;
  let nl: number;
  while ((nl = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (line.trim() === '') continue;
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      send({ bad: line.slice(0, 200) });
      continue;
    }
    if (isRequest(msg)) start(msg);
    else send({ bad: line.slice(0, 200) });
  }
});
// The Manager went away: nothing more will be asked. The agents are not ours to stop.
process.stdin.on('end', () => process.exit(0));
process.on('SIGTERM', () => process.exit(0));
// Ctrl-C in a terminal reaches the whole foreground group: the Manager shuts down on it, and closes our stdin when done.
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});
send({ ready: true, pid: process.pid });
