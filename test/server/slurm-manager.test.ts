import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ApiClient } from '../../src-main/cli/client.js';
import type { HeadlessManager } from '../../src-main/headless.js';
import { tempDir } from '../helpers/fakes.js';
import { FAKE_NVIDIA_SMI, startTestServer, writeSmi } from '../helpers/server.js';
import { cancelJobs, devSlurm, SLURM_CONF_PATH, slurmDev, slurmSync } from '../helpers/slurm.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The whole Manager with the dev Slurm cluster (scripts/slurm-dev.sh) as its second backend, and
 * the fake nvidia-smi as one 8 GB card here: where tasks go, how they are shown, and that remote
 * jobs survive a Manager restart.
 */
const up = devSlurm();
const t = tempDir();
const smi = join(t.dir, 'smi');
const data = join(t.dir, 'data');
const shared = join(t.dir, 'shared');
const UUID = 'GPU-5f1c2b7a-9d1e-4c33-8e0b-2a6f0c9d1e44';
let m: HeadlessManager;
let api: ApiClient;
let close: () => void = () => {};

async function start(): Promise<void> {
  m = await startTestServer(data, {
    AGENTMGR_NVIDIA_SMI: FAKE_NVIDIA_SMI,
    AGENTMGR_TELEMETRY_MS: '200',
    AGENTMGR_READING_WINDOW_MS: '0',
    AGENTMGR_MAX_CONCURRENCY: '8',
    AGENTMGR_SLURM_AUTO_EVERY_MS: '300',
  });
  ({ api, close } = createClient({ url: m.server.url, token: m.token }));
}
async function restart(): Promise<void> {
  close();
  await m.stop();
  await start();
}
/** `agentmgr ARGS` against this server, run asynchronously: this very process serves the API. */
const cli = async (...args: string[]): Promise<string> =>
  (
    await promisify(execFile)(process.execPath, [join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bin', 'agentmgr.js'), ...args], {
      env: { ...process.env, AGENTMGR_URL: m.server.url, AGENTMGR_TOKEN: m.token },
      encoding: 'utf8',
      timeout: 20_000,
    })
  ).stdout;
const cliStatus = (): Promise<string> => cli('status');
const state = async (id: number) => (await api.tasks.get.query({ id })).state;
const ended = (id: number, what: string) =>
  waitFor(async () => ['succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted'].includes(await state(id)), what, 120_000, 200);

beforeAll(async () => {
  if (!up) return;
  mkdirSync(smi, { recursive: true });
  mkdirSync(shared, { recursive: true });
  writeSmi(smi, 'gpus.csv', `0, ${UUID}, NVIDIA GeForce RTX 4060, 8188, 300, 7888, 3, 40, 20.00, 115.00\n`);
  writeSmi(smi, 'apps.csv', '');
  process.env.FAKE_NVIDIA_SMI_DIR = smi;
  process.env.SLURM_CONF = SLURM_CONF_PATH;
  await start();
});
afterAll(async () => {
  close();
  await m?.stop({ stopAgents: true });
  if (up) cancelJobs('agentmgr-');
  t.cleanup();
});

describe.skipIf(!up)('the Manager with a Slurm cluster', { timeout: 240_000 }, () => {
  it('backend slurm is refused at submit while no cluster is set up, saying what to set; nothing is stored', async () => {
    const before = (await api.tasks.list.query({})).items.length;
    await expect(api.tasks.submit.mutate({ agent: 'ok', backend: 'slurm' })).rejects.toThrow(/none is set up: set slurmEnabled=true and slurmSharedDir=/);
    // auto with a task this machine can never run: refused, saying a cluster would take it.
    await expect(api.tasks.submit.mutate({ agent: 'ok', backend: 'auto', resources: { gpu: { count: 1, vramMB: 12_000 } } })).rejects.toThrow(
      /can never run on this machine.*backend auto it would be sent to the Slurm cluster/,
    );
    expect((await api.tasks.list.query({})).items.length).toBe(before);
  });

  it('once set up, a task runs there with progress, result and artifact, more CPUs than this machine has, shown with its job', async () => {
    await api.settings.update.mutate({ slurmEnabled: true, slurmSharedDir: shared });
    await restart();
    const s = await api.settings.get.query();
    expect(s).toMatchObject({ slurmEnabled: true, slurmSharedDir: shared });
    // 8 CPUs: more than this machine's, so it could never run here; the cluster's node has 16.
    const task = await api.tasks.submit.mutate({ agent: 'ok', backend: 'slurm', input: { n: 7 }, resources: { cpu: 8, memoryMB: 200 } });
    expect(task.backend).toBe('slurm');
    await ended(task.id, 'the Slurm task to end');
    const d = await api.tasks.get.query({ id: task.id });
    expect(d).toMatchObject({ state: 'succeeded', backend: 'slurm', result: { ok: true }, progress: 1 });
    expect(d.slurmJob).toMatch(/^\d+$/);
    // Where Slurm ran it, as it last said: in show, and in the list's note.
    expect(d.runsOn).toMatch(/^partition debug, node \S+$/);
    expect(await cli('show', String(task.id))).toMatch(new RegExp(`runs on: +the Slurm cluster, job ${d.slurmJob} \\(partition debug, node \\S+\\)`));
    expect(await cli('list', '--format', 'id,note')).toMatch(new RegExp(`${task.id} +\\[slurm ${d.slurmJob}, partition debug, node \\S+\\]`));
    expect(slurmSync('scontrol', ['show', 'job', '-o', d.slurmJob!])).toMatch(/NumCPUs=8 /);
    expect(d.artifacts).toEqual([expect.objectContaining({ name: 'greeting', sizeBytes: 6 })]);
    // Its log and artifact are read from the shared folder, where the job wrote them.
    const log = (await api.tasks.logs.query({ id: task.id })).text;
    expect(log).toContain(`submitted to Slurm as job ${d.slurmJob}`);
    expect(log).toContain('input: {"n":7}');
    expect(await api.artifacts.preview.query({ id: task.id, index: 0 })).toMatchObject({ kind: 'text', text: 'hello\n' });
  });

  it('auto sends what can never fit the 8 GB card to Slurm, and keeps what fits here', async () => {
    const big = await api.tasks.submit.mutate({ agent: 'ok', backend: 'auto', resources: { gpu: { count: 1, vramMB: 12_000 } } });
    const small = await api.tasks.submit.mutate({ agent: 'ok', backend: 'auto', resources: { gpu: { count: 1, vramMB: 2000 } } });
    expect(big.backend).toBe('slurm');
    expect(small.backend).toBe('local');
    await ended(big.id, 'the big one');
    await ended(small.id, 'the small one');
    expect(await api.tasks.get.query({ id: big.id })).toMatchObject({ state: 'succeeded', slurmJob: expect.stringMatching(/^\d+$/) });
    expect(await api.tasks.get.query({ id: small.id })).toMatchObject({ state: 'succeeded', slurmJob: null });
  });

  it('auto also sends a task that would wait long here, once sinfo says the cluster has room; with why, in show', async () => {
    // One task at a time here, so the next waits for the first (about 5 min by the estimate: the
    // agent has no history). Not a GPU: other test files' jobs may hold the cluster's one GPU.
    await api.settings.update.mutate({ slurmAutoAfterSec: 60, maxConcurrency: 1 });
    expect((await api.settings.get.query()).slurmAutoAfterSec).toBe(60);
    const gate = join(shared, 'gate-auto');
    const small = { cpu: 0.1, memoryMB: 50 };
    try {
      const here = await api.tasks.submit.mutate({ agent: 'slow', input: { untilFile: gate }, resources: small });
      await waitFor(async () => (await state(here.id)) === 'running', 'the first to run here', 30_000, 100);
      const waiting = await api.tasks.submit.mutate({ agent: 'slow', backend: 'auto', input: { untilFile: gate }, resources: small });
      expect(waiting.backend).toBe('local');
      await waitFor(async () => (await api.tasks.get.query({ id: waiting.id })).backend === 'slurm', 'the waiting auto task to be sent to Slurm', 90_000, 200);
      await waitFor(async () => (await state(waiting.id)) === 'running', 'it to run there', 90_000, 200);
      const d = await api.tasks.get.query({ id: waiting.id });
      expect(d.offloaded).toMatch(
        /^sent to the Slurm cluster \(backend auto\): its start here was about \d+ (s|min) away, over slurmAutoAfterSec \(60 s\), and node \S+ had room for it$/,
      );
      expect(await cli('show', String(waiting.id))).toContain(d.offloaded!);
      writeFileSync(gate, '');
      await ended(here.id, 'the local one');
      await ended(waiting.id, 'the sent one');
      expect(await api.tasks.get.query({ id: waiting.id })).toMatchObject({ state: 'succeeded', slurmJob: expect.stringMatching(/^\d+$/) });
      expect(await api.tasks.get.query({ id: here.id })).toMatchObject({ state: 'succeeded', backend: 'local', offloaded: null });
    } finally {
      writeFileSync(gate, '');
      await api.settings.update.mutate({ slurmAutoAfterSec: null, maxConcurrency: 8 });
    }
  });

  it('an exit code of 3 is a failure with exit code 3; cancel stops the job', async () => {
    const failing = await api.tasks.submit.mutate({ agent: 'fail', backend: 'slurm', maxAttempts: 1 });
    await ended(failing.id, 'the failure');
    const f = await api.tasks.get.query({ id: failing.id });
    expect(f.state).toBe('failed');
    expect(f.attemptList[0]).toMatchObject({ outcome: 'failed', exitCode: 3 });
    const hang = await api.tasks.submit.mutate({ agent: 'hang', backend: 'slurm' });
    await waitFor(async () => (await api.tasks.get.query({ id: hang.id })).state === 'running', 'the job to run', 60_000, 200);
    await api.tasks.cancel.mutate({ id: hang.id });
    await ended(hang.id, 'the cancel');
    expect(await state(hang.id)).toBe('cancelled');
  });

  it("a job Slurm refuses fails with Slurm's own message, and nothing else is lost", async () => {
    // The node has one GPU: five can never be given.
    const task = await api.tasks.submit.mutate({ agent: 'ok', backend: 'slurm', maxAttempts: 1, resources: { gpu: { count: 5, vramMB: 1000 } } });
    await ended(task.id, 'the refusal');
    const d = await api.tasks.get.query({ id: task.id });
    expect(d.state).toBe('failed');
    expect(d.error).toMatch(/Slurm refused the job: Batch job submission failed: Requested node configuration is not available/);
    expect(d.slurmJob).toBeNull();
  });

  it('a chain of two Slurm tasks: the second is sent once the first succeeded', async () => {
    const gate = join(t.dir, 'gate');
    const first = await api.tasks.submit.mutate({ agent: 'slow', backend: 'slurm', input: { untilFile: gate } });
    const second = await api.tasks.submit.mutate({ agent: 'ok', backend: 'slurm', dependsOn: [{ type: 'afterok', ids: [first.id] }] });
    await waitFor(async () => (await state(first.id)) === 'running', 'the first to run', 60_000, 200);
    expect((await api.tasks.get.query({ id: second.id })).slurmJob).toBeNull();
    writeFileSync(gate, '');
    await ended(second.id, 'the second');
    expect(await state(first.id)).toBe('succeeded');
    expect(await api.tasks.get.query({ id: second.id })).toMatchObject({ state: 'succeeded', slurmJob: expect.stringMatching(/^\d+$/) });
  });

  it('an array with a throttle: at most that many of its jobs are in Slurm at once, and all of it runs', async () => {
    const gate = join(t.dir, 'gate-array');
    const made = await api.tasks.submitBatch.mutate([{ agent: 'slow', backend: 'slurm', array: '0-3%2', input: { untilFile: gate } }]);
    expect(made.count).toBe(4);
    const sent = async () => (await api.tasks.getMany.query({ ids: made.ids })).filter((v) => v.slurmJob !== null).length;
    await waitFor(async () => (await sent()) === 2, 'two of them sent', 60_000, 200);
    // Held at two while those run: the cluster could take all four at once.
    const inSlurm = () =>
      slurmSync('squeue', ['-h', '-o', '%j'])
        .split('\n')
        .filter((n) => made.ids.some((id) => n === `agentmgr-${id}-1`)).length;
    expect(inSlurm()).toBe(2);
    writeFileSync(gate, '');
    for (const id of made.ids) await ended(id, `array task ${id}`);
    const views = await api.tasks.getMany.query({ ids: made.ids });
    expect(views.map((v) => v.state)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(views.every((v) => v.slurmJob !== null)).toBe(true);
  });

  it('a Manager restart while a remote job runs: the job is found again by its id and finishes', async () => {
    const gate = join(t.dir, 'gate-restart');
    const task = await api.tasks.submit.mutate({ agent: 'slow', backend: 'slurm', input: { untilFile: gate } });
    await waitFor(async () => (await api.tasks.get.query({ id: task.id })).state === 'running', 'the job to run', 60_000, 200);
    const job = (await api.tasks.get.query({ id: task.id })).slurmJob;
    close();
    await m.stop();
    writeFileSync(gate, '');
    await start();
    await ended(task.id, 'the re-adopted job');
    const d = await api.tasks.get.query({ id: task.id });
    expect(d).toMatchObject({ state: 'succeeded', slurmJob: job, attempts: 1 });
    expect((await api.tasks.logs.query({ id: task.id })).text).toContain(`re-adopted Slurm job ${job}`);
  });

  it('a dead slurmctld: status says so, the remote task waits, nothing is lost, and it finishes once Slurm is back', async () => {
    const gate = join(t.dir, 'gate-down');
    const task = await api.tasks.submit.mutate({ agent: 'slow', backend: 'slurm', input: { untilFile: gate } });
    await waitFor(async () => (await api.tasks.get.query({ id: task.id })).state === 'running', 'the job to run', 60_000, 200);
    expect((await api.health.query()).slurm).toMatchObject({ reachable: true, watched: 1 });
    const pidFile = join(process.env.AGENTMGR_SLURM_DIR ?? '/tmp/agentmgr-slurm', 'slurmctld.pid');
    process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGTERM');
    try {
      await waitFor(async () => (await api.health.query()).slurm?.reachable === false, 'the controller to be seen as down', 60_000, 200);
      expect(await cliStatus()).toMatch(/Slurm: +the controller does NOT answer since .*its tasks wait, nothing is lost/);
      writeFileSync(gate, '');
      expect(await state(task.id)).toBe('running');
    } finally {
      slurmDev('start');
    }
    await ended(task.id, 'the task once Slurm is back');
    expect(await api.tasks.get.query({ id: task.id })).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(await cliStatus()).toMatch(/Slurm: +the controller answers/);
  });
});
