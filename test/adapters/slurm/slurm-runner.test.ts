import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { attemptDir } from '../../../src-main/adapters/process/runner.js';
import { SlurmCli, type CliResult, type SlurmTool } from '../../../src-main/adapters/slurm/cli.js';
import { SlurmQueue } from '../../../src-main/adapters/slurm/queue.js';
import { SlurmAgentRunner, SUBMITTING_FILE, type SlurmRunnerConfig } from '../../../src-main/adapters/slurm/runner.js';
import type { RunOutcome } from '../../../src-main/core/lifecycle/attempt-end.js';
import type { LaunchSpec, RunnerEvent } from '../../../src-main/core/ports.js';
import { tempDir } from '../../helpers/fakes.js';
import { fixtureAgent } from '../../helpers/fixture-agents.js';
import { cancelJobs, devSlurm, slurmDev, slurmEnv, slurmSync } from '../../helpers/slurm.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * The Slurm executor against a real Slurm (scripts/slurm-dev.sh: one node with 16 CPUs and one
 * GPU). Skipped where that cluster is not up; npm test starts it where Slurm is installed.
 */
const up = devSlurm();
// Names of this run's own: a job of an earlier run keeps its name in Slurm for a while.
const PREFIX = `agentmgr-rt${process.pid}`;
const tmp = tempDir();

/** The real CLI, counting its calls by tool. */
class CountingCli extends SlurmCli {
  calls: Record<string, number> = {};
  override run(tool: SlurmTool, args: readonly string[]): Promise<CliResult> {
    this.calls[tool] = (this.calls[tool] ?? 0) + 1;
    return super.run(tool, args);
  }
}

function setup(over: Partial<SlurmRunnerConfig> = {}) {
  const cli = new CountingCli({ env: slurmEnv(), timeoutMs: 10_000 });
  const queue = new SlurmQueue(cli, { pollMs: 200, maxPollMs: 800 });
  const runner = new SlurmAgentRunner({
    runsDir: join(tmp.dir, 'runs'),
    cli,
    queue,
    graceMs: 2000,
    pollMs: 50,
    submitRetryMs: 300,
    namePrefix: PREFIX,
    ...over,
  });
  queues.push(queue);
  return { cli, queue, runner };
}
const queues: SlurmQueue[] = [];
let nextTask = 1;

function record() {
  const events: RunnerEvent[] = [];
  return {
    events,
    listener: (e: RunnerEvent) => events.push(e),
    exit: (): RunOutcome | undefined => events.find((e): e is Extract<RunnerEvent, { type: 'exit' }> => e.type === 'exit')?.outcome,
    jobId: (): string | undefined => events.find((e): e is Extract<RunnerEvent, { type: 'spawned' }> => e.type === 'spawned')?.pidStartTime.slice(6),
    log: (): string => events.map((e) => (e.type === 'log' ? e.text : '')).join(''),
  };
}

const spec = (name: string, over: Partial<LaunchSpec> = {}): LaunchSpec => ({
  taskId: nextTask++,
  attempt: 1,
  input: { n: 1 },
  gpus: [],
  timeoutMs: null,
  agent: fixtureAgent(name),
  ...over,
});
const show = (id: string): string => slurmSync('scontrol', ['show', 'job', '-o', id]);

afterAll(() => {
  for (const q of queues) q.stop();
  if (up) cancelJobs(PREFIX);
  tmp.cleanup();
});

describe.skipIf(!up)('Slurm executor on a real Slurm', { timeout: 180_000 }, () => {
  it("runs an agent as a batch job: Slurm is asked for the task's resources, the agent protocol works as locally", async () => {
    const { runner } = setup({ partition: 'small' });
    const r = record();
    const s = spec('ok', { request: { cpu: 2, memoryMB: 300, gpu: { count: 1, vramMB: 4000 } }, timeoutMs: 5 * 60_000 });
    runner.start(s, r.listener);
    await waitFor(() => r.jobId() !== undefined, 'the job id', 30_000);
    const job = show(r.jobId()!);
    expect(job).toMatch(new RegExp(`JobName=${PREFIX}-${s.taskId}-1 `));
    expect(job).toMatch(/Partition=small /);
    expect(job).toMatch(/NumCPUs=2 /);
    expect(job).toMatch(/MinMemoryNode=300M /);
    expect(job).toMatch(/TresPerNode=gres:gpu:1/);
    expect(job).toMatch(/TimeLimit=00:06:00 /);
    await waitFor(() => r.exit() !== undefined, 'the job to end', 60_000);
    expect(r.exit()).toMatchObject({ exitCode: 0, signal: null, unknown: false, startError: null, lastError: 'to stderr' });
    // Progress, the artifact and the result came through the shared folder, as the local runner reports them.
    expect(r.events.find((e) => e.type === 'progress')).toMatchObject({ progress: 0.5, message: 'half way' });
    expect(r.events.find((e) => e.type === 'artifact')).toMatchObject({ name: 'greeting', sizeBytes: 6 });
    expect(r.events.find((e) => e.type === 'result')).toMatchObject({ data: { ok: true } });
    const log = readFileSync(join(attemptDir(runner.config.runsDir, s.taskId, 1), 'output.log'), 'utf8');
    expect(log).toContain(`submitted to Slurm as job ${r.jobId()}`);
    expect(log).toContain('input: {"n":1}');
    expect(log).toMatch(/(running|ran) on \S+ \(Slurm job/);
    // The token is never written for the job.
    expect(readFileSync(join(attemptDir(runner.config.runsDir, s.taskId, 1), 'agent.env'), 'utf8')).not.toContain('AGENTMGR_TOKEN');
  });

  it('a success without Slurm accounting (the dev cluster keeps none) is recorded without measurements, and sacct is not asked again', async () => {
    const { runner, cli, queue } = setup();
    const r = record();
    runner.start(spec('ok'), r.listener);
    await waitFor(() => r.exit() !== undefined, 'the job to end', 60_000);
    expect(r.exit()).toMatchObject({ exitCode: 0 });
    expect(r.exit()!.measured ?? null).toBeNull();
    expect(queue.hasAccounting()).toBe(false);
    const asked = cli.calls.sacct ?? 0;
    const again = record();
    runner.start(spec('ok'), again.listener);
    await waitFor(() => again.exit() !== undefined, 'the second job to end', 60_000);
    expect(cli.calls.sacct ?? 0).toBe(asked);
  });

  it('where the cluster keeps accounting, a success carries what sacct says its steps used, tagged as measured on Slurm, and the log says so', async () => {
    // Slurm's own commands, but for sacct: a cluster with GPU accounting cannot run here (no GPU,
    // no slurmdbd), so it answers as such a cluster's sacct does, for the job it is asked about.
    const bin = join(tmp.dir, 'bin-accounting');
    mkdirSync(bin, { recursive: true });
    for (const tool of ['sbatch', 'squeue', 'scontrol', 'scancel', 'sinfo']) writeFileSync(join(bin, tool), `#!/bin/sh\nexec ${tool} "$@"\n`, { mode: 0o755 });
    writeFileSync(
      join(bin, 'sacct'),
      [
        '#!/bin/sh',
        'id=""; fields=""',
        'while [ $# -gt 0 ]; do case "$1" in -j) id="$2"; shift;; -o) fields="$2"; shift;; esac; shift; done',
        '[ "$fields" = "JobID,MaxRSS,TRESUsageInMax" ] || { echo "sacct: error: not asked for here" >&2; exit 1; }',
        'echo "$id|||"',
        'echo "$id.batch|524288K|cpu=00:00:01,energy=0,fs/disk=2048,gres/gpumem=3000M,gres/gpuutil=87,mem=524288K,pages=0,vmem=0|"',
        'echo "$id.extern|256K|cpu=00:00:00,energy=0,gres/gpumem=0,mem=256K|"',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const cli = new SlurmCli({ env: slurmEnv(), timeoutMs: 10_000, bin });
    const queue = new SlurmQueue(cli, { pollMs: 200, maxPollMs: 800 });
    queues.push(queue);
    const runner = new SlurmAgentRunner({ runsDir: join(tmp.dir, 'runs'), cli, queue, graceMs: 2000, pollMs: 50, submitRetryMs: 300, namePrefix: PREFIX });
    const r = record();
    const s = spec('ok', { request: { cpu: 1, memoryMB: 100, gpu: { count: 1, vramMB: 1000 } } });
    runner.start(s, r.listener);
    await waitFor(() => r.exit() !== undefined, 'the job to end', 60_000);
    expect(r.exit()).toMatchObject({ exitCode: 0, measured: { memoryMB: 512, vramMB: 3000, cpu: null, where: 'slurm' } });
    const log = readFileSync(join(attemptDir(runner.config.runsDir, s.taskId, 1), 'output.log'), 'utf8');
    expect(log).toContain(`Slurm's accounting says job ${r.jobId()} used at most 512 MB of memory, GPU memory 3000 MB`);
  });

  it('a job Slurm refuses fails at once, with what Slurm said', async () => {
    const { runner } = setup({ partition: 'no-such-partition' });
    const r = record();
    runner.start(spec('ok'), r.listener);
    await waitFor(() => r.exit() !== undefined, 'the refusal', 30_000);
    expect(r.exit()!.startError).toMatch(/^Slurm refused the job: invalid partition/i);
    expect(r.events.some((e) => e.type === 'spawned')).toBe(false);
  });

  it('a GPU job waits in Slurm behind another (the node has one GPU), says why, and runs once it is free', async () => {
    const { runner } = setup();
    const gpu = { cpu: 1, memoryMB: 100, gpu: { count: 1, vramMB: 1000 } };
    const first = record();
    const second = record();
    const h1 = runner.start(spec('hang', { request: gpu }), first.listener);
    await waitFor(() => first.log().includes('running on'), 'the first to run', 60_000);
    runner.start(spec('ok', { request: gpu }), second.listener);
    await waitFor(() => second.log().includes('waiting in Slurm (pending: Resources)'), 'the second to wait for the GPU', 60_000);
    h1.cancel();
    await waitFor(() => first.exit() !== undefined, 'the first to stop', 60_000);
    expect(first.exit()).toMatchObject({ cancelled: true, signal: 'SIGTERM' });
    await waitFor(() => second.exit() !== undefined, 'the second to run and end', 60_000);
    expect(second.exit()).toMatchObject({ exitCode: 0 });
  });

  it('a time limit counts from when the job runs, and stops it as timed out', async () => {
    const { runner } = setup();
    const r = record();
    runner.start(spec('hang', { timeoutMs: 1500 }), r.listener);
    await waitFor(() => r.exit() !== undefined, 'the time limit', 60_000);
    expect(r.exit()).toMatchObject({ timedOut: true, cancelled: false });
    expect(r.log()).toContain("the task's time limit is reached");
  });

  it('watches any number of jobs with one squeue per look, not one call per job', async () => {
    const { runner, cli } = setup();
    const runs = Array.from({ length: 6 }, () => record());
    const handles = runs.map((r) => runner.start(spec('hang', { request: { cpu: 1, memoryMB: 50 } }), r.listener));
    await waitFor(() => runs.every((r) => r.log().includes('running on')), 'all six to run', 90_000);
    const before = { squeue: cli.calls.squeue ?? 0, scontrol: cli.calls.scontrol ?? 0 };
    const seen = runs.map((r) => r.events.length);
    await waitFor(() => (cli.calls.squeue ?? 0) >= before.squeue + 3, 'three more looks', 30_000);
    expect(cli.calls.scontrol ?? 0).toBe(before.scontrol);
    expect((cli.calls.squeue ?? 0) - before.squeue).toBeLessThan(6);
    for (const h of handles) h.cancel();
    await waitFor(() => runs.every((r) => r.exit() !== undefined), 'all six to stop', 60_000);
    expect(runs.map((r, i) => r.events.length > seen[i]!)).toEqual(runs.map(() => true));
  });

  it('a job Slurm has forgotten is asked of sacct once; a cluster without accounting is not asked again', async () => {
    const { queue, cli } = setup();
    const seen: unknown[] = [];
    // No such job: squeue does not list it, scontrol does not know it, and accounting is off here.
    const stop = queue.watch('987654', (j) => seen.push(j));
    await waitFor(() => seen.length >= 3, 'three looks', 30_000);
    stop();
    expect(seen.every((j) => j === null)).toBe(true);
    expect(cli.calls.sacct).toBe(1);
    expect(queue.hasAccounting()).toBe(false);
  });

  it('re-adopts: by the job id its folder holds, and by name when the Manager died while sbatch ran', async () => {
    const { runner } = setup();
    // A Manager that recorded nothing but whose job runs: found by the folder's slurm-job file.
    const a = record();
    const sa = spec('hang');
    const h = runner.start(sa, a.listener);
    await waitFor(() => a.jobId() !== undefined, 'the job id', 30_000);
    h.detach();
    const again = record();
    const adopted = runner.adopt({ ...sa, pid: null, pidStartTime: null, pgid: null, logDir: null }, again.listener);
    expect(adopted.alive).toBe(true);
    expect(again.events[0]).toMatchObject({ type: 'spawned', pid: null, pidStartTime: `slurm:${a.jobId()}` });
    if (adopted.alive) adopted.handle.cancel();
    await waitFor(() => again.exit() !== undefined, 'the adopted job to stop', 60_000);
    expect(again.exit()!.cancelled).toBe(true);

    // Died during sbatch, and the job was made: found by its name.
    const sb = spec('ok');
    const dir = attemptDir(runner.config.runsDir, sb.taskId, 1);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, SUBMITTING_FILE), 'x\n');
    const made = slurmSync('sbatch', ['--parsable', `--job-name=${PREFIX}-${sb.taskId}-1`, '--mem=20M', '--output=/dev/null', '--wrap', 'sleep 60']).trim();
    const b = record();
    expect(runner.adopt({ ...sb, pid: null, pidStartTime: null, pgid: null, logDir: null }, b.listener).alive).toBe(true);
    await waitFor(() => b.jobId() !== undefined, 'the job found by name', 30_000);
    expect(b.jobId()).toBe(made);
    slurmSync('scancel', [made]);

    // Died during sbatch, and no job was made: it never ran.
    const sc = spec('ok');
    const dirC = attemptDir(runner.config.runsDir, sc.taskId, 1);
    mkdirSync(dirC, { recursive: true });
    writeFileSync(join(dirC, SUBMITTING_FILE), 'x\n');
    const c = record();
    runner.adopt({ ...sc, pid: null, pidStartTime: null, pgid: null, logDir: null }, c.listener);
    await waitFor(() => c.exit() !== undefined, 'the proof it never ran', 30_000);
    expect(c.exit()!.notStarted).toBe(true);
    expect(existsSync(join(dirC, SUBMITTING_FILE))).toBe(false);
  });

  it('output files cut or removed on the shared folder are said in the log; the run still ends as the agent did', async () => {
    const { runner } = setup();
    const r = record();
    const gate = join(tmp.dir, `gate-${nextTask}`);
    const s = spec('slow', { input: { untilFile: gate } });
    runner.start(s, r.listener);
    const dir = attemptDir(runner.config.runsDir, s.taskId, 1);
    await waitFor(() => r.events.some((e) => e.type === 'progress'), 'its progress', 60_000);
    writeFileSync(join(dir, 'stdout.raw'), '');
    await waitFor(() => r.log().includes('stdout.raw was cut from'), 'the cut to be said', 30_000);
    rmSync(join(dir, 'stderr.raw'));
    await waitFor(() => r.log().includes('stderr.raw vanished from'), 'the removal to be said', 30_000);
    writeFileSync(gate, '');
    await waitFor(() => r.exit() !== undefined, 'the end', 60_000);
    expect(r.exit()).toMatchObject({ exitCode: 0, unknown: false });
  });

  it('a dead slurmctld is shown as unreachable; the job is waited for, and finishes once Slurm is back', async () => {
    const { runner, queue } = setup();
    const r = record();
    runner.start(spec('ok', { input: { n: 2 }, agent: { ...fixtureAgent('ok'), env: { SLEEP: '4' } } }), r.listener);
    await waitFor(() => r.log().includes('running on'), 'the job to run', 60_000);
    const pidFile = join(process.env.AGENTMGR_SLURM_DIR ?? '/tmp/agentmgr-slurm', 'slurmctld.pid');
    // Stopped as for maintenance (SIGTERM: it saves its state); its node goes on running the job.
    process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGTERM');
    try {
      await waitFor(() => !queue.status().reachable, 'the controller to be seen as down', 30_000);
      expect(queue.status()).toMatchObject({ reachable: false, message: expect.stringMatching(/is DOWN|controller|connect|refused/i), watched: 1 });
      expect(r.exit()).toBeUndefined();
    } finally {
      slurmDev('start');
    }
    await waitFor(() => queue.status().reachable, 'the controller to answer again', 60_000);
    await waitFor(() => r.exit() !== undefined, 'the job to end', 90_000);
    expect(r.exit()).toMatchObject({ exitCode: 0, unknown: false });
  });
});
