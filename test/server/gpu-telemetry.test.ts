import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ApiClient } from '../../src-main/cli/client.js';
import type { HeadlessManager } from '../../src-main/headless.js';
import { tempDir } from '../helpers/fakes.js';
import { FAKE_NVIDIA_SMI, startTestServer, writeSmi } from '../helpers/server.js';

/** The whole Manager against the fake nvidia-smi in loop mode: one RTX 4060 shared with a game. */
const run = promisify(execFile);
const t = tempDir();
const smi = join(t.dir, 'smi');
const UUID = 'GPU-5f1c2b7a-9d1e-4c33-8e0b-2a6f0c9d1e44';
const gpu = (used: number) => `0, ${UUID}, NVIDIA GeForce RTX 4060, 8188, ${used}, ${8188 - used}, 12, 51, 35.10, 115.00\n`;
let m: HeadlessManager;
let api: ApiClient;
let close: () => void;

const until = async (cond: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** `agentmgr status` against this server, run asynchronously: this very process serves the API. */
const cliStatus = () =>
  run(process.execPath, [join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bin', 'agentmgr.js'), 'status'], {
    env: { ...process.env, AGENTMGR_URL: m.server.url, AGENTMGR_TOKEN: m.token },
    encoding: 'utf8',
    timeout: 20_000,
  });

beforeAll(async () => {
  mkdirSync(smi, { recursive: true });
  writeSmi(smi, 'gpus.csv', gpu(300));
  process.env.FAKE_NVIDIA_SMI_DIR = smi;
  m = await startTestServer(join(t.dir, 'data'), {
    AGENTMGR_NVIDIA_SMI: FAKE_NVIDIA_SMI,
    AGENTMGR_TELEMETRY_MS: '200',
    AGENTMGR_VRAM_MARGIN_MB: '256',
    AGENTMGR_READING_WINDOW_MS: '0',
    AGENTMGR_MAX_CONCURRENCY: '8',
  });
  ({ api, close } = createClient({ url: m.server.url, token: m.token }));
});
afterAll(async () => {
  close();
  await m.stop({ stopAgents: true });
  t.cleanup();
});

describe('GPU telemetry in the Manager', () => {
  it('a foreign process growing to 3 GB while tasks wait makes it start fewer of them; more once it is gone', async () => {
    // The first GPU sample may still be on its way on a loaded machine.
    await until(async () => (await api.health.query()).gpu.state === 'ok', 'the first GPU sample');
    expect((await api.health.query()).gpu).toEqual({ state: 'ok', message: null });
    await api.queue.pause.mutate();
    const { ids } = await api.tasks.submitBatch.mutate(Array.from({ length: 4 }, () => ({ agent: 'demo', input: { seconds: 3, vramMB: 2500 } })));
    for (const used of [1000, 2000, 3000]) {
      writeSmi(smi, 'apps.csv', `${UUID}, 4321, /opt/game/game.exe, ${used}\n`);
      writeSmi(smi, 'gpus.csv', gpu(300 + used));
      await new Promise((r) => setTimeout(r, 250));
    }
    // Both readings (the GPU's and its processes', separate loops) must show the game at 3 GB.
    await until(async () => {
      const g = (await api.resources.query()).gpus[0];
      return g?.foreignMB === 3300 && g.foreignTop.join() === 'game.exe 3000 MB';
    }, 'the game at 3 GB');
    await api.queue.resume.mutate();
    await until(async () => (await api.queue.status.query()).running === 1, 'one task running');
    // Once a cycle has looked at the rest with the first one running, they say why they wait:
    const reason = /needs 2500 MB VRAM on GPU 0, 2132 MB free of 8188 MB/;
    await until(async () => reason.test((await api.tasks.list.query({ state: ['queued'] })).items[0]?.waitingReason ?? ''), 'the others to say why they wait');
    expect((await api.queue.status.query()).running).toBe(1); // 8188 - 3300 - 256 = 4632: one 2500 MB task
    const waiting = (await api.tasks.list.query({ state: ['queued'] })).items[0]!;
    expect(waiting.waitingReason).toMatch(
      /needs 2500 MB VRAM on GPU 0, 2132 MB free of 8188 MB: 3300 MB held by other programs \(game.exe 3000 MB\), 2500 MB by 1 running task, 256 MB safety margin/,
    );
    const res = await api.resources.query();
    expect(res.gpus[0]).toMatchObject({ totalMB: 8188, foreignMB: 3300, oursMB: 2500, foreignTop: ['game.exe 3000 MB'] });

    // `agentmgr status` shows the split. (Asynchronously: this very process serves the API.)
    const status = await cliStatus();
    expect(status.stdout).toMatch(/GPU 0: +NVIDIA GeForce RTX 4060: 2500 MB ours, 3300 MB other programs \(game.exe 3000 MB\), 2132 MB free of 8188 MB/);

    writeSmi(smi, 'apps.csv', '');
    writeSmi(smi, 'gpus.csv', gpu(300));
    await until(async () => (await api.queue.status.query()).running === 3, 'three tasks running'); // 8188 - 300 - 256 = 7632
    await until(async () => (await Promise.all(ids.map((id) => api.tasks.get.query({ id })))).every((x) => x.state === 'succeeded'), 'all to succeed', 20_000);
  });

  it('the GPU given is in CUDA_VISIBLE_DEVICES', async () => {
    const task = await api.tasks.submit.mutate({ agent: 'demo', input: { seconds: 0.1, vramMB: 100 } });
    await until(async () => (await api.tasks.get.query({ id: task.id })).state === 'succeeded', 'the task');
    expect((await api.tasks.get.query({ id: task.id })).result).toMatchObject({ gpu: '0' });
  });

  it('a big task that has waited gets what finishing tasks free kept for it, and status says for whom', async () => {
    await api.settings.update.mutate({ reserveAfterSec: 1 });
    try {
      const demo = (seconds: number, vramMB: number) => ({ agent: 'demo', input: { seconds, vramMB } });
      // The second small task runs until it is cancelled below: on a loaded machine a fixed
      // run time could end before the checks, and the big task would start early.
      const { ids: smalls } = await api.tasks.submitBatch.mutate([demo(3, 3000), demo(600, 3000)]);
      await until(async () => (await api.queue.status.query()).running === 2, 'two small tasks running');
      const big = await api.tasks.submit.mutate(demo(0.5, 6000));
      const late = await api.tasks.submit.mutate(demo(0.5, 3000));
      // A second after its submit (a wake-up timer, not another event), the big one has what is free kept.
      await until(async () => (await api.queue.status.query()).keptFor === big.id, 'the reservation');
      await until(async () => (await api.tasks.get.query({ id: smalls[0]! })).state === 'succeeded', 'the first small task');
      // 3000 MB are free again: enough for the late small task, but they are kept for the big one.
      await until(async () => (await api.queue.status.query()).running === 1, 'the end to be scheduled');
      expect((await api.queue.status.query()).keptFor).toBe(big.id);
      expect((await api.tasks.get.query({ id: late.id })).waitingReason).toMatch(new RegExp(`kept for task ${big.id}`));
      // The same, as data: held back at the fit, short of VRAM that is kept for the big task.
      expect((await api.tasks.get.query({ id: late.id })).scheduling).toMatchObject({
        code: 'wait',
        step: 'resources',
        shortfalls: [{ resource: 'vram', gpu: 0, requested: 3000, heldBy: expect.arrayContaining([expect.objectContaining({ by: 'kept', taskId: big.id })]) }],
      });
      expect((await api.tasks.get.query({ id: big.id })).scheduling).toMatchObject({ code: 'wait', kept: { taskId: big.id, afterMs: 1000 } });
      const status = await cliStatus();
      expect(status.stdout).toContain(`Kept:    what finishing tasks free is kept for task ${big.id}`);
      await api.tasks.cancel.mutate({ id: smalls[1]! });
      await until(async () => (await api.tasks.get.query({ id: late.id })).state === 'succeeded', 'all to end', 20_000);
      const [b, l] = await Promise.all([api.tasks.get.query({ id: big.id }), api.tasks.get.query({ id: late.id })]);
      expect(b.state).toBe('succeeded');
      expect(b.startedAt!.getTime()).toBeLessThan(l.startedAt!.getTime());
      expect((await api.queue.status.query()).keptFor).toBeNull();
    } finally {
      await api.settings.update.mutate({ reserveAfterSec: 60 });
    }
  });

  it('an out-of-memory death is named as such', async () => {
    const task = await api.tasks.submit.mutate({ agent: 'cuda-oom' });
    await until(async () => (await api.tasks.get.query({ id: task.id })).state === 'failed', 'the task to fail');
    const got = await api.tasks.get.query({ id: task.id });
    expect(got.attempts).toBe(2);
    expect(got.attemptList.map((a) => a.reason)).toEqual([
      'out of GPU memory (torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.63 GiB total capacity); exit code 1)',
      'out of GPU memory (torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.63 GiB total capacity); exit code 1)',
    ]);
  });

  it('learns what an agent really uses, and sizes its next tasks from that', async () => {
    const { ids } = await api.tasks.submitBatch.mutate(Array.from({ length: 3 }, () => ({ agent: 'slow', input: { seconds: 0.8 } })));
    await until(async () => (await Promise.all(ids.map((id) => api.tasks.get.query({ id })))).every((x) => x.state === 'succeeded'), 'three runs');
    const slow = (await api.agents.list.query()).agents.find((a) => a.name === 'slow')!;
    expect(slow.resources).toEqual({ cpu: 1, memoryMB: 256 });
    expect(slow.learned).toMatchObject({ samples: 3, p95: { memoryMB: expect.any(Number) } });
    expect(slow.learned!.p95.memoryMB!).toBeGreaterThan(0);
    expect(slow.learned!.request.memoryMB).toBeLessThan(256); // a shell script uses far less than declared
    const next = await api.tasks.submit.mutate({ agent: 'slow', input: { seconds: 0.1 } });
    expect(next.resources).toEqual(slow.learned!.request);
  });

  it('keeps a history for the charts and streams live samples', async () => {
    const hist = await api.telemetry.history.query({ range: '15m' });
    expect(hist.length).toBeGreaterThan(3);
    expect(hist.at(-1)!.gpus[0]).toMatchObject({ index: 0, totalMB: 8188 });
    expect((await api.telemetry.history.query({ range: '24h' })).length).toBeGreaterThan(0);
    const sample = await new Promise<{ at: number }>((resolve, reject) => {
      const sub = api.telemetry.live.subscribe(undefined, {
        onData: (s) => {
          sub.unsubscribe();
          resolve(s);
        },
        onError: reject,
      });
    });
    expect(sample.at).toBeGreaterThan(Date.now() - 5000);
  });

  it('survives nvidia-smi failing mid-stream, says so in health, and recovers', async () => {
    writeSmi(smi, 'fail', 'Unable to determine the device handle for GPU 0000:01:00.0: Unknown Error\n');
    await until(async () => (await api.health.query()).gpu.state === 'error', 'the error in health');
    expect((await api.health.query()).gpu.message).toMatch(/Unknown Error/);
    const t2 = await api.tasks.submit.mutate({ agent: 'demo', input: { seconds: 0.1, vramMB: 100 } });
    await until(async () => /no GPU is visible: nvidia-smi/.test((await api.tasks.get.query({ id: t2.id })).waitingReason ?? ''), 'the reason it waits');
    expect((await api.tasks.get.query({ id: t2.id })).state).toBe('queued');
    rmSync(join(smi, 'fail'));
    await until(async () => (await api.health.query()).gpu.state === 'ok', 'recovery', 15_000);
    await until(async () => (await api.tasks.get.query({ id: t2.id })).state === 'succeeded', 'the waiting task to run');
    expect((await api.health.query()).gpuCollectorRestarts).toBeGreaterThan(0);
  });

  it("a model server that an agent started in a session of its own (setsid) is the agent's: its VRAM counts as ours, and it stops with the task", async () => {
    writeSmi(smi, 'apps.csv', '');
    writeSmi(smi, 'gpus.csv', gpu(300));
    const task = await api.tasks.submit.mutate({ agent: 'escaper' });
    let daemon = 0;
    await until(async () => {
      const m = /escaped (\d+)/.exec((await api.tasks.logs.query({ id: task.id })).text);
      daemon = m ? Number(m[1]) : 0;
      return daemon > 0;
    }, 'the daemon to start');
    writeSmi(smi, 'gpus.csv', gpu(2300));
    writeSmi(smi, 'apps.csv', `${UUID}, ${daemon}, /usr/bin/python3, 2000\n`);
    // The two queries are separate loops: wait until both readings show the daemon.
    await until(async () => {
      const g = (await api.resources.query()).gpus[0];
      return g?.oursMB === 2000 && g.foreignMB === 300;
    }, "its 2000 MB counted as ours, the desktop's 300 MB as other programs'");
    const res = await api.resources.query();
    expect(res.gpus[0]).toMatchObject({ foreignMB: 300, oursMB: 2000, foreignTop: [] });
    expect((await api.tasks.logs.query({ id: task.id })).text).toContain(`process ${daemon} left the agent's process group`);
    await api.tasks.cancel.mutate({ id: task.id });
    await until(async () => (await api.tasks.get.query({ id: task.id })).state === 'cancelled', 'the cancel');
    await until(async () => {
      try {
        return readFileSync(`/proc/${daemon}/stat`, 'utf8').split(') ')[1]!.startsWith('Z');
      } catch {
        return true;
      }
    }, 'the daemon to be gone');
    writeSmi(smi, 'apps.csv', '');
    writeSmi(smi, 'gpus.csv', gpu(300));
  });

  it('the history survives a restart of the Manager', async () => {
    const before = await api.telemetry.history.query({ range: '15m' });
    const minutes = await api.telemetry.history.query({ range: '24h' });
    close();
    await m.stop({ stopAgents: true });
    m = await startTestServer(join(t.dir, 'data'), { AGENTMGR_NVIDIA_SMI: FAKE_NVIDIA_SMI, AGENTMGR_TELEMETRY_MS: '200' });
    ({ api, close } = createClient({ url: m.server.url, token: m.token }));
    const after = await api.telemetry.history.query({ range: '15m' });
    const at = new Set(after.map((p) => p.at));
    expect(before.length).toBeGreaterThan(3);
    for (const p of before) expect(at.has(p.at)).toBe(true);
    expect(after.find((p) => p.at === before[0]!.at)).toEqual(before[0]);
    expect((await api.telemetry.history.query({ range: '24h' })).map((p) => p.at)).toEqual(expect.arrayContaining(minutes.map((p) => p.at)));
  });
});
