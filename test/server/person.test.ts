import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ApiClient } from '../../src-main/cli/client.js';
import type { HeadlessManager } from '../../src-main/headless.js';
import { tempDir } from '../helpers/fakes.js';
import { until } from '../helpers/residents.js';
import { FAKE_NVIDIA_SMI, startTestServer, writeSmi } from '../helpers/server.js';

/**
 * Yielding to the person, through the whole Manager: game mode sees a real process called
 * steam_app_1091500 in /proc (a copy of sleep), focus mode is set from the CLI; an 8 GB card.
 */
const run = promisify(execFile);
const t = tempDir();
const smi = join(t.dir, 'smi');
const UUID = 'GPU-5f1c2b7a-9d1e-4c33-8e0b-2a6f0c9d1e44';
const GAME = join(t.dir, 'steam_app_1091500');
let m: HeadlessManager;
let api: ApiClient;
let close: () => void;
const games: ChildProcess[] = [];

const cli = async (args: string[]) => {
  try {
    const r = await run(process.execPath, [join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bin', 'agentmgr.js'), ...args], {
      env: { ...process.env, AGENTMGR_URL: m.server.url, AGENTMGR_TOKEN: m.token },
      encoding: 'utf8',
      timeout: 20_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
};
const startGame = (): ChildProcess => {
  const g = spawn(GAME, ['600'], { stdio: 'ignore' });
  games.push(g);
  return g;
};
const gpu = (vramMB: number) => ({ cpu: 0.1, memoryMB: 32, gpu: { count: 1, vramMB } });
const state = async (id: number) => (await api.tasks.get.query({ id })).state;

beforeAll(async () => {
  mkdirSync(smi, { recursive: true });
  copyFileSync('/bin/sleep', GAME);
  chmodSync(GAME, 0o755);
  writeSmi(smi, 'gpus.csv', `0, ${UUID}, NVIDIA GeForce RTX 4060, 8188, 400, 7788, 3, 45, 20.00, 115.00\n`);
  process.env.FAKE_NVIDIA_SMI_DIR = smi;
  m = await startTestServer(join(t.dir, 'data'), {
    AGENTMGR_NVIDIA_SMI: FAKE_NVIDIA_SMI,
    AGENTMGR_TELEMETRY_MS: '200',
    AGENTMGR_READING_WINDOW_MS: '0',
    AGENTMGR_MAX_CONCURRENCY: '8',
    AGENTMGR_GAME_WATCH_MS: '100',
  });
  ({ api, close } = createClient({ url: m.server.url, token: m.token }));
  await api.settings.update.mutate({ gameModePrograms: 'steam_app_*', gameModeExitSec: 1 });
});
afterEach(async () => {
  for (const g of games.splice(0)) g.kill('SIGKILL');
  await api.queue.focus.mutate({ on: false });
  await api.settings.update.mutate({ gameModeFreeVram: false });
  await until(
    () => api.queue.status.query(),
    (q) => q.yielding === null,
    'nothing to hold GPU work',
  );
});
afterAll(async () => {
  close();
  await m.stop({ stopAgents: true });
  t.cleanup();
});

describe('game mode and focus mode: the GPU left to the person', () => {
  it('a game from the list holds low-priority GPU work, saying so; CPU tasks and urgent ones go on; it ends a while after the game exits', async () => {
    const game = startGame();
    const q = await until(
      () => api.queue.status.query(),
      (x) => x.yielding?.by === 'game',
      'game mode',
    );
    expect(q.yielding).toMatchObject({ by: 'game', program: 'steam_app_1091500', until: null });
    const low = await api.tasks.submit.mutate({ agent: 'ok', resources: gpu(1000) });
    const cpu = await api.tasks.submit.mutate({ agent: 'ok', resources: { cpu: 0.1, memoryMB: 32 } });
    const urgent = await api.tasks.submit.mutate({ agent: 'ok', priority: 10, resources: gpu(1000) });
    for (const id of [cpu.id, urgent.id])
      await until(
        () => state(id),
        (s) => s === 'succeeded',
        `task ${id} to run during game mode`,
      );
    const held = await api.tasks.get.query({ id: low.id });
    expect(held.state).toBe('queued');
    expect(held.waitingReason).toBe('held: game mode — steam_app_1091500 is running (GPU tasks below priority 10 wait)');
    expect((await cli(['status'])).stdout).toMatch(/^Held: {4}game mode — steam_app_1091500 is running/m);
    game.kill('SIGKILL');
    await until(
      () => api.queue.status.query(),
      (x) => x.yielding === null,
      'game mode to end after the game exits',
    );
    await until(
      () => state(low.id),
      (s) => s === 'succeeded',
      'the held task to run',
    );
  });

  it('with gameModeFreeVram, a game starting queues preemptible GPU work again (nothing lost) and it runs once the game is over', async () => {
    await api.settings.update.mutate({ gameModeFreeVram: true });
    const batch = await api.tasks.submit.mutate({ agent: 'slow', input: { seconds: 600 }, preemptible: true, resources: gpu(2000) });
    await until(
      () => state(batch.id),
      (s) => s === 'running',
      'the batch task to run',
    );
    const game = startGame();
    const requeued = await until(
      () => api.tasks.get.query({ id: batch.id }),
      // Its waiting reason is written by the scheduling cycle after the requeue.
      (x) => x.state === 'queued' && x.attemptList.length === 1 && x.waitingReason !== null,
      'the batch task to be queued again, saying why it waits',
    );
    expect(requeued.attemptList[0]).toMatchObject({ outcome: 'preempted', reason: expect.stringMatching(/to free the GPU for game mode/) });
    expect(requeued.waitingReason).toMatch(/^held: game mode — steam_app_1091500/);
    game.kill('SIGKILL');
    await until(
      () => api.tasks.get.query({ id: batch.id }),
      (x) => x.state === 'running' && x.attempts === 2,
      'the batch task to run again',
    );
    await api.tasks.cancel.mutate({ id: batch.id });
  });

  it('focus mode from the CLI: on for a while, shown in status and the reasons, off again; bad input says what to type', async () => {
    const on = await cli(['focus', 'for', '1h30m']);
    expect(on.code).toBe(0);
    expect(on.stdout).toMatch(/^focus mode on: focus mode until \d{4}-\d\d-\d\dT[\d:.]+Z \(GPU tasks below priority 10 wait; agentmgr focus off ends it\)$/m);
    const q = await api.queue.status.query();
    expect(q.yielding?.by).toBe('focus');
    expect(q.yielding!.until! - Date.now()).toBeGreaterThan(89 * 60_000);
    const task = await api.tasks.submit.mutate({ agent: 'ok', resources: gpu(1000) });
    const held = await until(
      () => api.tasks.get.query({ id: task.id }),
      (x) => /^held: focus mode until/.test(x.waitingReason ?? ''),
      'the reason to name focus mode',
    );
    expect(held.state).toBe('queued');
    expect((await cli(['focus'])).stdout).toMatch(/^held: focus mode until/m);
    const off = await cli(['focus', 'off']);
    expect(off.stdout.trim()).toBe('focus mode off: GPU tasks start as they fit');
    await until(
      () => state(task.id),
      (s) => s === 'succeeded',
      'the task to run once focus mode is off',
    );
    const bad = await cli(['focus', 'for', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/focus for soon: not a duration; say `agentmgr focus on`, `agentmgr focus off`, or `agentmgr focus for 1h`/);
    expect((await cli(['focus', 'for', '30d'])).stderr).toMatch(/give between 1 s and 7 days/);
    // Settings are checked: a pattern with a space, and the threshold's range.
    await expect(api.settings.update.mutate({ gameModePrograms: 'my game' })).rejects.toThrow(/program patterns are names with \* and \?/);
    expect((await api.settings.get.query()).gameModePrograms).toBe('steam_app_*');
  });

  it('idle-only work: headless and never told, you count as away; told you are back, it waits until you have been away idleAfterMin', async () => {
    const first = await api.tasks.submit.mutate({ agent: 'ok', whenIdle: true });
    expect(first.whenIdle).toBe(true);
    await until(
      () => state(first.id),
      (s) => s === 'succeeded',
      'idle-only work to run on a server no one has said they are at',
    );
    await api.settings.update.mutate({ idleAfterMin: 1 });
    const back = await cli(['idle', '0']);
    expect(back.stdout.trim()).toBe('away 0 s: idle-only work waits until you have been away 60 s');
    const later = (await cli(['submit', 'ok', '--when-idle', 'true', '--json'])).stdout;
    const id = (JSON.parse(later) as { id: number }).id;
    const waiting = await until(
      () => api.tasks.get.query({ id }),
      (x) => /^idle-only work: it starts once you have been away 60 s \(away \d+ s now\)$/.test(x.waitingReason ?? ''),
      'the reason to say it waits for you to be away',
    );
    expect(waiting.state).toBe('queued');
    expect((await cli(['status'])).stdout).toMatch(/^Away: {4}no: \d+ s without input; idle-only work needs 60 s$/m);
    // Away 58 s: two seconds on, it starts by itself.
    await cli(['idle', '58']);
    await until(
      () => state(id),
      (s) => s === 'succeeded',
      'idle-only work to start once you have been away a minute',
      20_000,
    );
    expect((await cli(['idle', 'soon'])).stderr).toMatch(/say how long you have been away, in seconds: `agentmgr idle 900`/);
    await api.settings.update.mutate({ idleAfterMin: 10 });
  });
});
