import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { readProcStat } from '../../src-main/adapters/process/proc-stat.js';
import { createClient, type ApiClient } from '../../src-main/cli/client.js';
import type { HeadlessManager } from '../../src-main/headless.js';
import { tempDir } from '../helpers/fakes.js';
import { startTestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

/** The whole Manager with its spawner (ADR 22): agents are its children, and they outlive it. */
const BIN = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bin', 'agentmgr.js');
let m: HeadlessManager | null = null;
let close: () => void = () => {};
const t = tempDir();
afterEach(async () => {
  close();
  await m?.stop({ stopAgents: true });
  m = null;
});

async function start(env: NodeJS.ProcessEnv = {}): Promise<ApiClient> {
  m = await startTestServer(join(t.dir, `data-${Date.now()}`), env);
  const c = createClient({ url: m.server.url, token: m.token });
  close = c.close;
  return c.api;
}
const status = async (): Promise<string> =>
  (
    await promisify(execFile)(process.execPath, [BIN, 'status'], {
      env: { ...process.env, AGENTMGR_URL: m!.server.url, AGENTMGR_TOKEN: m!.token },
      encoding: 'utf8',
    })
  ).stdout;

describe('the Manager starts agents through its spawner', { timeout: 60_000 }, () => {
  it("agents are the spawner's children; killed mid-run, it is restarted and the running task still ends as it should", async () => {
    const api = await start();
    // It starts beside the Manager (agents are forked here until it is ready).
    await waitFor(async () => (await api.health.query()).spawner?.mode === 'spawner', 'the spawner to be ready', 30_000, 50);
    const h = await api.health.query();
    expect(h.spawner).toMatchObject({ mode: 'spawner', restarts: 0, problem: null });
    const spawnerPid = h.spawner!.pid!;
    expect(readProcStat(spawnerPid)!.ppid).toBe(process.pid);
    const gate = join(t.dir, 'gate');
    const task = await api.tasks.submit.mutate({ agent: 'slow', input: { untilFile: gate } });
    await waitFor(async () => (await api.tasks.get.query({ id: task.id })).state === 'running', 'the task to run', 30_000, 50);
    const attempt = (await api.tasks.get.query({ id: task.id })).attemptList[0]!;
    expect(attempt.pid).not.toBeNull();
    expect(readProcStat(attempt.pid!)!.ppid).toBe(spawnerPid);
    process.kill(spawnerPid, 'SIGKILL');
    await waitFor(
      async () => (await api.health.query()).spawner?.restarts === 1 && (await api.health.query()).spawner?.mode === 'spawner',
      'the spawner back',
      30_000,
      50,
    );
    expect((await api.health.query()).spawner!.pid).not.toBe(spawnerPid);
    writeFileSync(gate, '');
    await waitFor(async () => (await api.tasks.get.query({ id: task.id })).state === 'succeeded', 'the task to succeed', 30_000, 50);
    expect((await api.tasks.logs.query({ id: task.id })).text).toContain('the spawner died; the agent runs on');
    // All is well again: status says nothing of it.
    expect(await status()).not.toContain('Spawner:');
    const next = await api.tasks.submit.mutate({ agent: 'ok' });
    await waitFor(async () => (await api.tasks.get.query({ id: next.id })).state === 'succeeded', 'a task through the new spawner', 30_000, 50);
  });

  it('a spawner that cannot start: the Manager starts agents itself, and health and status say why', async () => {
    const api = await start({ AGENTMGR_SPAWNER_COMMAND: JSON.stringify(['/nonexistent/spawner']) });
    expect((await api.health.query()).spawner).toMatchObject({
      mode: 'direct',
      problem: expect.stringMatching(/\/nonexistent\/spawner is missing or not executable/),
    });
    expect(await status()).toMatch(
      /Spawner: not in use; agents are started by the Manager itself \(the spawner's program \/nonexistent\/spawner is missing or not executable\)/,
    );
    const task = await api.tasks.submit.mutate({ agent: 'ok' });
    await waitFor(async () => (await api.tasks.get.query({ id: task.id })).state === 'succeeded', 'the task to succeed', 30_000, 50);
  });
});
