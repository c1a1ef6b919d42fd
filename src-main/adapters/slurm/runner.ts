import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { outcome as runOutcome, notStarted, startFailed, unknownOutcome, type RunOutcome } from '../../core/lifecycle/attempt-end.js';
import type { AdoptResult, AdoptSpec, AgentRunner, Clock, LaunchSpec, RunHandle, RunListener, StopRequest } from '../../core/ports.js';
import { systemClock } from '../system-clock.js';
import { AttemptLog, DEFAULT_LOG_CAPS, type LogCaps } from '../process/attempt-log.js';
import { EXIT_FILE, readExitFile, writtenAt } from '../process/attempt-files.js';
import { resolveCommand, withTypeScriptHook } from '../process/command.js';
import { detectOom } from '../process/oom.js';
import { DEFAULT_PUMP_LIMITS } from '../process/output/pump.js';
import { OutputReader } from '../process/output/reader.js';
import { decodeStatus, describeEnd } from '../process/result.js';
import { attemptDir } from '../process/runner.js';
import { agentEnv } from '../process/spawn.js';
import type { SlurmCli } from './cli.js';
import { isLive, jobEnd, type SlurmJob } from './jobs.js';
import type { SlurmQueue } from './queue.js';

/**
 * The Slurm executor (ADR 0021): each attempt is one batch job, submitted with sbatch, watched
 * through the shared SlurmQueue and cancelled with scancel. The attempt's folder must be on a
 * file system the nodes share (runsDir): the job writes its output there, the Manager reads it as
 * it does a local agent's (the same agent protocol, log caps and artifacts), and the job's own
 * wrapper writes the agent's exit status beside it.
 *
 * Files of the attempt folder: `job.sh` (the batch script), `agent.env` (what the agent is
 * told), `slurm-submitting` (written before sbatch is called, so a Manager that dies during the
 * call looks for the job by name), `slurm-job` (the job id, written once sbatch answers),
 * `stdout.raw`/`stderr.raw` (the job's output) and `exit-status`.
 */
export interface SlurmRunnerConfig {
  /** Attempt folders, <runsDir>/<task>/<attempt>/: a folder the cluster's nodes see at the same path. */
  runsDir: string;
  cli: SlurmCli;
  queue: SlurmQueue;
  partition: string | null;
  account: string | null;
  qos: string | null;
  /** More sbatch options, as given (e.g. ["--constraint=a100"]). */
  extraArgs: readonly string[];
  /** Between SIGTERM to the agent and cancelling the whole job. */
  graceMs: number;
  /** While the controller does not answer, sbatch is tried again this often. */
  submitRetryMs: number;
  /** How often the job's output files are read. */
  pollMs: number;
  /** Job names are <prefix>-<task>-<attempt>. */
  namePrefix: string;
  caps: LogCaps;
  clock: Pick<Clock, 'now'>;
}

export const DEFAULT_SLURM_RUNNER: Omit<SlurmRunnerConfig, 'runsDir' | 'cli' | 'queue'> = {
  partition: null,
  account: null,
  qos: null,
  extraArgs: [],
  graceMs: 30_000,
  submitRetryMs: 5000,
  pollMs: 500,
  namePrefix: 'agentmgr',
  caps: DEFAULT_LOG_CAPS,
  clock: systemClock,
};

export const JOB_FILE = 'slurm-job';
export const SUBMITTING_FILE = 'slurm-submitting';
const SCRIPT_FILE = 'job.sh';
const ENV_FILE = 'agent.env';
const LAST_ERROR_FILE = 'last-error';
const CLOCK_SLACK_MS = 60_000;

/** How a Slurm attempt is named in the store's pidStartTime: "slurm:<job id>". */
/** How long an ended job's usage is waited for from sacct before the attempt is recorded without it. */
const USAGE_WAIT_MS = 5000;

export const slurmIdentity = (jobId: string): string => `slurm:${jobId}`;
export const jobIdOf = (pidStartTime: string | null): string | null => (pidStartTime?.startsWith('slurm:') ? pidStartTime.slice(6) : null);

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The batch script: tells the agent what every agent is told, runs it in the background so a
 * SIGTERM (a cancel, a preemption, Slurm's warning before the time limit) is passed on to it,
 * and writes its exit status to the shared folder.
 */
function jobScript(dir: string, argv: readonly string[]): string {
  const exitFile = join(dir, EXIT_FILE);
  return [
    '#!/bin/sh',
    '# Written by Agent Manager: one attempt of one task. Do not edit; it is written again on each attempt.',
    `rm -f ${sq(exitFile)}`,
    `set -a; . ${sq(join(dir, ENV_FILE))}; set +a`,
    'child=',
    'trap \'[ -n "$child" ] && kill -TERM "$child" 2>/dev/null\' TERM INT',
    `${argv.map(sq).join(' ')} </dev/null &`,
    'child=$!',
    'wait "$child"; s=$?',
    // A trapped signal interrupts wait: wait again for the agent's own status.
    'while kill -0 "$child" 2>/dev/null; do wait "$child"; s=$?; done',
    `printf '%s\\n' "$s" > ${sq(exitFile + '.tmp')} && mv -f ${sq(exitFile + '.tmp')} ${sq(exitFile)}`,
    'exit "$s"',
    '',
  ].join('\n');
}

/** The agent's variables that differ from the Manager's own environment (which sbatch passes on). */
function envFile(env: NodeJS.ProcessEnv): string {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    // Slurm gives the job its GPUs (CUDA_VISIBLE_DEVICES); ours name this machine's.
    if (v === undefined || k === 'CUDA_VISIBLE_DEVICES' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) || process.env[k] === v) continue;
    lines.push(`${k}=${sq(v)}`);
  }
  return lines.join('\n') + '\n';
}

/** sbatch's options for one attempt: what it asked for, where its output goes, and the cluster's settings. */
export function sbatchArgs(cfg: SlurmRunnerConfig, spec: LaunchSpec, dir: string): string[] {
  const req = spec.request ?? spec.agent.resources;
  const gpus = req.gpu?.count ?? 0;
  const args = [
    '--parsable',
    `--job-name=${jobName(cfg, spec)}`,
    `--output=${join(dir, 'stdout.raw')}`,
    `--error=${join(dir, 'stderr.raw')}`,
    '--open-mode=append',
    `--chdir=${spec.agent.dir}`,
    '--export=ALL',
    '--nodes=1',
    '--ntasks=1',
    `--cpus-per-task=${Math.max(1, Math.ceil(req.cpu))}`,
    `--mem=${Math.max(1, Math.ceil(req.memoryMB))}M`,
  ];
  if (gpus > 0) args.push(`--gres=gpu:${gpus}`);
  const graceSec = Math.max(1, Math.ceil(cfg.graceMs / 1000));
  if (spec.timeoutMs !== null) {
    // Slurm's own limit is the backstop (the Manager stops it first); it warns the agent a grace early.
    args.push(`--time=${Math.max(1, Math.ceil((spec.timeoutMs + 2 * cfg.graceMs) / 60_000))}`, `--signal=B:TERM@${graceSec}`);
  }
  // A preemptible task may be requeued by Slurm (preemption, a node failure): it checkpoints, and the attempt goes on.
  args.push(spec.preemptible ? '--requeue' : '--no-requeue');
  if (cfg.partition) args.push(`--partition=${cfg.partition}`);
  if (cfg.account) args.push(`--account=${cfg.account}`);
  if (cfg.qos) args.push(`--qos=${cfg.qos}`);
  args.push(...cfg.extraArgs, join(dir, SCRIPT_FILE));
  return args;
}

const jobName = (cfg: Pick<SlurmRunnerConfig, 'namePrefix'>, spec: Pick<LaunchSpec, 'taskId' | 'attempt'>): string =>
  `${cfg.namePrefix}-${spec.taskId}-${spec.attempt}`;

const readText = (path: string): string | null => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
};

/** Agent attempts as Slurm batch jobs (see the file's head). */
export class SlurmAgentRunner implements AgentRunner {
  readonly config: SlurmRunnerConfig;

  constructor(config: Partial<SlurmRunnerConfig> & Pick<SlurmRunnerConfig, 'runsDir' | 'cli' | 'queue'>) {
    this.config = { ...DEFAULT_SLURM_RUNNER, ...config };
  }

  start(spec: LaunchSpec, listener: RunListener): RunHandle {
    const run = new SlurmRun(this.config, spec, listener, attemptDir(this.config.runsDir, spec.taskId, spec.attempt));
    run.submit();
    return run;
  }

  /**
   * A job an earlier Manager submitted: by its recorded id, else by the id its folder holds, else
   * (the Manager died while sbatch ran) by its name. Watched again until Slurm says it ended.
   */
  adopt(spec: AdoptSpec, listener: RunListener): AdoptResult {
    const dir = spec.logDir ?? attemptDir(this.config.runsDir, spec.taskId, spec.attempt);
    try {
      const recorded = jobIdOf(spec.pidStartTime);
      const fromFile = readText(join(dir, JOB_FILE))?.trim() || null;
      const submitting = existsSync(join(dir, SUBMITTING_FILE));
      if (!recorded && !fromFile && !submitting) return { alive: false, outcome: notStarted() };
      const run = new SlurmRun(this.config, spec, listener, dir);
      run.reattach(recorded ?? fromFile, recorded === null);
      return { alive: true, handle: run };
    } catch {
      return { alive: false, outcome: unknownOutcome() };
    }
  }
}

type Phase = 'submitting' | 'watching' | 'ended' | 'detached';

/** One attempt's Slurm job, from sbatch to its end. */
class SlurmRun implements RunHandle {
  private phase: Phase = 'submitting';
  private jobId: string | null = null;
  private log!: AttemptLog;
  private readonly output: OutputReader;
  private readonly artifactsDir: string;
  private unwatch: () => void = () => {};
  private poll: NodeJS.Timeout | null = null;
  private timers: NodeJS.Timeout[] = [];
  /** Why we are stopping it, once we are. */
  private stopReason: 'cancelled' | 'timedOut' | null = null;
  private forced = false;
  private lastJob: SlurmJob | null = null;
  private runningSince: number | null = null;
  private startedAt: number;
  private notedState = '';
  private notedUnreachable = false;
  private adopted = false;
  /** The task's whole time limit, counted from when the job runs; null for none. */
  private timeLimitMs: number | null;
  private readonly fileSizes = new Map<string, number | null>();

  constructor(
    private readonly cfg: SlurmRunnerConfig,
    private readonly spec: LaunchSpec,
    private readonly listener: RunListener,
    private readonly dir: string,
  ) {
    this.artifactsDir = join(dir, 'artifacts');
    this.startedAt = cfg.clock.now();
    this.timeLimitMs = spec.timeoutMs;
    this.output = new OutputReader({
      dir,
      artifactsDir: this.artifactsDir,
      // Files a remote node appends to are never emptied under it.
      limits: { ...DEFAULT_PUMP_LIMITS, rotateBytes: Number.MAX_SAFE_INTEGER },
      log: () => this.log,
      listener,
      leaderAlive: () => false,
    });
  }

  // ---- submitting -----------------------------------------------------------------------------

  submit(): void {
    let script: string;
    try {
      mkdirSync(this.artifactsDir, { recursive: true });
      const stateDir = join(dirname(this.dir), 'state');
      mkdirSync(stateDir, { recursive: true });
      this.log = new AttemptLog(this.dir, this.cfg.caps);
      const cmd = resolveCommand(this.spec.agent.command, this.spec.agent.dir);
      if ('error' in cmd) return this.failToStart(cmd.error);
      const inputPath = join(this.dir, 'input.json');
      writeFileSync(inputPath, JSON.stringify(this.spec.input, null, 2));
      writeFileSync(join(this.dir, ENV_FILE), envFile(agentEnv(this.spec, { inputPath, artifactsDir: this.artifactsDir, stateDir })), { mode: 0o600 });
      script = join(this.dir, SCRIPT_FILE);
      writeFileSync(script, jobScript(this.dir, withTypeScriptHook(cmd.argv)));
      chmodSync(script, 0o755);
      for (const f of [EXIT_FILE, JOB_FILE]) rmSync(join(this.dir, f), { force: true });
      // There before the job: read from the start, whenever the node begins writing (Slurm appends).
      for (const f of ['stdout.raw', 'stderr.raw']) writeFileSync(join(this.dir, f), '');
      writeFileSync(join(this.dir, SUBMITTING_FILE), `${jobName(this.cfg, this.spec)}\n`);
    } catch (e) {
      if (!this.log) this.log = new AttemptLog(this.dir, this.cfg.caps);
      return this.failToStart(`could not prepare the Slurm job's folder ${this.dir}: ${(e as Error).message}`);
    }
    this.note(`submitting to Slurm${this.cfg.partition ? ` (partition ${this.cfg.partition})` : ''}`);
    void this.trySubmit(false);
  }

  private async trySubmit(retry: boolean): Promise<void> {
    if (this.phase !== 'submitting') return;
    if (retry) {
      // An sbatch whose answer was lost may still have made the job: never submit it twice.
      const found = await this.cfg.queue.findByName(jobName(this.cfg, this.spec), this.submittingSince());
      if (this.phase !== 'submitting') return;
      if (found !== 'unreachable' && found !== null) return this.submitted(found.id, 'found by name after sbatch did not answer');
      if (found === 'unreachable') return this.retryLater('the controller does not answer');
    }
    if (this.stopReason === 'cancelled') return this.end(runOutcome({ cancelled: true }), 'cancelled before Slurm took the job');
    const r = await this.cfg.cli.run('sbatch', sbatchArgs(this.cfg, this.spec, this.dir));
    if (this.phase !== 'submitting') return;
    if (r.ok) {
      const id = r.stdout.trim().split(';')[0]!.trim();
      if (/^\d+(_\d+)?$/.test(id)) return this.submitted(id, null);
      return this.failToStart(`sbatch answered "${r.stdout.trim().slice(0, 100)}", not a job id`);
    }
    if (r.unreachable) return this.retryLater(r.message);
    this.failToStart(`Slurm refused the job: ${r.message}`);
  }

  private retryLater(why: string): void {
    if (!this.notedUnreachable) this.note(`Slurm cannot be reached (${why}); trying again every ${Math.round(this.cfg.submitRetryMs / 1000)} s`);
    this.notedUnreachable = true;
    this.later(this.cfg.submitRetryMs, () => void this.trySubmit(true));
  }

  private submitted(id: string, how: string | null): void {
    this.jobId = id;
    writeFileSync(join(this.dir, JOB_FILE), `${id}\n`);
    rmSync(join(this.dir, SUBMITTING_FILE), { force: true });
    this.listener({ type: 'spawned', pid: null, pgid: null, pidStartTime: slurmIdentity(id), logDir: this.dir });
    this.note(`attempt ${this.spec.attempt} submitted to Slurm as job ${id}${how ? ` (${how})` : ''}`);
    this.watch();
    if (this.stopReason === 'cancelled') this.stopJob();
  }

  private failToStart(message: string): void {
    this.note(message);
    this.end(startFailed(message), null);
  }

  /** Jobs of this attempt's name submitted before its mark are not its own (a minute's slack for the controller's clock). */
  private submittingSince(): number {
    return (writtenAt(this.dir, SUBMITTING_FILE) ?? this.cfg.clock.now()) - CLOCK_SLACK_MS;
  }

  // ---- re-adopting ----------------------------------------------------------------------------

  reattach(jobId: string | null, unrecorded: boolean): void {
    this.adopted = true;
    this.startedAt = writtenAt(this.dir, SCRIPT_FILE) ?? this.cfg.clock.now();
    // It is told what is left of its limit since the attempt began (when its script was written): the whole limit is that and what has passed.
    if (this.timeLimitMs !== null) this.timeLimitMs += Math.max(0, this.cfg.clock.now() - this.startedAt);
    this.log = new AttemptLog(this.dir, this.cfg.caps);
    if (jobId) {
      this.jobId = jobId;
      if (unrecorded) this.listener({ type: 'spawned', pid: null, pgid: null, pidStartTime: slurmIdentity(jobId), logDir: this.dir });
      this.note(`re-adopted Slurm job ${jobId} by a restarted Manager`);
      this.watch();
      return;
    }
    // The Manager stopped while sbatch ran: the job exists only if Slurm knows its name.
    void this.findSubmitted();
  }

  private async findSubmitted(): Promise<void> {
    const found = await this.cfg.queue.findByName(jobName(this.cfg, this.spec), this.submittingSince());
    if (this.phase !== 'submitting') return;
    if (found === 'unreachable') {
      if (!this.notedUnreachable) this.note('Slurm cannot be reached to find the job this attempt submitted; looking again');
      this.notedUnreachable = true;
      this.later(this.cfg.submitRetryMs, () => void this.findSubmitted());
      return;
    }
    if (!found) {
      rmSync(join(this.dir, SUBMITTING_FILE), { force: true });
      return this.end(notStarted(), 'the Manager stopped while submitting it, and Slurm has no such job: it never ran');
    }
    this.jobId = found.id;
    writeFileSync(join(this.dir, JOB_FILE), `${found.id}\n`);
    rmSync(join(this.dir, SUBMITTING_FILE), { force: true });
    this.listener({ type: 'spawned', pid: null, pgid: null, pidStartTime: slurmIdentity(found.id), logDir: this.dir });
    this.note(`re-adopted Slurm job ${found.id} (found by name: the Manager had stopped while submitting it)`);
    this.watch();
  }

  // ---- watching -------------------------------------------------------------------------------

  private watch(): void {
    this.phase = 'watching';
    this.output.open(this.log.offsets);
    this.unwatch = this.cfg.queue.watch(this.jobId!, (job) => this.safely(() => this.onJob(job)));
    this.cfg.queue.nudge();
    this.poll = setInterval(() => this.safely(() => this.pump()), this.cfg.pollMs);
    this.poll.unref?.();
  }

  private pump(): void {
    if (this.phase !== 'watching') return;
    this.checkOutputFiles();
    this.output.pump(false);
    this.log.flush();
  }

  /**
   * A shared folder can lose or cut a file under us (cleaned, quota, another client): said once
   * in the log, and the run goes on being watched (its end still comes from Slurm).
   */
  private checkOutputFiles(): void {
    for (const name of ['stdout.raw', 'stderr.raw']) {
      let size: number | null;
      try {
        size = statSync(join(this.dir, name)).size;
      } catch {
        size = null;
      }
      const before = this.fileSizes.get(name);
      if (size === null && before !== null && before !== undefined) this.note(`${name} vanished from ${this.dir}: output written after this is lost`);
      else if (size !== null && before != null && size < before)
        this.note(`${name} was cut from ${before} to ${size} bytes on the shared folder: some output may be lost`);
      this.fileSizes.set(name, size);
    }
  }

  private onJob(job: SlurmJob | null): void {
    if (this.phase !== 'watching') return;
    if (job === null) {
      // Slurm has forgotten it: it ended; how is in the files it left.
      return this.finish(null);
    }
    this.lastJob = job;
    const key = `${job.state}/${job.reason ?? ''}/${job.node ?? ''}/${job.restarts}`;
    if (key !== this.notedState) {
      const before = this.notedState;
      this.notedState = key;
      if (job.restarts > 0 && !before.endsWith(`/${job.restarts}`) && before !== '')
        this.note(`Slurm requeued job ${job.id} (${job.reason ?? 'its node failed'}); it runs again from the start`);
      const where = [
        job.partition ? `partition ${job.partition}` : null,
        job.state === 'PENDING' ? `pending: ${job.reason ?? 'none'}` : job.node ? `node ${job.node}` : null,
      ]
        .filter(Boolean)
        .join(', ');
      if (where) this.listener({ type: 'placement', where });
      if (job.state === 'PENDING') this.note(`waiting in Slurm (pending: ${job.reason ?? 'none'})${job.partition ? ` in partition ${job.partition}` : ''}`);
      else if (job.state === 'RUNNING') this.note(`running on ${job.node ?? 'a node'} (Slurm job ${job.id})`);
      else if (job.state === 'SUSPENDED') this.note(`Slurm suspended job ${job.id}`);
    }
    if (job.state === 'RUNNING' && this.runningSince === null) {
      const now = this.cfg.clock.now();
      this.runningSince = now;
      // The time limit counts from when it runs, not while it waits in Slurm's queue. A re-adopted
      // job may have run for a while: its limit is its whole time less what Slurm says it ran.
      const full = this.timeLimitMs;
      if (full !== null) {
        const ran = this.adopted && job.startedAt ? Math.max(0, now - job.startedAt) : 0;
        this.later(full - ran, () => this.timeOut());
      }
    }
    if (!isLive(job)) this.finish(job);
  }

  private timeOut(): void {
    if (this.phase !== 'watching' || this.stopReason) return;
    this.stopReason = 'timedOut';
    this.note("timed out (the task's time limit is reached): SIGTERM to the agent");
    this.stopJob();
  }

  cancel(request?: StopRequest): void {
    if (this.phase === 'ended' || this.phase === 'detached' || this.stopReason) return;
    this.stopReason = 'cancelled';
    this.note(request?.note ?? 'cancel requested: SIGTERM to the agent');
    if (this.phase === 'watching') this.stopJob(request?.graceMs);
    // While submitting: stopped as soon as sbatch answers (see submitted), or never submitted.
  }

  /** SIGTERM to the agent through its batch shell, then the whole job cancelled after the grace. */
  private stopJob(graceMs = this.cfg.graceMs): void {
    const id = this.jobId!;
    if (this.lastJob?.state !== 'RUNNING') {
      void this.cfg.cli.run('scancel', [id]).then(() => this.cfg.queue.nudge());
      return;
    }
    void this.cfg.cli.run('scancel', ['--batch', '--signal=TERM', id]).then(() => this.cfg.queue.nudge());
    this.later(graceMs, () => {
      if (this.phase !== 'watching') return;
      this.forced = true;
      this.note(`the agent did not stop within ${Math.round(graceMs / 1000)} s: cancelling Slurm job ${id}`);
      void this.cfg.cli.run('scancel', [id]).then(() => this.cfg.queue.nudge());
    });
  }

  detach(): void {
    if (this.phase === 'ended' || this.phase === 'detached') return;
    this.phase = 'detached';
    this.stopTimers();
    try {
      this.output.pump(false);
      this.log.close();
    } catch {
      // the next Manager reads it again
    }
    this.output.close();
  }

  // ---- the end --------------------------------------------------------------------------------

  /** The job is over (job null: Slurm forgot it). Its exit status file says how the agent ended. */
  private finish(job: SlurmJob | null): void {
    if (this.phase !== 'watching') return;
    this.phase = 'ended';
    this.stopTimers();
    const status = readExitFile(this.dir);
    const reason = this.stopReason;
    const endedAt = this.adopted && status !== null ? (writtenAt(this.dir, EXIT_FILE) ?? this.cfg.clock.now()) : this.cfg.clock.now();
    const o = runOutcome({
      cancelled: reason === 'cancelled',
      timedOut: reason === 'timedOut',
      forcefullyTerminated: this.forced,
      durationMs: Math.max(0, Math.round(endedAt - (this.runningSince ?? this.startedAt))),
    });
    let note: string | null = null;
    // Over before a look saw it run.
    if (this.runningSince === null && job?.node) this.note(`ran on ${job.node} (Slurm job ${job.id})`);
    if (status !== null) Object.assign(o, decodeStatus(status));
    else if (job === null) {
      o.unknown = true;
      note = `Slurm no longer knows job ${this.jobId} and it left no exit status in ${this.dir} (is that folder shared with the nodes?)`;
    } else {
      const end = jobEnd(job);
      note = end.note;
      if (end.kind === 'timedOut') o.timedOut = true;
      else if (end.kind === 'oom') Object.assign(o, { oom: 'host', oomEvidence: end.note, signal: 'SIGKILL' });
      else if (end.kind === 'interrupted') o.interrupted = { reason: end.note, counts: end.counts };
      else if (end.kind === 'cancelled' && !reason) o.interrupted = { reason: end.note, counts: true };
      else if (end.kind === 'exit') {
        Object.assign(o, { exitCode: job.exitCode, signal: job.signal !== null ? (decodeStatus(128 + job.signal).signal ?? `signal ${job.signal}`) : null });
        // Its batch script never wrote a status: it may never have reached the shared folder.
        if (job.exitCode === 0 && job.signal === null) {
          o.exitCode = null;
          o.unknown = true;
          note = `${end.note}, but its exit status never reached ${this.dir} (is that folder shared with the nodes?)`;
        }
      }
    }
    if (!this.log.finalized) {
      this.output.pump(true);
      const oom = o.unknown || o.oom ? null : detectOom(this.output.recent, { exitCode: o.exitCode, signal: o.signal, killedByUs: reason !== null });
      if (oom) Object.assign(o, { oom: oom.kind, oomEvidence: oom.evidence });
      o.lastError = this.output.lastStderr || null;
      if (o.lastError) writeFileSync(join(this.dir, LAST_ERROR_FILE), o.lastError);
    } else {
      o.lastError = readText(join(this.dir, LAST_ERROR_FILE));
    }
    this.end(o, note);
  }

  private end(o: RunOutcome, note: string | null): void {
    this.phase = 'ended';
    this.stopTimers();
    // A success teaches the agent's cluster profile what it used, where Slurm's accounting says (sacct).
    const id = this.jobId;
    if (id && o.exitCode === 0 && o.signal === null && !o.unknown && !o.cancelled) {
      const waited = new Promise<null>((resolve) => setTimeout(() => resolve(null), USAGE_WAIT_MS).unref());
      void Promise.race([this.cfg.queue.usage(id), waited])
        .catch(() => null)
        .then((u) => {
          if (u && u.memoryMB !== null) {
            o.measured = { memoryMB: u.memoryMB, vramMB: u.vramMB, cpu: null, where: 'slurm' };
            const vram = u.vramMB === null ? 'GPU memory not recorded' : `GPU memory ${u.vramMB} MB`;
            note = [note, `Slurm's accounting says job ${id} used at most ${u.memoryMB} MB of memory, ${vram}`].filter(Boolean).join('; ');
          }
          this.close(o, note);
        });
      return;
    }
    this.close(o, note);
  }

  private close(o: RunOutcome, note: string | null): void {
    try {
      if (note) this.note(note, false);
      if (!this.log.finalized) {
        this.note(`attempt ${this.spec.attempt} ended: ${o.interrupted ? o.interrupted.reason : describeEnd(o)}`, false);
        this.log.finalize();
      } else this.log.close();
    } catch {
      // the outcome still goes out
    }
    this.output.close();
    // Reported after start() returned, as the port promises.
    setImmediate(() => this.listener({ type: 'exit', outcome: o }));
  }

  // ---- plumbing -------------------------------------------------------------------------------

  private later(ms: number, work: () => void): void {
    const t = setTimeout(() => this.safely(work), Math.max(0, ms));
    t.unref?.();
    this.timers.push(t);
  }

  private stopTimers(): void {
    this.unwatch();
    this.unwatch = () => {};
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }

  /** A failing disk (the shared folder gone) never throws out of a timer: said in the live log, and watched on. */
  private safely(work: () => void): void {
    try {
      work();
    } catch (e) {
      this.listener({ type: 'log', text: `[agentmgr] could not read or write the attempt's files (${(e as Error).message}); still watching the Slurm job\n` });
    }
  }

  private note(message: string, save = true): void {
    this.output.emitLog(`[agentmgr] ${message}\n`);
    if (save) this.log.flush();
  }
}
