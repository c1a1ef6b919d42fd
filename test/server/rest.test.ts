import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeadlessManager } from '../../src-main/headless.js';
import { openApiDocument } from '../../src-main/server/openapi.js';
import { tempDir } from '../helpers/fakes.js';
import { http } from '../helpers/http.js';
import { startTestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const t = tempDir();
let m: HeadlessManager;
let auth: Record<string, string>;
const doc = openApiDocument() as {
  paths: Record<string, Record<string, { operationId: string; responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
  components: { schemas: Record<string, unknown> };
};

beforeAll(async () => {
  m = await startTestServer(t.dir);
  auth = { Authorization: `Bearer ${m.token}` };
});
afterAll(async () => {
  await m.stop({ stopAgents: true });
  t.cleanup();
});

type Reply = { status: number; body: string; headers: Record<string, string | string[] | undefined> };
const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> =>
  http(m.server.port, path, {
    method,
    headers: { ...auth, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });

// Each answer is checked against its operation's response schema in the document itself.
const ajv = new Ajv2020.default({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addSchema({ $id: 'doc', components: doc.components });
const validators = new Map<string, ReturnType<typeof ajv.compile>>();
function conforms(operationId: string, status: number, r: Reply): void {
  const op = Object.values(doc.paths)
    .flatMap((p) => Object.values(p))
    .find((o) => o.operationId === operationId)!;
  const res = op.responses[String(status)] ?? op.responses.default!;
  const [type, media] = Object.entries(res.content!)[0]!;
  expect(String(r.headers['content-type'])).toContain(type);
  const key = `${operationId}:${status}`;
  if (!validators.has(key)) validators.set(key, ajv.compile(JSON.parse(JSON.stringify(media.schema).replaceAll('"#/components', '"doc#/components'))));
  const validate = validators.get(key)!;
  const ok = validate(JSON.parse(r.body));
  expect(ok ? null : { operationId, status, errors: validate.errors }).toBeNull();
}

async function ok(operationId: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const r = await call(method, path, body);
  expect({ status: r.status, body: r.status === 200 ? '' : r.body }).toEqual({ status: 200, body: '' });
  conforms(operationId, 200, r);
  return JSON.parse(r.body);
}

describe('REST API (/api/v1)', () => {
  it('the OpenAPI document is valid 3.1, generated from the contracts, checked in, and served', async () => {
    const checked = JSON.parse(readFileSync(join(__dirname, '../../contracts/openapi.json'), 'utf8'));
    // `npm run openapi` writes it: run it after changing contracts/rest.ts or a schema it uses.
    expect(checked).toEqual(doc);
    const served = await call('GET', '/api/v1/openapi.json');
    expect(JSON.parse(served.body)).toEqual(doc);
    const v = new Validator();
    expect(await v.validate(structuredClone(doc) as Parameters<typeof v.validate>[0])).toEqual({ valid: true });
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/api/v1/agents',
        '/api/v1/events',
        '/api/v1/health',
        '/api/v1/queue:pause',
        '/api/v1/queue:resume',
        '/api/v1/status',
        '/api/v1/tasks',
        '/api/v1/tasks/{id}',
        '/api/v1/tasks/{id}/logs',
        '/api/v1/tasks/{id}:cancel',
        '/api/v1/tasks/{id}:priority',
        '/api/v1/tasks/{id}:retry',
        '/api/v1/tasks:batch',
      ].sort(),
    );
  });

  it('every route answers as its operation says, in plain JSON with ISO dates', async () => {
    const made = (await ok('submitTask', 'POST', '/api/v1/tasks', { agent: 'ok', name: 'rest one' })) as { id: number; createdAt: string; state: string };
    expect(made.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    await waitFor(async () => ((await ok('getTask', 'GET', `/api/v1/tasks/${made.id}`)) as { state: string }).state === 'succeeded', 'the task to succeed');
    const detail = (await ok('getTask', 'GET', `/api/v1/tasks/${made.id}`)) as { artifacts: { name: string }[]; attemptList: unknown[] };
    expect(detail.artifacts.map((a) => a.name)).toEqual(['greeting']);
    const log = (await ok('getLogs', 'GET', `/api/v1/tasks/${made.id}/logs`)) as { text: string; attempt: number };
    expect(log).toMatchObject({ attempt: 1, text: expect.stringContaining('a log event') });
    expect(((await ok('getLogs', 'GET', `/api/v1/tasks/${made.id}/logs?tailBytes=10&attempt=1`)) as { text: string }).text.length).toBeLessThanOrEqual(10);

    // Paused, so the batch stays queued while its priority changes.
    expect(await ok('pauseQueue', 'POST', '/api/v1/queue:pause')).toEqual({ paused: true });
    expect(((await ok('getStatus', 'GET', '/api/v1/status')) as { paused: boolean }).paused).toBe(true);
    const batch = (await ok('submitBatch', 'POST', '/api/v1/tasks:batch', [
      { agent: 'hang', name: 'rest batch' },
      { agent: 'hang', name: 'rest batch' },
    ])) as { ids: number[]; count: number };
    expect(batch.count).toBe(2);
    const page = (await ok('listTasks', 'GET', '/api/v1/tasks?name=rest&limit=2')) as { items: { id: number }[]; nextCursor: number | null };
    expect(page.items.map((x) => x.id)).toEqual([batch.ids[1], batch.ids[0]]);
    const next = (await ok('listTasks', 'GET', `/api/v1/tasks?name=rest&limit=2&cursor=${page.nextCursor}`)) as { items: { id: number }[] };
    expect(next.items.map((x) => x.id)).toEqual([made.id]);
    const succeeded = (await ok('listTasks', 'GET', '/api/v1/tasks?state=succeeded&state=failed&agent=ok')) as { items: { state: string }[] };
    expect(succeeded.items.every((x) => x.state === 'succeeded')).toBe(true);
    expect(((await ok('setPriority', 'POST', `/api/v1/tasks/${batch.ids[0]}:priority`, { priority: 7 })) as { priority: number }).priority).toBe(7);
    for (const id of batch.ids) expect(((await ok('cancelTask', 'POST', `/api/v1/tasks/${id}:cancel`)) as { state: string }).state).toBe('cancelled');
    expect(((await ok('retryTask', 'POST', `/api/v1/tasks/${made.id}:retry`)) as { state: string }).state).toBe('queued');
    expect(((await ok('retryTask', 'POST', `/api/v1/tasks/${batch.ids[0]}:retry`, { withDependents: true })) as { state: string }).state).toBe('queued');
    await ok('cancelTask', 'POST', `/api/v1/tasks/${batch.ids[0]}:cancel`);
    expect(await ok('resumeQueue', 'POST', '/api/v1/queue:resume')).toEqual({ paused: false });

    const agents = (await ok('listAgents', 'GET', '/api/v1/agents')) as { agents: { name: string }[] };
    expect(agents.agents.map((a) => a.name)).toContain('ok');
    expect(((await ok('getHealth', 'GET', '/api/v1/health')) as { ok: boolean }).ok).toBe(true);
  });

  it.each([
    ['no token', 'GET', '/api/v1/status', undefined, { Authorization: '' }, 401, 'UNAUTHORIZED', /missing or wrong API token.*api-token/],
    [
      'wrong content type',
      'POST',
      '/api/v1/tasks',
      'agent=ok',
      { 'Content-Type': 'text/plain' },
      415,
      'INVALID_INPUT',
      /Content-Type: application\/json.*got "text\/plain"/,
    ],
    ['malformed JSON', 'POST', '/api/v1/tasks', '{"agent": ', {}, 400, 'INVALID_INPUT', /the body is not valid JSON/],
    ['an unknown field', 'POST', '/api/v1/tasks', { agent: 'ok', colour: 'red' }, {}, 400, 'INVALID_INPUT', /colour/],
    ['a field of the wrong type', 'POST', '/api/v1/tasks', { agent: 'ok', priority: 'high' }, {}, 400, 'INVALID_INPUT', /priority/],
    ['an unknown agent', 'POST', '/api/v1/tasks', { agent: 'nope' }, {}, 404, 'UNKNOWN_AGENT', /unknown agent "nope"/],
    ['no body where one is needed', 'POST', '/api/v1/tasks', undefined, {}, 400, 'INVALID_INPUT', /needs a JSON body/],
    ['a bad id', 'GET', '/api/v1/tasks/abc', undefined, {}, 400, 'INVALID_INPUT', /task id must be a positive whole number, got "abc"/],
    ['an unknown id', 'GET', '/api/v1/tasks/999999', undefined, {}, 404, 'NOT_FOUND', /no task with id 999999/],
    [
      'an unknown query parameter',
      'GET',
      '/api/v1/tasks?colour=red',
      undefined,
      {},
      400,
      'INVALID_INPUT',
      /unknown query parameter `colour`; GET \/api\/v1\/tasks takes: state, agent/,
    ],
    ['a query number that is not one', 'GET', '/api/v1/tasks?limit=lots', undefined, {}, 400, 'INVALID_INPUT', /`limit`: must be a whole number, got "lots"/],
    ['a limit out of range', 'GET', '/api/v1/tasks?limit=5000', undefined, {}, 400, 'INVALID_INPUT', /limit/],
    ['an unknown state', 'GET', '/api/v1/tasks?state=sleeping', undefined, {}, 400, 'INVALID_INPUT', /state/],
    ['the id in the body too', 'POST', '/api/v1/tasks/1:priority', { id: 2, priority: 1 }, {}, 400, 'INVALID_INPUT', /the task id is in the path/],
    ['a body for a route that takes none', 'POST', '/api/v1/queue:resume', { now: true }, {}, 400, 'INVALID_INPUT', /takes no body/],
    [
      'an unknown route',
      'GET',
      '/api/v1/nothing',
      undefined,
      {},
      404,
      'NOT_FOUND',
      /no route \/api\/v1\/nothing; the routes are listed in \/api\/v1\/openapi.json/,
    ],
    ['the wrong method', 'DELETE', '/api/v1/tasks', undefined, {}, 405, 'INVALID_INPUT', /takes POST, GET, not DELETE/],
  ])('%s gets a problem document (%s %s)', async (_what, method, path, body, headers, status, appCode, detail) => {
    const r = await call(method, path, body, headers);
    expect(r.status).toBe(status);
    expect(String(r.headers['content-type'])).toBe('application/problem+json');
    const p = JSON.parse(r.body) as { type: string; title: string; status: number; detail: string; appCode: string };
    expect(p).toMatchObject({ status, appCode, type: `urn:agentmgr:problem:${appCode.toLowerCase()}` });
    expect(p.detail).toMatch(detail);
    expect(p.title.length).toBeGreaterThan(0);
    if (status === 405) expect(r.headers.allow).toBe('POST, GET');
  });

  it('refuses a foreign Host or Origin, as tRPC does', async () => {
    expect((await call('GET', '/api/v1/health', undefined, { Host: 'evil.example:80' })).status).toBe(403);
    expect((await call('GET', '/api/v1/health', undefined, { Origin: 'http://evil.example' })).status).toBe(403);
  });
});

/** A Server-Sent Events stream: its events as they come, and a way to stop listening. */
function listen(lastEventId?: string) {
  const events: { id?: string; event: string; data: string }[] = [];
  let buf = '';
  const req = request({
    host: '127.0.0.1',
    port: m.server.port,
    path: '/api/v1/events',
    headers: { ...auth, Accept: 'text/event-stream', ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) },
  });
  req.on('response', (res) => {
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const f: Record<string, string> = {};
        for (const line of block.split('\n')) {
          const c = line.indexOf(':');
          if (c > 0) f[line.slice(0, c)] = line.slice(c + 1).trimStart();
        }
        if (f.data !== undefined) events.push({ id: f.id, event: f.event ?? 'message', data: f.data });
      }
    });
  });
  req.on('error', () => {});
  req.end();
  return { events, close: () => req.destroy() };
}

describe('REST events (/api/v1/events)', () => {
  it('streams task changes; a reconnect with Last-Event-ID gets what it missed, losing nothing', async () => {
    const first = listen();
    const submit = async () => (JSON.parse((await call('POST', '/api/v1/tasks', { agent: 'ok', name: 'sse' })).body) as { id: number }).id;
    const a = await submit();
    await waitFor(() => first.events.some((e) => e.event === 'task' && (JSON.parse(e.data) as { id: number; state: string }).id === a), 'the first change');
    const last = first.events.filter((e) => e.event === 'task').at(-1)!;
    first.close();
    // While nobody listens: more changes, to this task and others.
    const b = await submit();
    const c = await submit();
    await waitFor(
      async () =>
        (await Promise.all([a, b, c].map(async (id) => (JSON.parse((await call('GET', `/api/v1/tasks/${id}`)).body) as { state: string }).state))).every(
          (s) => s === 'succeeded',
        ),
      'all three to succeed',
    );
    const again = listen(last.id);
    await waitFor(
      () =>
        [b, c].every((id) =>
          again.events.some(
            (e) => e.event === 'task' && (JSON.parse(e.data) as { id: number; state: string }).id === id && JSON.parse(e.data).state === 'succeeded',
          ),
        ),
      'the missed changes',
    );
    again.close();
    const ids = again.events.map((e) => Number(e.id!.split('-')[1]));
    expect(ids[0]).toBe(Number(last.id!.split('-')[1]) + 1); // nothing skipped, nothing repeated
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(new Set(ids).size).toBe(ids.length);
    // An id this Manager never gave (another run's) is answered with a reset: reload, then follow.
    const stale = listen('deadbeef-5');
    await waitFor(() => stale.events.length > 0, 'the reset');
    stale.close();
    expect(stale.events[0]).toMatchObject({ event: 'reset' });
    expect(JSON.parse(stale.events[0]!.data).reason).toMatch(/fetch the tasks again/);
  });
});
