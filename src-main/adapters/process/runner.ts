import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { outcome as resultOutcome, type RunOutcome } from '../../core/lifecycle/attempt-end.js';
import type { AdoptResult, AdoptSpec, AgentRunner, Clock, LaunchSpec, RunHandle, RunListener, StopRequest } from '../../core/ports.js';
import { systemClock } from '../system-clock.js';
import { AttemptLog, DEFAULT_LOG_CAPS, type LogCaps } from './attempt-log.js';
import { appendEscaped, EXIT_FILE, readEscapedFile, readExitFile, readPidFile, readRunId, RUN_ID_FILE, writtenAt } from './attempt-files.js';
import type { FamilyTracker } from './family-port.js';
import { Families, type Member } from './families.js';
import { detectOom } from './oom.js';
import { DEFAULT_PUMP_LIMITS, type PumpLimits } from './output/pump.js';
import { OutputReader } from './output/reader.js';
import { markedProcesses, markerFor, signalOurs, type Marker } from './ownership.js';
import { isSameProcessAlive, listProcs, readProcStat, type ProcStat } from './proc-stat.js';
import { requestCancel } from './terminate/cancel.js';
import { Escalation } from './terminate/escalate.js';
import { RunFamily } from './terminate/family.js';
import { armTimeout } from './terminate/timeout.js';
import { decodeStatus, describeEnd, notStarted, startFailed, unknownOutcome } from './result.js';

/** The attempt's last stderr line, kept for an end collected again. */
const LAST_ERROR_FILE = 'last-error';
import { prepareAgent, spawnPrepared, type Prepared } from './spawn.js';
import type { SpawnAnswer, SpawnerClient } from './spawner/client.js';

export interface RunnerConfig {
  /** Where each attempt's folder goes: <runsDir>/<task>/<attempt>/. */
  runsDir: string;
  /** Between SIGTERM and SIGKILL. */
  graceMs: number;
  /** How often output files and adopted processes are looked at. */
  pollMs: number;
  caps: LogCaps;
  /** A raw output file's disk space is given back each time this much more of it was read (floods). */
  rawTruncateBytes: number;
  /** Bounds on reading output; see PumpLimits. */
  pump: Omit<PumpLimits, 'rotateBytes'>;
  /**
   * Follows processes that leave an agent's group, so they are stopped with it (shared with the
   * telemetry, which reads /proc on every tick and so finds them); a runner of its own by default.
   */
  families: FamilyTracker;
  /** The runner's clock: every time it reads (start, stop, durations). Time limits come as durations. */
  clock: Pick<Clock, 'now'>;
  /**
   * Starts agents off the Manager's process (ADR 22); absent, or while it is not usable: the
   * runner forks them itself.
   */
  spawner?: SpawnerClient | null;
}

export const DEFAULT_RUNNER_CONFIG: Omit<RunnerConfig, 'runsDir' | 'families' | 'clock'> = {
  graceMs: 5000,
  pollMs: 100,
  caps: DEFAULT_LOG_CAPS,
  rawTruncateBytes: DEFAULT_PUMP_LIMITS.rotateBytes,
  pump: DEFAULT_PUMP_LIMITS,
};

export function attemptDir(runsDir: string, taskId: number, attempt: number): string {
  return join(runsDir, String(taskId), String(attempt));
}

/** How many ended runs one turn of the thread settles (finishes their files, reports them). */
const ENDS_PER_TURN = 2;

/** Local agent subprocesses, each in its own process group, with output to per-attempt files. */
export class ProcessAgentRunner implements AgentRunner {
  readonly config: RunnerConfig;

  /** Runs the spawner started, by their leader's pid: watched another way if it dies. */
  private readonly viaSpawner = new Map<number, Run>();
  /** Runs whose leader ended this turn, waiting for one reading of /proc. */
  private endsThisTurn: ((procs: ProcStat[]) => void)[] = [];
  private readonly registry: RunRegistry = {
    add: (pid, r) => this.viaSpawner.set(pid, r),
    remove: (pid) => this.viaSpawner.delete(pid),
    readProcs: (use) => {
      this.endsThisTurn.push(use);
      if (this.endsThisTurn.length > 1) return;
      setImmediate(() => {
        const waiting = this.endsThisTurn;
        this.endsThisTurn = [];
        const procs = listProcs();
        this.config.families.update(procs);
        // A few ends a turn, so many at once never hold up the thread; the later ones use the same
        // reading (taken after all of them ended, so what they left behind is in it).
        const settle = (from: number): void => {
          for (const w of waiting.slice(from, from + ENDS_PER_TURN)) w(procs);
          if (from + ENDS_PER_TURN < waiting.length) setImmediate(() => settle(from + ENDS_PER_TURN));
        };
        settle(0);
      });
    },
  };

  constructor(config: Partial<RunnerConfig> & { runsDir: string }) {
    this.config = { ...DEFAULT_RUNNER_CONFIG, families: config.families ?? new Families(), clock: config.clock ?? systemClock, ...config };
    // Its agents run on when it dies; their ends are then learned as after a Manager restart.
    this.config.spawner?.onDeath((pids) => {
      for (const pid of pids) this.viaSpawner.get(pid)?.orphaned();
    });
  }

  start(spec: LaunchSpec, listener: RunListener): RunHandle {
    const run = new Run(this.config, spec, listener, attemptDir(this.config.runsDir, spec.taskId, spec.attempt), this.registry);
    run.spawn();
    return run;
  }

  /**
   * A run an earlier Manager left. With its process recorded: re-attached if that process (pid
   * and start time) lives, else finished from the files it left. Without (the Manager died
   * between spawning and recording): found by the run id it carries, or proven never started.
   */
  adopt(spec: AdoptSpec, listener: RunListener): AdoptResult {
    const dir = spec.logDir ?? attemptDir(this.config.runsDir, spec.taskId, spec.attempt);
    const run = new Run(this.config, spec, listener, dir);
    try {
      const runId = readRunId(dir);
      const marker = runId ? markerFor(runId) : legacyMarker(dir);
      let leader: Member | null = spec.pid !== null && spec.pidStartTime !== null ? { pid: spec.pid, startTime: spec.pidStartTime } : null;
      if (!leader) {
        if (!runId) return { alive: false, outcome: notStarted() };
        leader = findLeader(dir, marker);
        if (!leader && readExitFile(dir) === null && readPidFile(dir) === null && markedProcesses(marker).length === 0) {
          // The run id was written, but the wrapper never ran and nothing carries the marker.
          return { alive: false, outcome: notStarted() };
        }
      }
      if (leader && isSameProcessAlive(leader.pid, leader.startTime)) {
        run.attach(leader, spec.pgid ?? leader.pid, marker, spec.pid === null);
        return { alive: true, handle: run };
      }
      return { alive: false, outcome: run.collectEnded(spec.pgid ?? leader?.pid ?? null, marker) };
    } catch {
      // Its files are gone or unreadable: what happened to it cannot be known.
      return { alive: false, outcome: unknownOutcome() };
    }
  }
}

/** What a run asks of its runner: its spawner-started pid kept, and /proc read once for the ends of one turn. */
interface RunRegistry {
  add(pid: number, run: Run): void;
  remove(pid: number): void;
  /** `use` gets a reading of /proc (with the families updated from it) taken after this turn's ends. */
  readProcs(use: (procs: ProcStat[]) => void): void;
}

/** For a run on its own (adopted): its own reading, at once. */
function soloRegistry(cfg: RunnerConfig): RunRegistry {
  return {
    add() {},
    remove() {},
    readProcs(use) {
      const procs = listProcs();
      cfg.families.update(procs);
      use(procs);
    },
  };
}

/** Attempts started before run ids existed carry their exit file's path, unique to the attempt. */
const legacyMarker = (dir: string): Marker => `AGENTMGR_EXIT_FILE=${join(dir, EXIT_FILE)}`;

/** The wrapper shell of an attempt whose pid was never recorded: from its pid file, proven by its marker. */
function findLeader(dir: string, marker: Marker): Member | null {
  const pid = readPidFile(dir);
  const marked = markedProcesses(marker);
  const byPid = pid !== null ? marked.find((p) => p.pid === pid) : undefined;
  // The pid file may not be written yet: the wrapper is the one that leads its own group and started first.
  const leader = byPid ?? marked.filter((p) => p.pgrp === p.pid).sort((a, b) => Number(a.startTime) - Number(b.startTime))[0];
  return leader ? { pid: leader.pid, startTime: leader.startTime } : null;
}

/**
 * Everything that changes while one run is watched, in one record. `phase` is where it is;
 * the stop (its reason set once, and when SIGTERM and SIGKILL went) is the Escalation's.
 */
interface RunState {
  /** watching: the process is followed; ended: its end is worked out (reported, or about to be); detached: let go. */
  phase: 'watching' | 'ended' | 'detached';
  /** The leader's exit as the OS reported it (our own child only); null while it lives, or for an adopted run. */
  leaderStatus: { code: number | null; signal: string | null } | null;
  /** Whether the exit event went to the listener (it goes exactly once). */
  reported: boolean;
  /** The last failure to read or write the attempt's files, said once in the live log. */
  ioError: string | null;
  /** Re-attached to (or collected from) an earlier Manager's run. */
  adopted: boolean;
  /** On the runner's clock: when it started (an adopted one: when its run id was written). */
  startedAt: number;
}

/** One attempt's process, watched until it ends. */
class Run implements RunHandle {
  private log!: AttemptLog;
  private readonly output: OutputReader;
  private child: ChildProcess | null = null;
  private readonly family: RunFamily;
  private readonly escalation: Escalation;
  private readonly state: RunState;
  private poll: NodeJS.Timeout | null = null;
  private clearTimeoutTimer: () => void = () => {};
  private readonly artifactsDir: string;

  /** Started through the spawner, and not yet answered: a cancel waits for the pid. */
  private spawning: { cancel: StopRequest | true | null } | null = null;
  /** Its leader's exit comes from the spawner (while that lives). */
  private viaSpawnerPid: number | null = null;
  private earlyExit: { code: number | null; signal: string | null } | null = null;

  constructor(
    private readonly cfg: RunnerConfig,
    private readonly spec: LaunchSpec,
    private readonly listener: RunListener,
    private readonly dir: string,
    private readonly registry: RunRegistry = soloRegistry(cfg),
  ) {
    this.artifactsDir = join(dir, 'artifacts');
    this.family = new RunFamily(cfg.families);
    this.escalation = new Escalation(this.family, cfg.graceMs, (m) => this.note(m));
    this.output = new OutputReader({
      dir,
      artifactsDir: this.artifactsDir,
      limits: { ...cfg.pump, rotateBytes: cfg.rawTruncateBytes },
      log: () => this.log,
      listener,
      leaderAlive: () => this.family.leaderAlive(),
    });
    this.state = { phase: 'watching', leaderStatus: null, reported: false, ioError: null, adopted: false, startedAt: cfg.clock.now() };
  }

  private get done(): boolean {
    return this.state.phase !== 'watching';
  }

  private now(): number {
    return this.cfg.clock.now();
  }

  spawn(): void {
    const prepared = prepareAgent(this.spec, this.dir, this.artifactsDir);
    this.log = new AttemptLog(this.dir, this.cfg.caps);
    if ('error' in prepared) {
      this.note(prepared.error);
      this.endSoon(startFailed(prepared.error));
      return;
    }
    const spawner = this.cfg.spawner;
    if (spawner?.usable) {
      this.spawning = { cancel: null };
      void spawner
        .spawn(prepared, (code, signal) => this.safely(() => this.leaderExited(code, signal)))
        .then((answer) => this.safely(() => this.spawnerAnswered(answer, prepared)));
      return;
    }
    this.spawnHere(prepared);
  }

  /** The fork in the Manager's own process. */
  private spawnHere(prepared: Prepared): void {
    const started = spawnPrepared(prepared);
    if ('error' in started) {
      this.note(started.error);
      this.endSoon(startFailed(started.error));
      return;
    }
    const { child, pid, runId } = started;
    // The chaos suite's hook (scripts/chaos.mjs): the Manager dies here, between the spawn and the
    // report of it, so the spawn window is hit every time instead of by chance.
    if (process.env.AGENTMGR_CHAOS_CRASH_AFTER_SPAWN === '1') process.kill(process.pid, 'SIGKILL');
    this.child = child;
    const f = this.family;
    f.pgid = pid; // detached: the child leads a new session and process group
    f.marker = markerFor(runId);
    f.leader = { pid, startTime: readProcStat(pid)?.startTime ?? 'unknown' };
    child.once('exit', (code, signal) => this.safely(() => this.leaderExited(code, signal)));
    this.started(pid, f.leader.startTime);
  }

  /** What is the same however it was forked: the group, following it, `spawned`, the timers. */
  private started(pid: number, startTime: string): void {
    const f = this.family;
    this.output.open({ stdout: 0, stderr: 0 });
    this.follow([]);
    this.listener({ type: 'spawned', pid, pidStartTime: startTime, pgid: f.pgid, logDir: this.dir });
    this.note(`attempt ${this.spec.attempt} started: pid ${pid}${this.spec.gpus.length ? `, GPU ${this.spec.gpus.join(',')}` : ''}`);
    this.arm();
  }

  private leaderExited(code: number | null, signal: string | null): void {
    // The spawner's exit line can come before its answer is taken in: kept until then.
    if (this.spawning) {
      this.earlyExit = { code, signal };
      return;
    }
    this.state.leaderStatus = { code, signal };
    this.onLeaderGone();
  }

  /** The spawner's answer to this run's start. */
  private spawnerAnswered(answer: SpawnAnswer, prepared: Prepared): void {
    const wanted = this.spawning?.cancel ?? null;
    this.spawning = null;
    if ('error' in answer) {
      if (this.state.phase === 'detached') return;
      const why = answer.error.startsWith('could not ') ? answer.error : `could not start the agent: ${answer.error}`;
      this.note(why);
      this.endSoon(startFailed(why));
      return;
    }
    if ('lost' in answer) {
      // The spawner died with the start in hand: the folder tells whether the agent runs (its
      // marker), once a fork it made has had time to exec.
      setTimeout(() => this.safely(() => this.findAfterLostSpawn(prepared, wanted)), 300);
      return;
    }
    const { pid, startTime } = answer;
    if (this.state.phase === 'detached') {
      // Let go while starting (the Manager is stopping): a restarted Manager finds it by its marker.
      this.cfg.spawner?.forget(pid);
      return;
    }
    if (this.done) return;
    const f = this.family;
    f.pgid = pid;
    f.marker = markerFor(prepared.runId);
    f.leader = { pid, startTime };
    this.viaSpawnerPid = pid;
    this.registry.add(pid, this);
    if (process.env.AGENTMGR_CHAOS_CRASH_AFTER_SPAWN === '1') process.kill(process.pid, 'SIGKILL');
    this.started(pid, startTime);
    if (this.earlyExit) this.leaderExited(this.earlyExit.code, this.earlyExit.signal);
    else if (wanted) requestCancel(this.escalation, this.now(), wanted === true ? undefined : wanted);
  }

  private findAfterLostSpawn(prepared: Prepared, wanted: StopRequest | true | null): void {
    if (this.state.phase === 'detached' || this.done) return;
    const marker = markerFor(prepared.runId);
    const leader = findLeader(this.dir, marker);
    if (leader && isSameProcessAlive(leader.pid, leader.startTime)) {
      this.attach(leader, leader.pid, marker, true);
      this.note('the spawner died while starting it; found by its run id');
      if (wanted) requestCancel(this.escalation, this.now(), wanted === true ? undefined : wanted);
      return;
    }
    if (readExitFile(this.dir) !== null || readPidFile(this.dir) !== null) {
      // It ran, and is over already: its output and status are collected as after a restart.
      this.report(this.collectEnded(leader?.pid ?? readPidFile(this.dir), marker));
      return;
    }
    this.note('the spawner died before it started the agent; it is started again');
    this.endSoon(notStarted());
  }

  /** The spawner died: this run's leader is watched as an adopted one's (its pid and start time, then its exit file). */
  orphaned(): void {
    if (this.viaSpawnerPid !== null) this.registry.remove(this.viaSpawnerPid);
    this.viaSpawnerPid = null;
    if (this.done || this.state.leaderStatus) return;
    this.state.adopted = true;
    this.note('the spawner died; the agent runs on, watched by its process and its exit status file');
  }

  /** Re-attaches to a live run of an earlier Manager; `unrecorded` when its pid never reached the store. */
  attach(leader: Member, pgid: number, marker: Marker, unrecorded: boolean): void {
    this.adoptFrom(pgid, marker);
    this.family.leader = leader;
    this.output.open(this.log.offsets);
    if (unrecorded) this.listener({ type: 'spawned', pid: leader.pid, pidStartTime: leader.startTime, pgid, logDir: this.dir });
    this.note(
      unrecorded ? 're-adopted by a restarted Manager (found by its run id: the Manager had stopped before recording it)' : 're-adopted by a restarted Manager',
    );
    this.follow(readEscapedFile(this.dir));
    this.arm();
  }

  /** For a run that ended while no Manager watched it: drain its output and read its status. */
  collectEnded(pgid: number | null, marker: Marker): RunOutcome {
    this.adoptFrom(pgid ?? 0, marker);
    if (!this.log.finalized) this.output.open(this.log.offsets);
    // Stray descendants of a run that is over, proven ours by their marker (never a bare group id:
    // the group may be gone, and its number taken by another program), and those that left it.
    signalOurs({ pgid: null, leader: null, marker, signal: 'SIGKILL' });
    if (pgid !== null) {
      this.cfg.families.track(pgid, readEscapedFile(this.dir));
      this.cfg.families.signalEscaped(pgid, 'SIGKILL');
      this.cfg.families.untrack(pgid);
    }
    return this.finish(true);
  }

  private adoptFrom(pgid: number, marker: Marker): void {
    this.state.adopted = true;
    this.family.pgid = pgid;
    this.family.marker = marker;
    // The wall clock of when its run id was written, on the runner's clock: the same clock.
    this.state.startedAt = writtenAt(this.dir, RUN_ID_FILE) ?? this.now();
    this.log = new AttemptLog(this.dir, this.cfg.caps);
  }

  cancel(request?: StopRequest): void {
    if (this.done) return;
    // Not forked yet: the stop waits for its pid (a group id of 0 would be our own).
    if (this.spawning) {
      this.spawning.cancel ??= request ?? true;
      return;
    }
    requestCancel(this.escalation, this.now(), request);
  }

  detach(): void {
    if (this.done) return;
    this.state.phase = 'detached';
    this.stopTimers();
    this.output.pump(false);
    this.log.close();
    this.output.close();
    this.child?.removeAllListeners('exit');
    this.child?.unref();
    if (this.viaSpawnerPid !== null) {
      this.cfg.spawner?.forget(this.viaSpawnerPid);
      this.registry.remove(this.viaSpawnerPid);
    }
    this.cfg.families.untrack(this.family.pgid);
  }

  // ---- watching -------------------------------------------------------------------------------

  private arm(): void {
    this.poll = setInterval(() => this.safely(() => this.tick()), this.cfg.pollMs);
    this.clearTimeoutTimer = armTimeout(
      this.spec.timeoutMs,
      this.escalation,
      () => this.now(),
      () => this.done,
    );
  }

  /** Follows the processes that leave the agent's group, noting each in the log and in a file. */
  private follow(known: Member[]): void {
    this.cfg.families.track(this.family.pgid, known, (m) => {
      appendEscaped(this.dir, m);
      this.note(`process ${m.pid} left the agent's process group; it is still counted as the agent's and stopped with it`);
    });
  }

  /**
   * Runs a timer's or an event's work so that a failing disk (full, read-only, its folder gone)
   * never throws out of a timer and takes the Manager down: the run goes on being watched, the
   * failure is said once in the live log, and the end is still reported.
   */
  private safely(work: () => void): void {
    try {
      work();
      this.state.ioError = null;
    } catch (e) {
      const message = (e as Error).message;
      if (this.state.ioError !== message)
        this.listener({ type: 'log', text: `[agentmgr] could not read or write the attempt's files (${message}); still watching the agent\n` });
      this.state.ioError = message;
      // The end must still be reported, with what is known.
      if (this.state.phase === 'ended' && !this.state.reported) this.report(this.fallbackOutcome());
    }
  }

  private tick(): void {
    if (this.done) return;
    this.output.pump(false);
    this.log.flush();
    const f = this.family;
    if (this.state.adopted && !f.leaderGone && f.leader && !isSameProcessAlive(f.leader.pid, f.leader.startTime)) this.onLeaderGone();
    const now = this.now();
    this.escalation.tick(now);
    if (f.leaderGone) {
      // A group that cannot be emptied (zombies nobody reaps) must not keep the attempt open.
      const killAt = this.escalation.state?.killAt ?? null;
      if (!f.alive() || (killAt !== null && now - killAt >= 1000)) this.complete();
    }
  }

  private onLeaderGone(): void {
    if (this.done) return;
    this.family.leaderGone = true;
    // One reading of /proc serves both (following parent links out of the group, and the
    // marker), and every end that came in the same turn: it is taken after all of them.
    this.registry.readProcs((procs) => this.safely(() => this.leaderGoneWith(procs)));
  }

  private leaderGoneWith(procs: ProcStat[]): void {
    if (this.done) return;
    if (!this.family.alive(procs)) {
      this.complete();
      return;
    }
    // The agent left processes behind (in its group, outside it, or by a double fork): stop them too.
    this.escalation.begin('leftovers', 'the agent exited but left processes behind: SIGTERM to them', this.now());
  }

  // ---- the end --------------------------------------------------------------------------------

  private complete(): void {
    if (this.done) return;
    const outcome = this.finish(false);
    this.report(outcome);
  }

  private report(outcome: RunOutcome): void {
    if (this.state.reported) return;
    this.state.reported = true;
    this.listener({ type: 'exit', outcome });
  }

  /** How it ended when the attempt's files could not be finished: from the exit the OS reported. */
  private fallbackOutcome(): RunOutcome {
    const status = this.state.leaderStatus;
    const base = unknownOutcome(this.now() - this.state.startedAt);
    if (!status) return base;
    const reason = this.escalation.reason;
    return { ...base, unknown: false, exitCode: status.code, signal: status.signal, cancelled: reason === 'cancelled', timedOut: reason === 'timedOut' };
  }

  /**
   * Drains the output, finalizes the log and works out how the run ended. Idempotent across a
   * crash: a log finalized by an earlier try is not written again (see AttemptLog).
   */
  private finish(collected: boolean): RunOutcome {
    this.state.phase = 'ended';
    this.stopTimers();
    if (this.viaSpawnerPid !== null) this.registry.remove(this.viaSpawnerPid);
    this.cfg.families.untrack(this.family.pgid);
    const status = readExitFile(this.dir);
    let exitCode: number | null = null;
    let signal: string | null = null;
    let unknown = false;
    if (status !== null) ({ exitCode, signal } = decodeStatus(status));
    else if (this.state.leaderStatus) {
      exitCode = this.state.leaderStatus.code;
      signal = this.state.leaderStatus.signal;
    } else unknown = true;
    // An unwatched end happened when the wrapper wrote the status.
    const endedAt = collected ? (writtenAt(this.dir, EXIT_FILE) ?? this.now()) : this.now();
    const reason = this.escalation.reason;
    const outcome = resultOutcome({
      exitCode,
      signal,
      timedOut: reason === 'timedOut',
      cancelled: reason === 'cancelled',
      unknown,
      forcefullyTerminated: this.escalation.forced,
      durationMs: Math.max(0, Math.round(endedAt - this.state.startedAt)),
    });
    if (!this.log.finalized) {
      this.output.pump(true);
      const oom = unknown ? null : detectOom(this.output.recent, { exitCode, signal, killedByUs: reason !== null });
      outcome.oom = oom?.kind ?? null;
      outcome.oomEvidence = oom?.evidence ?? null;
      outcome.lastError = this.output.lastStderr || null;
      // Kept beside the log: an end collected again (the first never recorded) says the same.
      if (outcome.lastError) writeFileSync(join(this.dir, LAST_ERROR_FILE), outcome.lastError);
      // Not saved on its own: finalize writes it into the log at once.
      this.note(
        `attempt ${this.spec.attempt} ended: ${describeEnd(outcome)}${oom ? ` (out of ${oom.kind === 'gpu' ? 'GPU' : 'host'} memory)` : ''}${collected ? ' (found on restart)' : ''}`,
        false,
      );
      this.log.finalize();
    } else {
      this.log.close();
      const oom = unknown ? null : detectOom('', { exitCode, signal, killedByUs: false });
      outcome.oom = oom?.kind ?? null;
      outcome.oomEvidence = oom?.evidence ?? null;
      outcome.lastError = existsSync(join(this.dir, LAST_ERROR_FILE)) ? readFileSync(join(this.dir, LAST_ERROR_FILE), 'utf8') : null;
    }
    this.output.close();
    for (const f of ['stdout.raw', 'stderr.raw']) rmSync(join(this.dir, f), { force: true });
    return outcome;
  }

  private endSoon(outcome: RunOutcome): void {
    this.state.phase = 'ended';
    setImmediate(() => {
      try {
        this.log.finalize();
      } catch {
        // the outcome says why it did not start
      }
      this.report(outcome);
    });
  }

  private stopTimers(): void {
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    this.clearTimeoutTimer();
  }

  /**
   * A line of the Manager's own in the attempt's log, saved at once: unlike the agent's lines, it
   * cannot be read again from the raw files after a crash.
   */
  private note(message: string, save = true): void {
    this.output.emitLog(`[agentmgr] ${message}\n`);
    if (save) this.log.flush();
  }
}
