import { describe, expect, it } from 'vitest';
import { oneLine } from '../../../src-main/adapters/slurm/cli.js';
import {
  decodeWaitStatus,
  jobEnd,
  parseSacctLine,
  parseSacctUsage,
  parseScontrolLine,
  parseSqueueJson,
  sizeMB,
  type SlurmJob,
} from '../../../src-main/adapters/slurm/jobs.js';
import { DEFAULT_SLURM_RUNNER, jobIdOf, sbatchArgs, slurmIdentity } from '../../../src-main/adapters/slurm/runner.js';
import { SlurmCli } from '../../../src-main/adapters/slurm/cli.js';
import { SlurmQueue } from '../../../src-main/adapters/slurm/queue.js';
import { agent } from '../../helpers/fakes.js';

/** What Slurm prints, as its documented JSON and text layouts say (and as 22.05, which CI runs, printed them). */
const SQUEUE_22_05 = JSON.stringify({
  meta: { plugin: { type: 'openapi/v0.0.38' }, Slurm: { version: { major: 22, micro: 8, minor: 5 }, release: '22.05.8' } },
  errors: [],
  jobs: [
    {
      job_id: 2,
      name: 'agentmgr-7-1',
      job_state: 'RUNNING',
      state_reason: 'None',
      nodes: 'node3',
      partition: 'gpu',
      exit_code: 0,
      restart_cnt: 0,
      submit_time: 1796324149,
      start_time: 1796324150,
    },
    { job_id: 3, name: 'wrap', job_state: 'FAILED', state_reason: 'NonZeroExitCode', nodes: 'node3', partition: 'gpu', exit_code: 768, restart_cnt: 0 },
    { job_id: 4, name: 'wrap', job_state: 'FAILED', state_reason: 'JobLaunchFailure', nodes: '', partition: 'gpu', exit_code: 9, restart_cnt: 1 },
    {
      job_id: 5,
      name: 'agentmgr-8-1',
      job_state: 'PENDING',
      state_reason: 'Resources',
      nodes: '',
      partition: 'gpu',
      exit_code: 0,
      restart_cnt: 0,
      submit_time: 1796324149,
      // Not started yet: 0.
      start_time: 0,
    },
  ],
});

const SQUEUE_23_11 = JSON.stringify({
  jobs: [
    {
      job_id: 11,
      name: 'agentmgr-9-2',
      job_state: ['COMPLETED'],
      state_reason: 'None',
      nodes: 'gpu01',
      partition: 'batch',
      exit_code: {
        status: ['EXITED'],
        return_code: { set: true, infinite: false, number: 3 },
        signal: { id: { set: false, infinite: false, number: 0 }, name: '' },
      },
      restart_cnt: 0,
    },
    {
      job_id: 12,
      name: 'agentmgr-9-3',
      job_state: ['CANCELLED'],
      state_reason: 'None',
      nodes: 'gpu01',
      partition: 'batch',
      exit_code: {
        status: ['SIGNALED'],
        return_code: { set: true, infinite: false, number: 0 },
        signal: { id: { set: true, infinite: false, number: 15 }, name: 'TERM' },
      },
      restart_cnt: 0,
    },
  ],
  warnings: [],
  errors: [],
});

describe('Slurm output parsing', () => {
  it('reads squeue --json of 22.05 (wait statuses) and of 23.02+ (wrapped numbers, state lists)', () => {
    const [running, failed, killed, pending] = parseSqueueJson(SQUEUE_22_05);
    expect(running).toEqual({
      id: '2',
      name: 'agentmgr-7-1',
      state: 'RUNNING',
      reason: null,
      node: 'node3',
      partition: 'gpu',
      exitCode: 0,
      signal: null,
      restarts: 0,
      submittedAt: 1796324149000,
      startedAt: 1796324150000,
    });
    expect(failed).toMatchObject({ state: 'FAILED', reason: 'NonZeroExitCode', exitCode: 3, signal: null });
    expect(killed).toMatchObject({ exitCode: null, signal: 9, node: null, restarts: 1 });
    expect(pending).toMatchObject({ state: 'PENDING', reason: 'Resources', node: null, startedAt: null });
    const [done, cancelled] = parseSqueueJson(SQUEUE_23_11);
    expect(done).toMatchObject({ id: '11', state: 'COMPLETED', exitCode: 3, signal: null, node: 'gpu01' });
    expect(cancelled).toMatchObject({ id: '12', state: 'CANCELLED', exitCode: null, signal: 15 });
  });

  it('a dead controller is an error, never "no jobs" (squeue --json exits 0 with errors)', () => {
    const down = JSON.stringify({ errors: [{ error: 'Unable to contact slurm controller (connect failure)', error_number: 1007 }], jobs: [] });
    expect(() => parseSqueueJson(down)).toThrow(/Unable to contact slurm controller/);
    expect(() => parseSqueueJson('squeue: error: something')).toThrow(/not JSON/);
    expect(() => parseSqueueJson('{}')).toThrow(/no "jobs"/);
  });

  it('reads one line of scontrol show job -o', () => {
    const line =
      'JobId=42 JobName=agentmgr-3-1 UserId=root(0) JobState=TIMEOUT Reason=TimeLimit Dependency=(null) Requeue=1 Restarts=2 BatchFlag=1 ExitCode=0:15 SubmitTime=2026-12-03T18:33:05 StartTime=2026-12-03T18:33:06 Partition=debug NodeList=node7 BatchHost=node7';
    expect(parseScontrolLine(line)).toEqual({
      id: '42',
      name: 'agentmgr-3-1',
      state: 'TIMEOUT',
      reason: 'TimeLimit',
      node: 'node7',
      partition: 'debug',
      exitCode: null,
      signal: 15,
      restarts: 2,
      submittedAt: new Date(2026, 11, 3, 18, 33, 5).getTime(),
      startedAt: new Date(2026, 11, 3, 18, 33, 6).getTime(),
    });
    expect(parseScontrolLine('JobId=43 JobState=PENDING Reason=Priority ExitCode=0:0 NodeList=(null)')).toMatchObject({
      exitCode: 0,
      signal: null,
      node: null,
      reason: 'Priority',
    });
    expect(parseScontrolLine('slurm_load_jobs error: Invalid job id specified')).toBeNull();
    expect(decodeWaitStatus(0)).toEqual({ exitCode: 0, signal: null });
    expect(decodeWaitStatus(256 * 2)).toEqual({ exitCode: 2, signal: null });
    expect(decodeWaitStatus(15)).toEqual({ exitCode: null, signal: 15 });
  });

  it('reads sacct -X -P lines: the state without who did it, the exit code and signal, no node when none was assigned', () => {
    expect(parseSacctLine('4242|agentmgr-3-1|NODE_FAIL|0:0|gpu07|gpu|2026-12-03T10:00:00')).toMatchObject({
      id: '4242',
      name: 'agentmgr-3-1',
      state: 'NODE_FAIL',
      node: 'gpu07',
      partition: 'gpu',
      exitCode: 0,
      signal: null,
    });
    expect(parseSacctLine('4243|agentmgr-3-2|CANCELLED by 1000|0:15|None assigned|debug|Unknown')).toMatchObject({
      state: 'CANCELLED',
      node: null,
      exitCode: null,
      signal: 15,
      submittedAt: null,
    });
    expect(parseSacctLine('4244.batch|batch|COMPLETED|0:0|n1|debug|x')).toBeNull();
    expect(parseSacctLine('')).toBeNull();
  });

  it("reads what a job used from sacct's steps: MaxRSS or the TRES mem, and gres/gpumem where the cluster tracks it", () => {
    // As `sacct -j ID -P -n -o JobID,MaxRSS,TRESUsageInMax` prints it on a cluster with GPU accounting.
    const out = [
      '18194943|||',
      '18194943.batch|10372780K|cpu=00:56:24,energy=0,fs/disk=350130624578,gres/gpumem=38888M,gres/gpuutil=100,mem=10372780K,pages=3465,vmem=10194376K|',
      '18194943.extern|256K|cpu=00:00:00,energy=0,fs/disk=5273,gres/gpumem=0,gres/gpuutil=0,mem=256K,pages=0,vmem=0|',
      '18194943.0|2G|cpu=00:10:00,gres/gpumem=40G,mem=2G|',
    ].join('\n');
    expect(parseSacctUsage(out, '18194943')).toEqual({ memoryMB: 10_130, vramMB: 40_960 });
    // No GPU accounting: memory only.
    expect(parseSacctUsage('7|||\n7.batch|524288K|cpu=00:00:01,energy=0,mem=524288K,pages=0|\n', '7')).toEqual({ memoryMB: 512, vramMB: null });
    // No step recorded yet (or another job's): nothing to learn from.
    expect(parseSacctUsage('7|||\n', '7')).toBeNull();
    expect(parseSacctUsage('70.batch|1G|mem=1G|\n', '7')).toBeNull();
    expect([sizeMB('2G'), sizeMB('38888M'), sizeMB('1048576'), sizeMB(''), sizeMB('abc')]).toEqual([2048, 38_888, 1, null, null]);
  });

  it("maps Slurm's final states to what the attempt was: the node's fault does not use up an attempt", () => {
    const job = (state: string): SlurmJob => ({
      id: '9',
      name: 'x',
      state,
      reason: null,
      node: 'n1',
      partition: null,
      exitCode: null,
      signal: null,
      restarts: 0,
      submittedAt: null,
    });
    expect(jobEnd(job('NODE_FAIL'))).toMatchObject({ kind: 'interrupted', counts: false, note: expect.stringContaining('n1') });
    expect(jobEnd(job('PREEMPTED'))).toMatchObject({ kind: 'interrupted', counts: false });
    expect(jobEnd(job('BOOT_FAIL'))).toMatchObject({ kind: 'interrupted', counts: false });
    expect(jobEnd(job('TIMEOUT'))).toMatchObject({ kind: 'timedOut' });
    expect(jobEnd(job('OUT_OF_MEMORY'))).toMatchObject({ kind: 'oom', note: expect.stringContaining('--mem') });
    expect(jobEnd(job('CANCELLED'))).toMatchObject({ kind: 'cancelled' });
    expect(jobEnd(job('FAILED'))).toMatchObject({ kind: 'exit' });
  });

  it("keeps Slurm's reason, not its prefixes, from a refusal", () => {
    expect(oneLine('sbatch: error: invalid partition specified: nope\nsbatch: error: Batch job submission failed: Invalid partition name specified\n')).toBe(
      'invalid partition specified: nope',
    );
    expect(oneLine('sbatch: error: Batch job submission failed: Requested node configuration is not available\n')).toBe(
      'Batch job submission failed: Requested node configuration is not available',
    );
  });
});

describe('sbatch options', () => {
  const cfg = {
    ...DEFAULT_SLURM_RUNNER,
    runsDir: '/shared/runs',
    cli: new SlurmCli(),
    queue: new SlurmQueue(new SlurmCli()),
    partition: 'gpu',
    account: 'lab',
    qos: 'high',
    extraArgs: ['--constraint=a100'],
    graceMs: 30_000,
  };
  const spec = { taskId: 7, attempt: 2, input: {}, gpus: [], timeoutMs: 10 * 60_000, agent: { ...agent({ name: 'a' }), dir: '/agents/a' } };

  it('ask Slurm for what the task asked for, with its output in the shared attempt folder', () => {
    const args = sbatchArgs(cfg, { ...spec, preemptible: true, request: { cpu: 1.5, memoryMB: 3000, gpu: { count: 1, vramMB: 6000 } } }, '/shared/runs/7/2');
    expect(args).toEqual([
      '--parsable',
      '--job-name=agentmgr-7-2',
      '--output=/shared/runs/7/2/stdout.raw',
      '--error=/shared/runs/7/2/stderr.raw',
      '--open-mode=append',
      '--chdir=/agents/a',
      '--export=ALL',
      '--nodes=1',
      '--ntasks=1',
      '--cpus-per-task=2',
      '--mem=3000M',
      '--gres=gpu:1',
      // 10 minutes and twice the grace, rounded up; SIGTERM to the agent a grace before Slurm's limit.
      '--time=11',
      '--signal=B:TERM@30',
      '--requeue',
      '--partition=gpu',
      '--account=lab',
      '--qos=high',
      '--constraint=a100',
      '/shared/runs/7/2/job.sh',
    ]);
  });

  it('no GPU, no time limit, no requeue: none asked for (not preemptible)', () => {
    const args = sbatchArgs({ ...cfg, partition: null, account: null, qos: null, extraArgs: [] }, { ...spec, timeoutMs: null }, '/d');
    expect(args.some((a) => a.startsWith('--gres') || a.startsWith('--time') || a.startsWith('--partition'))).toBe(false);
    expect(args).toContain('--no-requeue');
    expect(jobIdOf(slurmIdentity('123_4'))).toBe('123_4');
    expect(jobIdOf('98765')).toBeNull();
  });
});
