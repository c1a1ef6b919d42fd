import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The built helper (src-main/adapters/process/spawner/main.ts): beside this file in dist/, as
 * spawner.js beside the desktop app's main bundle (out/main/), or, running from source (the
 * tests), in dist/ (test/global-setup.ts builds it).
 */
export const SPAWNER_MAIN =
  [join(here, 'main.js'), join(here, 'spawner.js'), join(here, '..', '..', '..', '..', 'dist', 'src-main', 'adapters', 'process', 'spawner', 'main.js')].find(
    (f) => existsSync(f),
  ) ?? join(here, 'main.js');

export interface SpawnRequest {
  /** Made, and written, before the fork. */
  dirs?: string[];
  writes?: { path: string; text: string }[];
  file: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  stdout: string;
  stderr: string;
}

export type SpawnAnswer =
  | { pid: number; startTime: string }
  | { error: string }
  /** The spawner died before it answered: whether the agent was started is not known (its folder tells). */
  | { lost: true };

/** How the spawner stands: in use, or why agents are started directly (said once in the log, and in health). */
export interface SpawnerStatus {
  mode: 'spawner' | 'direct' | 'starting';
  pid: number | null;
  restarts: number;
  /** Why it is not in use (it could not start), or what last went wrong with it; null: nothing. */
  problem: string | null;
  /** Lines from it that were not its protocol, counted (each logged). */
  badLines: number;
}

export interface SpawnerOptions {
  /** The program and its arguments; default: this Node (or Electron as Node) running SPAWNER_MAIN. */
  command?: { file: string; args: string[]; env?: NodeJS.ProcessEnv };
  /** Said once per problem. */
  log?: (level: 'info' | 'warn', message: string, fields?: Record<string, unknown>) => void;
  /** Between restarts after it died (doubling up to 30 s). */
  restartMs?: number;
  /** A spawner that does not say it is ready within this long is given up on (direct spawning). */
  readyTimeoutMs?: number;
}

type ExitListener = (code: number | null, signal: string | null) => void;

/**
 * The Manager's end of the spawner (ADR 22): it starts the helper at boot, restarts it if it
 * dies, and gives each spawn a promise of its pid. Exits of the agents it started come back as
 * events by pid. A spawner that cannot start at all (its file missing, not executable, or never
 * ready) makes the runner start agents itself, said once in the log and in health; the Manager
 * keeps running. Malformed lines from it are logged and counted, never thrown.
 */
export class SpawnerClient {
  private child: ChildProcess | null = null;
  private ready = false;
  private nextId = 1;
  private readonly pending = new Map<number, { req: SpawnRequest; resolve: (a: SpawnAnswer) => void }>();
  private readonly exits = new Map<number, ExitListener>();
  private readonly deathListeners = new Set<(pids: number[]) => void>();
  private buffered = '';
  private stopped = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private delay: number;
  private readonly status0: SpawnerStatus = { mode: 'starting', pid: null, restarts: 0, problem: null, badLines: 0 };

  constructor(private readonly opts: SpawnerOptions = {}) {
    this.delay = opts.restartMs ?? 500;
  }

  status(): SpawnerStatus {
    return { ...this.status0 };
  }

  /** Whether spawns go through it now (else: start agents directly). */
  get usable(): boolean {
    return this.ready && this.child !== null;
  }

  /** Starts the helper; resolves once it is ready, or has been given up on (then `usable` is false). */
  start(): Promise<void> {
    this.stopped = false;
    return new Promise((resolve) => this.launch(resolve));
  }

  private launch(done: () => void = () => {}): void {
    const cmd = this.opts.command ?? defaultCommand();
    const problem = checkRunnable(cmd.file, cmd.args);
    if (problem) return this.giveUp(problem, done);
    let child: ChildProcess;
    try {
      child = spawn(cmd.file, cmd.args, { stdio: ['pipe', 'pipe', 'pipe'], env: cmd.env ?? process.env });
    } catch (e) {
      return this.giveUp(`the spawner could not be started: ${(e as Error).message}`, done);
    }
    this.child = child;
    this.ready = false;
    this.buffered = '';
    const timer = setTimeout(() => {
      if (this.ready || this.child !== child) return;
      child.kill('SIGKILL');
      this.giveUp(`the spawner did not start within ${this.opts.readyTimeoutMs ?? 10_000} ms`, done);
    }, this.opts.readyTimeoutMs ?? 10_000);
    child.on('error', (e) => {
      if (this.child !== child) return;
      clearTimeout(timer);
      if (!this.ready) this.giveUp(`the spawner could not be started: ${e.message}`, done);
    });
    child.stdin!.on('error', () => {
      // A dead spawner's pipe: its exit is handled below.
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (t: string) => this.opts.log?.('warn', 'the spawner wrote to stderr', { text: t.trim().slice(0, 500) }));
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) =>
      this.read(chunk, () => {
        clearTimeout(timer);
        this.unref(child);
        this.ready = true;
        this.delay = this.opts.restartMs ?? 500;
        Object.assign(this.status0, { mode: 'spawner', pid: child.pid ?? null });
        done();
      }),
    );
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      clearTimeout(timer);
      const wasReady = this.ready;
      this.child = null;
      this.ready = false;
      this.died(code, signal, wasReady, done);
    });
  }

  /** Once ready, the helper and its pipes keep no process alive on their own (the Manager's server does). */
  private unref(child: ChildProcess): void {
    child.unref();
    for (const p of [child.stdin, child.stdout, child.stderr]) (p as unknown as { unref?: () => void } | null)?.unref?.();
  }

  private read(chunk: string, onReady: () => void): void {
    this.buffered += chunk;
    let nl: number;
    while ((nl = this.buffered.indexOf('\n')) >= 0) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      if (line.trim() !== '') this.message(line, onReady);
    }
    // A line that never ends is not the protocol: it is dropped, not kept growing.
    if (this.buffered.length > 1_000_000) {
      this.bad(this.buffered.slice(0, 200));
      this.buffered = '';
    }
  }

  private message(line: string, onReady: () => void): void {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line) as Record<string, unknown>;
      if (!m || typeof m !== 'object' || Array.isArray(m)) throw new Error('not an object');
    } catch {
      return this.bad(line);
    }
    if (m.ready === true) return onReady();
    if (typeof m.id === 'number' && this.pending.has(m.id)) {
      const p = this.pending.get(m.id)!;
      if (typeof m.pid === 'number' && Number.isInteger(m.pid) && m.pid > 0) {
        this.pending.delete(m.id);
        return p.resolve({ pid: m.pid, startTime: typeof m.startTime === 'string' ? m.startTime : 'unknown' });
      }
      if (typeof m.error === 'string') {
        this.pending.delete(m.id);
        return p.resolve({ error: m.error });
      }
      return this.bad(line);
    }
    if (typeof m.exit === 'number') {
      const l = this.exits.get(m.exit);
      this.exits.delete(m.exit);
      l?.(typeof m.code === 'number' ? m.code : null, typeof m.signal === 'string' ? m.signal : null);
      return;
    }
    if (typeof m.bad === 'string') {
      this.opts.log?.('warn', 'the spawner could not read a request', { line: m.bad });
      return;
    }
    this.bad(line);
  }

  private bad(line: string): void {
    this.status0.badLines++;
    this.opts.log?.('warn', 'a malformed message from the spawner was ignored', { line: line.slice(0, 200) });
  }

  private giveUp(problem: string, done: () => void): void {
    this.child = null;
    this.ready = false;
    Object.assign(this.status0, { mode: 'direct', pid: null, problem });
    this.opts.log?.('warn', 'agents are started directly: the spawner is not available', { problem });
    done();
  }

  private died(code: number | null, signal: string | null, wasReady: boolean, done: () => void): void {
    const why = `the spawner exited (${signal ?? `code ${code}`})`;
    // Spawns it was asked for and never answered: whether they started is for their folders to tell.
    for (const [, p] of this.pending) p.resolve({ lost: true });
    this.pending.clear();
    const orphans = [...this.exits.keys()];
    this.exits.clear();
    for (const l of this.deathListeners) l(orphans);
    if (this.stopped) return;
    if (!wasReady) return this.giveUp(`${why} before it was ready`, done);
    this.status0.restarts++;
    Object.assign(this.status0, { mode: 'direct', pid: null, problem: `${why}; restarting it` });
    this.opts.log?.('warn', 'the spawner died; its agents run on and are watched by their files; restarting it', { code, signal, agents: orphans.length });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopped) this.launch();
    }, this.delay);
    this.restartTimer.unref();
    this.delay = Math.min(30_000, this.delay * 2);
  }

  /** Starts an agent through the spawner; `onExit` gets its leader's end, while the spawner lives. */
  spawn(req: SpawnRequest, onExit: ExitListener): Promise<SpawnAnswer> {
    const child = this.child;
    if (!child || !this.ready) return Promise.resolve({ lost: true });
    const id = this.nextId++;
    return new Promise<SpawnAnswer>((resolve) => {
      this.pending.set(id, {
        req,
        resolve: (a) => {
          if ('pid' in a) this.exits.set(a.pid, onExit);
          resolve(a);
        },
      });
      child.stdin!.write(JSON.stringify({ op: 'spawn', id, ...req }) + '\n');
    });
  }

  /** Told of the pids whose exits will not come any more (the spawner died): watch them another way. */
  onDeath(listener: (pids: number[]) => void): () => void {
    this.deathListeners.add(listener);
    return () => this.deathListeners.delete(listener);
  }

  /** No longer interested in a run's exit (it was detached). */
  forget(pid: number): void {
    this.exits.delete(pid);
  }

  /** Ends the helper (its agents run on). */
  stop(): void {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const child = this.child;
    this.child = null;
    this.ready = false;
    // Starts still unanswered are settled from their folders, as when it dies.
    for (const [, p] of this.pending) p.resolve({ lost: true });
    this.pending.clear();
    child?.stdin?.end();
  }

  /** The helper's process, for tests that kill it. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }
}

function defaultCommand(): { file: string; args: string[]; env: NodeJS.ProcessEnv } {
  // Small: it holds a few pipes and timers; Electron runs it as plain Node.
  const env: NodeJS.ProcessEnv = { ...process.env, ELECTRON_RUN_AS_NODE: '1' };
  // Each agent's environment comes with its request; the helper itself needs no secrets.
  delete env.AGENTMGR_TOKEN;
  return { file: process.execPath, args: ['--max-old-space-size=32', '--max-semi-space-size=1', SPAWNER_MAIN], env };
}

/** What keeps a command from running at all (missing, not executable), said before trying. */
function checkRunnable(file: string, args: string[]): string | null {
  try {
    accessSync(file, constants.X_OK);
  } catch {
    return `the spawner's program ${file} is missing or not executable`;
  }
  const script = args.find((a) => a.endsWith('.js') || a.endsWith('.mjs'));
  if (script && !existsSync(script)) return `the spawner's script ${script} is missing (run npm run build)`;
  return null;
}
