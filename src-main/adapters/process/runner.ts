import { spawn, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  constants as fsc,
  existsSync,
  fstatSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { constants as osc } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { RunOutcome } from '../../core/lifecycle/attempt-end.js';
import type { AdoptSpec, AgentRunner, LaunchSpec, RunHandle, RunListener } from '../../core/ports.js';
import { AttemptLog, DEFAULT_LOG_CAPS, type LogCaps } from './attempt-log.js';
import { resolveCommand } from './command.js';
import { detectOom } from './oom.js';
import { parseOutputLine } from './output-parser.js';
import { Families, type Member } from './families.js';
import { groupAlive, isSameProcessAlive, killGroup, readProcStat } from './proc-stat.js';

export interface RunnerConfig {
  /** Where each attempt's folder goes: <runsDir>/<task>/<attempt>/. */
  runsDir: string;
  /** Between SIGTERM and SIGKILL. */
  graceMs: number;
  /** How often output files and adopted processes are looked at. */
  pollMs: number;
  caps: LogCaps;
  /** A raw output file is emptied once this much of it has been consumed (floods). */
  rawTruncateBytes: number;
  /**
   * Follows processes that leave an agent's group, so they are stopped with it (shared with the
   * telemetry, which reads /proc on every tick and so finds them); a runner of its own by default.
   */
  families: Families;
}

export const DEFAULT_RUNNER_CONFIG: Omit<RunnerConfig, 'runsDir' | 'families'> = {
  graceMs: 5000,
  pollMs: 100,
  caps: DEFAULT_LOG_CAPS,
  rawTruncateBytes: 8 * 1024 * 1024,
};

/**
 * The agent runs under a tiny shell that waits for it and writes its exit status to a file, so a
 * Manager that was down when the agent ended still learns how it ended. The shell's traps are
 * commands (not ignores), so the agent itself gets default signal handling.
 */
const WRAPPER = [
  "trap ':' INT TERM HUP",
  '"$@"',
  's=$?',
  'printf \'%s\\n\' "$s" > "$AGENTMGR_EXIT_FILE.tmp" && mv -f "$AGENTMGR_EXIT_FILE.tmp" "$AGENTMGR_EXIT_FILE"',
  'exit "$s"',
].join('\n');

const EXIT_FILE = 'exit-status';
/** Processes that left the agent's group, one "pid start-time" a line, so a restarted Manager still stops them. */
const ESCAPED_FILE = 'escaped';
const READ_CHUNK = 1024 * 1024;
/** Per stream and poll: keeps one flooding agent from starving the event loop. */
const READ_BUDGET = 16 * READ_CHUNK;
const HIDDEN_ENV = ['AGENTMGR_TOKEN'];
const RECENT_LOG_CHARS = 64 * 1024;

export function attemptDir(runsDir: string, taskId: number, attempt: number): string {
  return join(runsDir, String(taskId), String(attempt));
}

function signalName(n: number): string | null {
  for (const [name, num] of Object.entries(osc.signals)) if (num === n) return name;
  return null;
}

/** Exit status as the shell reports it: 128+N means killed by signal N. */
function decodeStatus(status: number): { exitCode: number | null; signal: string | null } {
  if (status > 128 && status < 128 + 65) {
    const sig = signalName(status - 128);
    if (sig) return { exitCode: null, signal: sig };
  }
  return { exitCode: status, signal: null };
}

function readEscapedFile(dir: string): Member[] {
  let text: string;
  try {
    text = readFileSync(join(dir, ESCAPED_FILE), 'utf8');
  } catch {
    return [];
  }
  const out: Member[] = [];
  for (const line of text.split('\n')) {
    const [pid, startTime] = line.trim().split(' ');
    if (pid && /^\d+$/.test(pid) && startTime && /^\d+$/.test(startTime)) out.push({ pid: Number(pid), startTime });
  }
  return out;
}

function readExitFile(dir: string): number | null {
  try {
    const n = Number(readFileSync(join(dir, EXIT_FILE), 'utf8').trim());
    return Number.isInteger(n) ? n : null;
  } catch {
    return null;
  }
}

interface Stream {
  name: 'stdout' | 'stderr';
  fd: number;
  readPos: number;
  carry: Buffer;
}

/** Local agent subprocesses, each in its own process group, with output to per-attempt files. */
export class ProcessAgentRunner implements AgentRunner {
  readonly config: RunnerConfig;

  constructor(config: Partial<RunnerConfig> & { runsDir: string }) {
    this.config = { ...DEFAULT_RUNNER_CONFIG, families: config.families ?? new Families(), ...config };
  }

  start(spec: LaunchSpec, listener: RunListener): RunHandle {
    const run = new Run(this.config, spec, listener, attemptDir(this.config.runsDir, spec.taskId, spec.attempt));
    run.spawn();
    return run;
  }

  adopt(spec: AdoptSpec, listener: RunListener): { alive: true; handle: RunHandle } | { alive: false; outcome: RunOutcome } {
    const run = new Run(this.config, spec, listener, spec.logDir);
    try {
      if (isSameProcessAlive(spec.pid, spec.pidStartTime)) {
        run.attach(spec);
        return { alive: true, handle: run };
      }
      return { alive: false, outcome: run.collectEnded(spec) };
    } catch {
      // Its files are gone or unreadable: what happened to it cannot be known.
      return { alive: false, outcome: { exitCode: null, signal: null, timedOut: false, cancelled: false, unknown: true, startError: null } };
    }
  }
}

class Run implements RunHandle {
  private log!: AttemptLog;
  private streams: Stream[] = [];
  private child: ChildProcess | null = null;
  private pid = 0;
  private pidStartTime = '';
  private pgid = 0;
  private poll: NodeJS.Timeout | null = null;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private termAt: number | null = null;
  private killAt: number | null = null;
  private leaderGone = false;
  private leaderStatus: { code: number | null; signal: string | null } | null = null;
  private cancelled = false;
  private timedOut = false;
  private done = false;
  private adopted = false;
  /** The end of the log, to look for out-of-memory messages when the run fails. */
  private recent = '';
  private readonly artifactsDir: string;

  constructor(
    private readonly cfg: RunnerConfig,
    private readonly spec: LaunchSpec,
    private readonly listener: RunListener,
    private readonly dir: string,
  ) {
    this.artifactsDir = join(dir, 'artifacts');
  }

  spawn(): void {
    const { spec } = this;
    mkdirSync(this.artifactsDir, { recursive: true });
    rmSync(join(this.dir, EXIT_FILE), { force: true });
    this.log = new AttemptLog(this.dir, this.cfg.caps);
    const cmd = resolveCommand(spec.agent.command, spec.agent.dir);
    if ('error' in cmd) {
      this.note(cmd.error);
      this.endSoon({ exitCode: null, signal: null, timedOut: false, cancelled: false, unknown: false, startError: cmd.error });
      return;
    }
    const inputPath = join(this.dir, 'input.json');
    writeFileSync(inputPath, JSON.stringify(spec.input, null, 2));
    const out = openSync(join(this.dir, 'stdout.raw'), 'a');
    const err = openSync(join(this.dir, 'stderr.raw'), 'a');
    const env: NodeJS.ProcessEnv = { ...process.env, ...spec.agent.env };
    for (const k of HIDDEN_ENV) delete env[k];
    Object.assign(env, {
      AGENT_TASK_ID: String(spec.taskId),
      AGENT_ATTEMPT: String(spec.attempt),
      AGENT_INPUT_PATH: inputPath,
      AGENT_ARTIFACTS_DIR: this.artifactsDir,
      AGENT_NAME: spec.agent.name,
      CUDA_VISIBLE_DEVICES: spec.gpus.join(','),
      AGENTMGR_EXIT_FILE: join(this.dir, EXIT_FILE),
    });
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', ['-c', WRAPPER, 'agentmgr-agent', ...cmd.argv], {
        cwd: spec.agent.dir,
        env,
        detached: true,
        stdio: ['ignore', out, err],
      });
    } catch (e) {
      closeSync(out);
      closeSync(err);
      const msg = `could not start the agent: ${(e as Error).message}`;
      this.note(msg);
      this.endSoon({ exitCode: null, signal: null, timedOut: false, cancelled: false, unknown: false, startError: msg });
      return;
    }
    // The child has its own copies of the output files; ours are not needed.
    closeSync(out);
    closeSync(err);
    if (child.pid === undefined) {
      child.once('error', (e) => {
        const msg = `could not start the agent: ${e.message}`;
        this.note(msg);
        this.endSoon({ exitCode: null, signal: null, timedOut: false, cancelled: false, unknown: false, startError: msg });
      });
      return;
    }
    this.child = child;
    this.pid = child.pid;
    this.pgid = child.pid; // detached: the child leads a new session and process group
    this.pidStartTime = readProcStat(child.pid)?.startTime ?? 'unknown';
    child.on('error', () => {
      // reported through 'exit'
    });
    child.once('exit', (code, signal) => {
      this.leaderStatus = { code, signal };
      this.onLeaderGone();
    });
    this.openStreams({ stdout: 0, stderr: 0 });
    this.follow([]);
    this.listener({ type: 'spawned', pid: this.pid, pidStartTime: this.pidStartTime, pgid: this.pgid, logDir: this.dir });
    this.note(`attempt ${spec.attempt} started: pid ${this.pid}${spec.gpus.length ? `, GPU ${spec.gpus.join(',')}` : ''}`);
    this.arm();
  }

  /** Re-attaches to a live run of an earlier Manager. */
  attach(spec: AdoptSpec): void {
    this.adopted = true;
    this.pid = spec.pid;
    this.pgid = spec.pgid;
    this.pidStartTime = spec.pidStartTime;
    this.log = new AttemptLog(this.dir, this.cfg.caps);
    this.openStreams(this.log.offsets);
    this.note('re-adopted by a restarted Manager');
    this.follow(readEscapedFile(this.dir));
    this.arm();
  }

  /** For a run that ended while no Manager watched it: drain its output and read its status. */
  collectEnded(spec: AdoptSpec): RunOutcome {
    this.adopted = true;
    this.pgid = spec.pgid;
    this.log = new AttemptLog(this.dir, this.cfg.caps);
    this.openStreams(this.log.offsets);
    // Stray descendants of a run that is over: its group, and those that had left it.
    if (groupAlive(this.pgid)) killGroup(this.pgid, 'SIGKILL');
    this.cfg.families.track(this.pgid, readEscapedFile(this.dir));
    this.cfg.families.signalEscaped(this.pgid, 'SIGKILL');
    this.cfg.families.untrack(this.pgid);
    return this.finish(true);
  }

  cancel(): void {
    if (this.done || this.cancelled) return;
    this.cancelled = true;
    this.note('cancel requested: SIGTERM to the process group');
    this.terminate();
  }

  detach(): void {
    if (this.done) return;
    this.done = true;
    this.stopTimers();
    this.pump(false);
    this.log.close();
    this.closeStreams();
    this.child?.removeAllListeners('exit');
    this.child?.unref();
    this.cfg.families.untrack(this.pgid);
  }

  // ---- internals ------------------------------------------------------------------------------

  private arm(): void {
    this.poll = setInterval(() => this.tick(), this.cfg.pollMs);
    const { deadline } = this.spec;
    if (deadline !== null) {
      const onTimeout = (): void => {
        if (this.done || this.termAt !== null) return;
        this.timedOut = true;
        this.note('timed out (the task\'s time limit is reached): SIGTERM to the process group');
        this.terminate();
      };
      const ms = deadline - Date.now();
      if (ms <= 0) onTimeout();
      else this.deadlineTimer = setTimeout(onTimeout, ms);
    }
  }

  /** Follows the processes that leave the agent's group, noting each in the log and in a file. */
  private follow(known: Member[]): void {
    this.cfg.families.track(this.pgid, known, (m) => {
      try {
        appendFileSync(join(this.dir, ESCAPED_FILE), `${m.pid} ${m.startTime}\n`);
      } catch {
        // the log line below still says so
      }
      this.note(`process ${m.pid} left the agent's process group; it is still counted as the agent's and stopped with it`);
    });
  }

  /** The agent's group, or a process that left it, still has a live process. */
  private familyAlive(): boolean {
    return groupAlive(this.pgid) || this.cfg.families.escapedAlive(this.pgid);
  }

  private signalFamily(signal: NodeJS.Signals): void {
    killGroup(this.pgid, signal);
    this.cfg.families.signalEscaped(this.pgid, signal);
  }

  private terminate(): void {
    if (this.termAt !== null) return;
    this.termAt = Date.now();
    // One more look first: what left the group since the last telemetry tick is found while its
    // parent still links it to the agent.
    this.cfg.families.scan();
    this.signalFamily('SIGTERM');
  }

  private tick(): void {
    if (this.done) return;
    this.pump(false);
    this.log.flush();
    if (this.adopted && !this.leaderGone && !isSameProcessAlive(this.pid, this.pidStartTime)) this.onLeaderGone();
    const now = Date.now();
    if (this.termAt !== null && this.killAt === null && now - this.termAt >= this.cfg.graceMs) {
      if (this.familyAlive()) {
        this.note(`still running ${this.cfg.graceMs} ms after SIGTERM: SIGKILL to the process group`);
        this.cfg.families.scan();
        this.signalFamily('SIGKILL');
      }
      this.killAt = now;
    }
    if (this.leaderGone) {
      // A group that cannot be emptied (zombies nobody reaps) must not keep the attempt open.
      if (!this.familyAlive() || (this.killAt !== null && now - this.killAt >= 1000)) this.complete();
    }
  }

  private onLeaderGone(): void {
    if (this.done) return;
    this.leaderGone = true;
    // With the group empty and nothing known outside it, nothing can link to the agent any more.
    if (groupAlive(this.pgid) || this.cfg.families.escaped(this.pgid).length > 0) this.cfg.families.scan();
    if (!this.familyAlive()) {
      this.complete();
      return;
    }
    // The agent left processes behind in its group: stop them too.
    if (this.termAt === null) {
      this.note('the agent exited but left processes behind: SIGTERM to them');
      this.terminate();
    }
  }

  private complete(): void {
    if (this.done) return;
    const outcome = this.finish(false);
    this.listener({ type: 'exit', outcome });
  }

  /** Drains the output, finalizes the log and works out how the run ended. */
  private finish(collected: boolean): RunOutcome {
    this.done = true;
    this.stopTimers();
    this.cfg.families.untrack(this.pgid);
    this.pump(true);
    const status = readExitFile(this.dir);
    let exitCode: number | null = null;
    let signal: string | null = null;
    let unknown = false;
    if (status !== null) ({ exitCode, signal } = decodeStatus(status));
    else if (this.leaderStatus) {
      exitCode = this.leaderStatus.code;
      signal = this.leaderStatus.signal;
    } else unknown = true;
    const how = this.cancelled ? 'cancelled' : this.timedOut ? 'timed out' : unknown ? 'ended while no Manager was watching; status unknown' : signal ? `killed by ${signal}` : `exit code ${exitCode}`;
    const oom = unknown ? null : detectOom(this.recent, { exitCode, signal, killedByUs: this.termAt !== null });
    this.note(`attempt ${this.spec.attempt} ended: ${how}${oom ? ` (out of ${oom.kind === 'gpu' ? 'GPU' : 'host'} memory)` : ''}${collected ? ' (found on restart)' : ''}`);
    this.log.finalize();
    this.closeStreams();
    for (const f of ['stdout.raw', 'stderr.raw']) rmSync(join(this.dir, f), { force: true });
    return { exitCode, signal, timedOut: this.timedOut, cancelled: this.cancelled, unknown, startError: null, oom: oom?.kind ?? null, oomEvidence: oom?.evidence ?? null };
  }

  private endSoon(outcome: RunOutcome): void {
    this.done = true;
    setImmediate(() => {
      this.log.finalize();
      this.listener({ type: 'exit', outcome });
    });
  }

  private stopTimers(): void {
    if (this.poll) clearInterval(this.poll);
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    this.poll = null;
    this.deadlineTimer = null;
  }

  private openStreams(offsets: { stdout: number; stderr: number }): void {
    for (const name of ['stdout', 'stderr'] as const) {
      const file = join(this.dir, `${name}.raw`);
      if (!existsSync(file)) continue;
      const fd = openSync(file, fsc.O_RDWR);
      this.streams.push({ name, fd, readPos: offsets[name], carry: Buffer.alloc(0) });
    }
  }

  private closeStreams(): void {
    for (const s of this.streams) closeSync(s.fd);
    this.streams = [];
  }

  /** Reads what the agent wrote since the last look. `final` also takes an unterminated last line. */
  private pump(final: boolean): void {
    for (const s of this.streams) {
      let budget = final ? Infinity : READ_BUDGET;
      let text = '';
      const buf = Buffer.allocUnsafe(READ_CHUNK);
      while (budget > 0) {
        const n = readSync(s.fd, buf, 0, READ_CHUNK, s.readPos);
        if (n <= 0) break;
        s.readPos += n;
        budget -= n;
        const data = s.carry.length ? Buffer.concat([s.carry, buf.subarray(0, n)]) : Buffer.from(buf.subarray(0, n));
        const cut = data.lastIndexOf(10);
        if (cut < 0) {
          s.carry = data;
          continue;
        }
        s.carry = data.subarray(cut + 1);
        text += this.lines(s.name, data.toString('utf8', 0, cut + 1));
      }
      if (final && s.carry.length > 0) {
        text += this.lines(s.name, s.carry.toString('utf8') + '\n');
        s.carry = Buffer.alloc(0);
      }
      this.log.setOffset(s.name, s.readPos - s.carry.length);
      if (text) this.emitLog(text);
      // A flood: everything read so far is consumed, so the file can be emptied. Bytes written
      // between the last read and the truncation are lost; they sit in the cut middle anyway.
      if (!final && s.readPos >= this.cfg.rawTruncateBytes && fstatSync(s.fd).size === s.readPos) {
        ftruncateSync(s.fd, 0);
        s.readPos = 0;
        this.log.setOffset(s.name, 0);
      }
    }
  }

  /** Turns whole lines into events and log text; returns the log text. */
  private lines(stream: 'stdout' | 'stderr', chunk: string): string {
    let log = '';
    let start = 0;
    while (start < chunk.length) {
      const end = chunk.indexOf('\n', start);
      const line = chunk.slice(start, end);
      start = end + 1;
      if (stream === 'stderr') {
        log += line + '\n';
        continue;
      }
      const parsed = parseOutputLine(line);
      if (parsed.kind === 'log') {
        log += line + '\n';
        if (parsed.problem) log += `[agentmgr] ignored a ${parsed.problem}\n`;
        continue;
      }
      const ev = parsed.event;
      if (ev.type === 'log') log += ev.message + '\n';
      else if (ev.type === 'artifact') {
        const a = this.checkArtifact(ev.path, ev.name);
        if (typeof a === 'string') log += `[agentmgr] ignored artifact: ${a}\n`;
        else this.listener({ type: 'artifact', ...a });
      } else this.listener(ev);
    }
    return log;
  }

  private checkArtifact(path: string, name: string | undefined): { path: string; name: string; sizeBytes: number } | string {
    const full = isAbsolute(path) ? path : resolve(this.artifactsDir, path);
    let real: string;
    try {
      real = realpathSync(full);
    } catch {
      return `${path} does not exist`;
    }
    const root = realpathSync(this.artifactsDir);
    const rel = relative(root, real);
    if (rel.startsWith('..') || isAbsolute(rel)) return `${path} is outside AGENT_ARTIFACTS_DIR (${root})`;
    const st = statSync(real);
    if (!st.isFile()) return `${path} is not a regular file`;
    return { path: real, name: name ?? rel, sizeBytes: st.size };
  }

  private emitLog(text: string): void {
    this.recent = (this.recent + text).slice(-RECENT_LOG_CHARS);
    this.log.append(text);
    this.listener({ type: 'log', text });
  }

  /** A line of the Manager's own in the attempt's log. */
  private note(message: string): void {
    this.emitLog(`[agentmgr] ${message}\n`);
  }
}
