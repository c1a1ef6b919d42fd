import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ApiClient } from '../../src-main/cli/client.js';
import type { HeadlessManager } from '../../src-main/headless.js';
import { tempDir } from '../helpers/fakes.js';
import { FAKE_NVIDIA_SMI, startTestServer, writeSmi } from '../helpers/server.js';

/**
 * The whole Manager, with its default reading window, against the fake nvidia-smi's two loops:
 * an RTX 4060 whose desktop holds 1.5 GB (graphics, so in the GPU-wide reading only).
 */
const t = tempDir();
const smi = join(t.dir, 'smi');
const UUID = 'GPU-7a0c2e11-4d5f-4b8e-9c6a-1f2e3d4c5b6a';
const gpu = (used: number) => `0, ${UUID}, NVIDIA GeForce RTX 4060, 8188, ${used}, ${8188 - used}, 12, 51, 35.10, 115.00\n`;
let m: HeadlessManager;
let api: ApiClient;
let close: () => void;

const until = async (cond: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

beforeAll(async () => {
  mkdirSync(smi, { recursive: true });
  writeSmi(smi, 'gpus.csv', gpu(1500));
  writeSmi(smi, 'apps.csv', '');
  process.env.FAKE_NVIDIA_SMI_DIR = smi;
  m = await startTestServer(join(t.dir, 'data'), {
    AGENTMGR_NVIDIA_SMI: FAKE_NVIDIA_SMI,
    AGENTMGR_TELEMETRY_MS: '200',
    AGENTMGR_VRAM_MARGIN_MB: '256',
    AGENTMGR_MAX_CONCURRENCY: '4',
  });
  ({ api, close } = createClient({ url: m.server.url, token: m.token }));
});
afterAll(async () => {
  close();
  await m.stop({ stopAgents: true });
  t.cleanup();
});

describe('the two nvidia-smi readings, reconciled', () => {
  it('two 2.5 GB tasks on an 8 GB card with 1.5 GB used by the desktop run together from the start', async () => {
    await until(async () => (await api.resources.query()).gpus[0]?.foreignMB === 1500, 'the desktop in the first GPU sample');
    const a = await api.tasks.submit.mutate({ agent: 'demo', input: { seconds: 600, vramMB: 2500 } });
    await until(async () => (await api.tasks.get.query({ id: a.id })).attemptList[0]?.pid != null, 'the first task to start');
    const pid = (await api.tasks.get.query({ id: a.id })).attemptList[0]!.pid!;
    // Its model loads: both loops now show it, a little above what it reserved (so the account
    // shows when its own reading has been taken in).
    writeSmi(smi, 'apps.csv', `${UUID}, ${pid}, python, 2600\n`);
    writeSmi(smi, 'gpus.csv', gpu(1500 + 2600));
    // Once its own reading is in, the desktop is counted as 1.5 GB again, not 4.1 (for a moment
    // it may be: a GPU-wide sample taken before the per-process one showed the task).
    await until(async () => {
      const g = (await api.resources.query()).gpus[0];
      return g?.oursMB === 2600 && g.foreignMB === 1500;
    }, 'its own reading, and the desktop at 1.5 GB');
    expect((await api.resources.query()).gpus[0]).toMatchObject({ foreignMB: 1500, oursMB: 2600, freeMB: 8188 - 1500 - 2600 - 256 });
    // The second starts now, not once the first has run for a while (the old 20 s settle window).
    const b = await api.tasks.submit.mutate({ agent: 'demo', input: { seconds: 600, vramMB: 2500 } });
    await until(async () => (await api.tasks.get.query({ id: b.id })).state === 'running', 'the second task to run alongside', 10_000);
    expect((await api.tasks.get.query({ id: a.id })).state).toBe('running');
    expect((await api.queue.status.query()).running).toBe(2);
    await api.tasks.cancel.mutate({ id: a.id });
    await api.tasks.cancel.mutate({ id: b.id });
    await until(async () => (await api.queue.status.query()).running === 0, 'both to be cancelled');
  });
});
