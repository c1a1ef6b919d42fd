import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TRPCClientError } from '@trpc/client';
import { RpcError } from '../../src-main/cli/rpc.js';
import { createCallerFactory } from '../../src-main/api/trpc.js';
import { appRouter } from '../../src-main/api/router.js';
import { createClient, type ApiClient } from '../../src-main/cli/client.js';
import { DataDirLockedError } from '../../src-main/data-dir.js';
import type { HeadlessManager } from '../../src-main/headless.js';
import { waitFor } from '../helpers/wait.js';
import { tempDir } from '../helpers/fakes.js';
import { http } from '../helpers/http.js';
import { startTestServer } from '../helpers/server.js';

const t = tempDir();
let m: HeadlessManager;
let api: ApiClient;
let closeClient: () => void;
let auth: Record<string, string>;

beforeAll(async () => {
  m = await startTestServer(t.dir);
  auth = { Authorization: `Bearer ${m.token}` };
  ({ api, close: closeClient } = createClient({ url: m.server.url, token: m.token }));
});
afterAll(async () => {
  closeClient();
  await m.stop({ stopAgents: true });
  t.cleanup();
});

async function appError(p: Promise<unknown>): Promise<{ code: string; message: string; index?: number }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TRPCClientError || e instanceof RpcError)
      return { code: (e.data as { appCode: string }).appCode, message: e.message, index: (e.data as { index?: number }).index };
    throw e;
  }
  throw new Error('expected an error');
}

describe('HTTP guards', () => {
  it.each([
    ['no token', () => ({}), 401, /missing or wrong API token.*api-token/],
    ['a wrong token', () => ({ Authorization: 'Bearer nope' }), 401, /missing or wrong API token/],
    ['a foreign Host (DNS rebinding)', () => ({ ...auth, Host: 'evil.example:80' }), 403, /Host "evil.example:80" is not allowed/],
    ['a foreign Origin', () => ({ ...auth, Origin: 'http://evil.example' }), 403, /requests from http:\/\/evil.example are not allowed/],
  ])('refuses a request with %s', async (_n, headers, status, message) => {
    const r = await http(m.server.port, '/trpc/health', { headers: headers() });
    expect(r.status).toBe(status);
    expect(JSON.parse(r.body).error.message).toMatch(message);
  });

  it('answers with the token, from our own origin', async () => {
    const r = await http(m.server.port, '/trpc/health', { headers: { ...auth, Origin: m.server.url } });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).result.data.json).toMatchObject({ ok: true, dataDir: t.dir });
  });

  it('says how late its timers ran, since the start and over a window asked for', async () => {
    const q = encodeURIComponent(JSON.stringify({ json: { eventLoopWindowSec: 30 } }));
    const r = await http(m.server.port, `/trpc/health?input=${q}`, { headers: auth });
    expect(r.status).toBe(200);
    const h = JSON.parse(r.body).result.data.json;
    for (const v of [h.eventLoop, h.eventLoopWindow])
      expect(v).toMatchObject({ p50Ms: expect.any(Number), p99Ms: expect.any(Number), maxMs: expect.any(Number) });
    expect(h.eventLoopWindow.sinceSec).toBeLessThanOrEqual(30);
    expect(JSON.parse((await http(m.server.port, '/trpc/health', { headers: auth })).body).result.data.json.eventLoopWindow).toBeNull();
    const bad = encodeURIComponent(JSON.stringify({ json: { eventLoopWindowSec: 0 } }));
    expect((await http(m.server.port, `/trpc/health?input=${bad}`, { headers: auth })).status).toBe(400);
  });

  it('refuses an oversized body before reading it', async () => {
    const r = await http(m.server.port, '/trpc/tasks.submitBatch', {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json', 'Content-Length': String(65 * 1024 * 1024) },
    });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('serves the UI without the token (the page asks for it)', async () => {
    const r = await http(m.server.port, '/');
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/<html|<!doctype/i);
  });

  it.each([
    ['no token', {}, /401/],
    ['a foreign Origin', { Origin: 'http://evil.example' }, /403/],
  ])('refuses a WebSocket with %s', async (_n, headers, status) => {
    const err = await new Promise<Error>((resolve) => {
      const ws = new WebSocket(m.server.url.replace('http', 'ws') + '/trpc', { headers: { ...(_n === 'no token' ? {} : auth), ...headers } });
      ws.on('open', () => resolve(new Error('opened')));
      ws.on('error', resolve);
    });
    expect(err.message).toMatch(status);
  });

  it('only one Manager per data dir', async () => {
    await expect(startTestServer(t.dir)).rejects.toBeInstanceOf(DataDirLockedError);
  });
});

describe('API over HTTP and WebSocket', () => {
  it('submit, get, list with filters and cursor', async () => {
    const a = await api.tasks.submit.mutate({ agent: 'ok', name: 'first', priority: 2 });
    expect(a).toMatchObject({ agent: 'ok', name: 'first', priority: 2, state: expect.stringMatching(/queued|starting|running/) });
    expect(a.createdAt).toBeInstanceOf(Date);
    const b = await api.tasks.submitBatch.mutate([{ agent: 'ok' }, { agent: 'fail', maxAttempts: 1 }]);
    expect(b.count).toBe(2);
    const page1 = await api.tasks.list.query({ limit: 2 });
    expect(page1.items.map((x) => x.id)).toEqual([b.ids[1], b.ids[0]]);
    const page2 = await api.tasks.list.query({ limit: 2, cursor: page1.nextCursor! });
    expect(page2.items.map((x) => x.id)).toEqual([a.id]);
    expect(page2.nextCursor).toBeNull();
    const onlyFail = await api.tasks.list.query({ agent: 'fail' });
    expect(onlyFail.items.map((x) => x.id)).toEqual([b.ids[1]]);
  });

  it('errors carry a stable code and a message that says what to fix', async () => {
    expect(await appError(api.tasks.submit.mutate({ agent: 'nope' }))).toMatchObject({
      code: 'UNKNOWN_AGENT',
      message: expect.stringMatching(/unknown agent "nope"; known agents: .*demo/),
    });
    expect(await appError(api.tasks.submit.mutate({ agent: 'demo', input: { seconds: 'x' } }))).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/`seconds` must be a number/),
    });
    expect(await appError(api.tasks.submit.mutate({ agent: 'demo', priority: 5000 }))).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/invalid request: priority: Too big/),
    });
    expect(await appError(api.tasks.submit.mutate({ agent: 'demo', resources: { cpu: -2 } }))).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/resources.cpu/),
    });
    expect(await appError(api.tasks.submit.mutate({ agent: 'demo', resources: { memoryMB: 16_000_000 } }))).toMatchObject({
      code: 'UNSATISFIABLE',
      message: expect.stringMatching(/can never run on this machine: it needs 16000000 MB RAM/),
    });
    expect(await appError(api.tasks.submitBatch.mutate([{ agent: 'ok' }, { agent: 'ok' }, { agent: 'zzz' }]))).toMatchObject({
      code: 'UNKNOWN_AGENT',
      index: 2,
    });
    expect(await appError(api.tasks.get.query({ id: 999_999 }))).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('a large batch is validated a few hundred items per turn: a bad one far in is named by its index, and nothing is stored', async () => {
    const before = (await api.tasks.page.query({ limit: 1 })).total;
    const items = Array.from({ length: 1200 }, () => ({ agent: 'ok' }));
    (items[900] as Record<string, unknown>).priority = 'high';
    expect(await appError(api.tasks.submitBatch.mutate(items))).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/^invalid request: 900\.priority: /),
    });
    expect(await appError(api.tasks.submitBatch.mutate([]))).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/invalid request: .*1/) });
    expect(await appError(api.tasks.submitBatch.mutate({ agent: 'ok' } as never))).toMatchObject({ code: 'INVALID_INPUT' });
    expect((await api.tasks.page.query({ limit: 1 })).total).toBe(before);
    const ok = await api.tasks.submitBatch.mutate(items.slice(0, 700));
    expect(ok.count).toBe(700);
    await api.tasks.cancelMany.mutate({ ids: ok.ids });
  });

  it('a GPU task is refused where no GPU can be seen, unless it may wait for one; then it waits with a reason', async () => {
    expect(await appError(api.tasks.submit.mutate({ agent: 'demo', input: { seconds: 1, vramMB: 3000 } }))).toMatchObject({
      code: 'UNSATISFIABLE',
      message: expect.stringMatching(/asks for 1 GPU \(3000 MB each\), but no GPU can be seen on this machine .*--wait-for-gpu \(waitForGpu\)/),
    });
    const task = await api.tasks.submit.mutate({ agent: 'demo', input: { seconds: 1, vramMB: 3000 }, waitForGpu: true });
    await waitFor(async () => (await api.tasks.get.query({ id: task.id })).waitingReason !== null, 'a scheduling cycle to look at it');
    const got = await api.tasks.get.query({ id: task.id });
    expect(got.state).toBe('queued');
    expect(got.resources.gpu).toEqual({ count: 1, vramMB: 3000 });
    expect(got.waitingReason).toMatch(/needs 1 GPU with 3000 MB VRAM, but no GPU is visible: nvidia-smi not found/);
    await api.tasks.cancel.mutate({ id: task.id });
  });

  it('streams task changes live over WebSocket, and follows a log to the end', async () => {
    const seen: string[] = [];
    const task = await api.tasks.submit.mutate({ agent: 'slow', input: { seconds: 0.6 } });
    const other = await api.tasks.submit.mutate({ agent: 'ok' });
    // Only the ends, and only of the ids asked for (what `agentmgr wait --json` listens to).
    const ends: { id: number; state: string }[] = [];
    const endsSub = api.tasks.ended.subscribe({ ids: [task.id] }, { onData: (v) => ends.push({ id: v.id, state: v.state }) });
    const done = new Promise<void>((resolve, reject) => {
      const sub = api.tasks.changes.subscribe(
        { ids: [task.id] },
        {
          onData: (v) => {
            seen.push(v.state);
            if (v.state === 'succeeded') {
              sub.unsubscribe();
              resolve();
            }
          },
          onError: reject,
        },
      );
    });
    let text = '';
    const followed = new Promise<string>((resolve, reject) => {
      const sub = api.tasks.followLogs.subscribe(
        { id: task.id },
        {
          onData: (c) => {
            text += c.text;
            if (c.done) {
              sub.unsubscribe();
              resolve(c.state);
            }
          },
          onError: reject,
        },
      );
    });
    await done;
    expect(await followed).toBe('succeeded');
    expect(seen).toContain('running');
    await waitFor(async () => ends.length > 0 && (await api.tasks.get.query({ id: other.id })).state === 'succeeded', 'the ends to come');
    endsSub.unsubscribe();
    expect(ends).toEqual([{ id: task.id, state: 'succeeded' }]);
    expect(text).toMatch(/attempt 1 started[\s\S]*attempt 1 ended: exit code 0/);
    const logs = await api.tasks.logs.query({ id: task.id });
    expect(logs.text).toBe(text);
    expect((await api.tasks.logs.query({ id: task.id, tailBytes: 10 })).truncated).toBe(true);
  });

  it('cancel, retry, priority, pause and resume', async () => {
    await api.queue.pause.mutate();
    const t1 = await api.tasks.submit.mutate({ agent: 'ok' });
    expect((await api.queue.status.query()).paused).toBe(true);
    expect((await api.tasks.setPriority.mutate({ id: t1.id, priority: 9 })).priority).toBe(9);
    const c = await api.tasks.cancel.mutate({ id: t1.id });
    expect(c.state).toBe('cancelled');
    expect(await appError(api.tasks.cancel.mutate({ id: t1.id }))).toMatchObject({ code: 'INVALID_STATE' });
    const r = await api.tasks.retry.mutate({ id: t1.id });
    expect(r.state).toBe('queued');
    expect((await api.tasks.get.query({ id: t1.id })).waitingReason).toBe('the queue is paused');
    await api.queue.resume.mutate();
    for (let i = 0; i < 100 && (await api.tasks.get.query({ id: t1.id })).state !== 'succeeded'; i++) await new Promise((x) => setTimeout(x, 50));
    expect((await api.tasks.get.query({ id: t1.id })).state).toBe('succeeded');
  });

  it('agents, resources and health', async () => {
    const { agents, problems } = await api.agents.list.query();
    expect(agents.map((a) => a.name)).toEqual(expect.arrayContaining(['demo', 'sha256', 'shell', 'ok']));
    expect(problems.map((p) => p.path)).toEqual([expect.stringMatching(/bad-json/), expect.stringMatching(/bad-schema/)]);
    const res = await api.resources.query();
    expect(res.snapshot.cpu.cores).toBeGreaterThan(0);
    expect(res.snapshot.gpuStatus.state).toBe('absent');
    expect(res.gpus).toEqual([]);
    const h = await api.health.query();
    expect(h).toMatchObject({ ok: true, agentProblems: 2, gpu: { state: 'absent' } });
  });

  it('settings are validated, applied at once and kept', async () => {
    expect(await appError(api.settings.update.mutate({ maxConcurrency: 0 }))).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/maxConcurrency: Too small/),
    });
    expect(await appError(api.settings.update.mutate({ reserveAfterSec: -1 }))).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/reserveAfterSec/),
    });
    expect((await api.settings.get.query()).reserveAfterSec).toBe(60);
    const s = await api.settings.update.mutate({ maxConcurrency: 7, vramMarginMB: 300, reserveAfterSec: 0 });
    expect(s).toMatchObject({ maxConcurrency: 7, vramMarginMB: 300, reserveAfterSec: 0 });
    expect((await api.queue.status.query()).maxConcurrency).toBe(7);
    expect(m.services.manager.config.reserveAfterMs).toBeNull();
    expect(m.services.store.getSetting('settings')).toMatchObject({ maxConcurrency: 7, vramMarginMB: 300, reserveAfterSec: 0 });
    await api.settings.update.mutate({ reserveAfterSec: 90 });
    expect(m.services.manager.config.reserveAfterMs).toBe(90_000);
  });

  it('workflows as data: dependencies, refs, arrays; bad ones refused with a code, the line, and what to fix', async () => {
    expect(await appError(api.tasks.submit.mutate({ agent: 'ok', dependsOn: [{ type: 'afterok' }] }))).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/a dependency needs at least one task id \(ids\) or batch ref \(refs\)/),
    });
    expect(await appError(api.tasks.submit.mutate({ agent: 'ok', array: '0-3', throttle: 0 }))).toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringMatching(/a throttle of 0 would never start anything/),
    });
    const cycle = await appError(
      api.tasks.submitBatch.mutate([
        { agent: 'ok' },
        { agent: 'ok', ref: 'x', dependsOn: [{ type: 'afterok', refs: ['y'] }] },
        { agent: 'ok', ref: 'y', dependsOn: [{ type: 'afterok', refs: ['x'] }] },
      ]),
    );
    expect(cycle).toMatchObject({ code: 'INVALID_INPUT', index: 2, message: expect.stringMatching(/cycle \(x → y → x\)/) });
    // A line may make an array; a later line waits for all of it.
    const made = await api.tasks.submitBatch.mutate([
      { agent: 'ok', ref: 'pages', array: '0-2%1', hold: true },
      { agent: 'ok', dependsOn: [{ type: 'afterok', refs: ['pages'] }] },
    ]);
    expect(made.count).toBe(4);
    const views = await api.tasks.getMany.query({ ids: made.ids });
    expect(views.map((v) => [v.arrayIndex, v.blocked])).toEqual([
      [0, false],
      [1, false],
      [2, false],
      [null, true],
    ]);
    expect(views[3]!.waitingReason).toBe(`waits for task ${made.ids[0]} (queued), ${made.ids[1]} (queued) and ${made.ids[2]} (queued)`);
    const [sum] = await api.tasks.arrays.query({ ids: [made.ids[0]!] });
    expect(sum).toMatchObject({ total: 3, throttle: 1, counts: { queued: 3 } });
    expect(await appError(api.tasks.getMany.query({ ids: [made.ids[0]!, 999_999] }))).toMatchObject({ code: 'NOT_FOUND' });
    expect((await api.tasks.cancelArray.mutate({ arrayId: made.ids[0]! })).done).toHaveLength(3);
    expect(await api.tasks.get.query({ id: made.ids[3]! })).toMatchObject({ state: 'cancelled', error: `dependency ${made.ids[0]} ended cancelled` });
    expect(await appError(api.tasks.move.mutate({ id: made.ids[3]!, to: 'top' }))).toMatchObject({
      code: 'INVALID_STATE',
      message: `task ${made.ids[3]} is cancelled; only a queued task can be moved`,
    });
  });

  it('page: any window of the filtered, sorted list with its total; search by id or name', async () => {
    const made = await api.tasks.submitBatch.mutate([
      { agent: 'ok', name: 'alpha report', priority: -5 },
      { agent: 'ok', name: 'beta 100%_x', priority: 50 },
    ]);
    const all = await api.tasks.page.query({ limit: 1 });
    expect(all.items).toHaveLength(1);
    expect(all.total).toBeGreaterThan(2);
    expect((await api.tasks.page.query({ search: 'alpha' })).items.map((x) => x.name)).toEqual(['alpha report']);
    expect((await api.tasks.page.query({ search: '100%_' })).items.map((x) => x.name)).toEqual(['beta 100%_x']);
    expect((await api.tasks.page.query({ search: `#${made.ids[0]}` })).items.map((x) => x.id)).toEqual([made.ids[0]]);
    expect((await api.tasks.page.query({ sort: 'priority', limit: 1 })).items[0]!.id).toBe(made.ids[1]);
    const oldest = await api.tasks.page.query({ sort: 'oldest', offset: 1, limit: 1 });
    expect(oldest.items[0]!.id).toBe(2);
  });

  it('bulk actions say what could not be done, and do the rest', async () => {
    await api.queue.pause.mutate();
    const { ids } = await api.tasks.submitBatch.mutate([{ agent: 'ok' }, { agent: 'ok' }]);
    const r = await api.tasks.setPriorityMany.mutate({ ids: [...ids, 999_999], priority: 3 });
    expect(r.done).toEqual(ids);
    expect(r.failed).toEqual([{ id: 999_999, message: expect.stringMatching(/no task with id 999999/) }]);
    expect((await api.tasks.cancelMany.mutate({ ids })).done).toEqual(ids);
    expect((await api.tasks.retryMany.mutate({ ids })).done).toEqual(ids);
    await api.tasks.cancelMany.mutate({ ids });
    await api.queue.resume.mutate();
  });

  it('uploads: a dropped file lands in the data dir; bad requests get clear errors', async () => {
    const up = (path: string, body: string, headers: Record<string, string> = auth) => http(m.server.port, path, { method: 'POST', headers, body });
    const ok = await up('/upload?name=..%2F..%2Fevil%20name.txt', 'hello upload');
    expect(ok.status).toBe(200);
    const saved = JSON.parse(ok.body) as { path: string; name: string; sizeBytes: number };
    expect(saved).toMatchObject({ name: 'evil name.txt', sizeBytes: 12 });
    expect(saved.path.startsWith(join(t.dir, 'uploads'))).toBe(true);
    expect(readFileSync(saved.path, 'utf8')).toBe('hello upload');
    expect((await up('/upload?name=x', 'x', {})).status).toBe(401);
    expect(JSON.parse((await up('/upload', 'x')).body).error.message).toMatch(/give the file name/);
  });

  it("artifacts: downloads are named after the file, previews by the file's kind, and the gallery lists the newest", async () => {
    const task = await api.tasks.submit.mutate({ agent: 'media' });
    await waitFor(async () => (await api.tasks.get.query({ id: task.id })).state === 'succeeded', 'the media task to succeed');
    const detail = await api.tasks.get.query({ id: task.id });
    expect(detail.artifacts.map((a) => a.name)).toEqual(['Rendered image', 'Notes', 'Tone', 'Weights']);
    const names: string[] = [];
    for (let i = 0; i < 4; i++) {
      const got = await http(m.server.port, `/artifacts/${task.id}/${i}`, { headers: auth });
      expect(got.status).toBe(200);
      names.push(String(got.headers['content-disposition']));
    }
    expect(names).toEqual([
      `attachment; filename="picture.png"; filename*=UTF-8''picture.png`,
      `attachment; filename="notes.txt"; filename*=UTF-8''notes.txt`,
      `attachment; filename="tone.wav"; filename*=UTF-8''tone.wav`,
      `attachment; filename="model.bin"; filename*=UTF-8''model.bin`,
    ]);
    const image = await api.artifacts.preview.query({ id: task.id, index: 0 });
    expect(image).toMatchObject({ kind: 'image', mime: 'image/png' });
    expect(
      Buffer.from((image as { base64: string }).base64, 'base64')
        .subarray(1, 4)
        .toString('ascii'),
    ).toBe('PNG');
    expect(await api.artifacts.preview.query({ id: task.id, index: 1 })).toEqual({
      kind: 'text',
      text: 'first line of the notes\nsecond line\n',
      truncated: false,
      sizeBytes: 36,
    });
    expect(await api.artifacts.preview.query({ id: task.id, index: 2 })).toMatchObject({ kind: 'audio', mime: 'audio/wav', sizeBytes: 1644 });
    expect(await api.artifacts.preview.query({ id: task.id, index: 3 })).toEqual({
      kind: 'none',
      reason: 'model.bin is not an image, a sound or text; download it to open it',
    });
    expect((await appError(api.artifacts.preview.query({ id: task.id, index: 9 }))).message).toMatch(/has no artifact number 9/);
    const recent = await api.artifacts.recent.query({ limit: 4 });
    expect(recent.map((r) => [r.taskId, r.index, r.fileName, r.kind, r.agent])).toEqual([
      [task.id, 3, 'model.bin', 'none', 'media'],
      [task.id, 2, 'tone.wav', 'audio', 'media'],
      [task.id, 1, 'notes.txt', 'text', 'media'],
      [task.id, 0, 'picture.png', 'image', 'media'],
    ]);
  });

  it('artifacts download only when the store lists them for that task', async () => {
    const task = await api.tasks.submit.mutate({ agent: 'ok' });
    for (let i = 0; i < 100 && (await api.tasks.get.query({ id: task.id })).state !== 'succeeded'; i++) await new Promise((x) => setTimeout(x, 50));
    const got = await http(m.server.port, `/artifacts/${task.id}/0`, { headers: auth });
    expect(got.status).toBe(200);
    expect(got.body).toBe('hello\n');
    expect((await http(m.server.port, `/artifacts/${task.id}/5`, { headers: auth })).status).toBe(404);
    expect((await http(m.server.port, `/artifacts/${task.id}/0`)).status).toBe(401);
  });

  it('the router refuses a caller that is not authorized', async () => {
    const caller = createCallerFactory(appRouter)({ services: m.services, authorized: false });
    await expect(caller.health()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    const ok = createCallerFactory(appRouter)({ services: m.services, authorized: true });
    expect((await ok.health()).ok).toBe(true);
  });
});
