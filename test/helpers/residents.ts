import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { createClient, type ApiClient } from '../../src-main/cli/client.js';
import type { HeadlessManager } from '../../src-main/headless.js';
import { tempDir } from './fakes.js';
import { FAKE_NVIDIA_SMI, startTestServer } from './server.js';

/** The fake Ollama / ComfyUI / llama-server (their documented HTTP APIs; see the file). */
export const FAKE_RESIDENT = join(__dirname, '..', 'fixtures', 'residents', 'fake-resident.mjs');

export const until = async <T>(get: () => Promise<T>, ok: (v: T) => boolean, what: string, ms = 20_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v).slice(0, 600)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

export type ResidentKindUnderTest = 'ollama' | 'comfyui';

/**
 * A whole Manager (headless, real HTTP) beside a fake resident whose own pid holds its models'
 * VRAM in the fake nvidia-smi: an 8 GB card with 400 MB of desktop. Everything started is
 * stopped after each test.
 */
export function residentHarness() {
  const t = tempDir();
  let n = 0;
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  afterAll(() => t.cleanup());

  async function fakeResident(
    kind: ResidentKindUnderTest,
    smi: string,
    models: string,
    args: string[],
  ): Promise<{ url: string; pid: number; proc: ChildProcess }> {
    const proc = spawn(process.execPath, [FAKE_RESIDENT, kind, '--smi-dir', smi, '--models', models, '--unload-delay-ms', '500', ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(() => {
      proc.kill('SIGKILL');
    });
    const line = await new Promise<string>((resolve, reject) => {
      proc.stdout!.once('data', (d: Buffer) => resolve(d.toString()));
      proc.once('exit', (c) => reject(new Error(`the fake ${kind} exited (${c})`)));
    });
    const { port, pid } = JSON.parse(line) as { port: number; pid: number };
    return { url: `http://127.0.0.1:${port}`, pid, proc };
  }

  async function setup(kind: ResidentKindUnderTest, models: string, env: Record<string, string> = {}, fakeArgs: string[] = []) {
    const dir = join(t.dir, String(++n));
    const smi = join(dir, 'smi');
    mkdirSync(smi, { recursive: true });
    const fake = await fakeResident(kind, smi, models, fakeArgs);
    // The fake nvidia-smi is spawned by this process's Manager: it reads its folder from here.
    process.env.FAKE_NVIDIA_SMI_DIR = smi;
    const m: HeadlessManager = await startTestServer(join(dir, 'data'), {
      AGENTMGR_NVIDIA_SMI: FAKE_NVIDIA_SMI,
      AGENTMGR_TELEMETRY_MS: '200',
      AGENTMGR_VRAM_MARGIN_MB: '256',
      AGENTMGR_RESIDENT_POLL_MS: '150',
      [`AGENTMGR_${kind.toUpperCase()}_URL`]: fake.url,
      ...env,
    });
    const { api, close }: { api: ApiClient; close: () => void } = createClient({ url: m.server.url, token: m.token });
    cleanups.push(async () => {
      close();
      await m.stop({ stopAgents: true });
    });
    const calls = async (): Promise<unknown[]> => (await fetch(`${fake.url}/_fake/calls`)).json() as Promise<unknown[]>;
    const busy = async (b: boolean) => fetch(`${fake.url}/_fake/busy`, { method: 'POST', body: JSON.stringify({ busy: b }) });
    return { api, fake, calls, busy, m, dir };
  }

  return { setup, cleanups };
}
