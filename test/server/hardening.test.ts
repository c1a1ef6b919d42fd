import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { TRPCClientError } from '@trpc/client';
import { RpcError } from '../../src-main/cli/rpc.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type ApiClient } from '../../src-main/cli/client.js';
import type { HeadlessManager } from '../../src-main/headless.js';
import { tempDir } from '../helpers/fakes.js';
import { http } from '../helpers/http.js';
import { startTestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

/** Issue 10, defects 7, 10, 11 and 12: what a hostile local client tried, each refused with a reason. */

/** A request written by hand, for what Node's client will not send (two Host headers). */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.write(text));
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

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

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TRPCClientError || e instanceof RpcError) return { code: (e.data as { appCode: string }).appCode, message: e.message };
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('inputs that would change on the way in are refused, naming the path', () => {
  it.each([
    ['a BigInt', { n: 10n }, /input\.input\.n is a BigInt/],
    ['NaN', { n: Number.NaN }, /input\.input\.n is NaN/],
    ['Infinity', { deep: { n: Number.POSITIVE_INFINITY } }, /input\.input\.deep\.n is Infinity/],
    ['a Map', { m: new Map([[1, 2]]) }, /input\.input\.m is a Map/],
    ['a Set', { s: new Set([1]) }, /input\.input\.s is a Set/],
    ['a RegExp', { r: /x/ }, /input\.input\.r is a RegExp/],
    ['a Date', { d: new Date(0) }, /input\.input\.d is a Date/],
    ['undefined', { u: undefined }, /input\.input\.u is undefined/],
    ['undefined in an array', { a: [1, undefined] }, /input\.input\.a\.1 is undefined/],
  ])('%s', async (_n, input, message) => {
    const before = (await api.tasks.list.query({ limit: 1000 })).items.length;
    const r = await refusal(api.tasks.submit.mutate({ agent: 'ok', input: input as Record<string, unknown> }));
    expect(r.code).toBe('INVALID_INPUT');
    expect(r.message).toMatch(message);
    expect(r.message).toMatch(/plain JSON only/);
    expect((await api.tasks.list.query({ limit: 1000 })).items.length).toBe(before);
  });

  it('a 100,000-deep input gets a readable 400, not a 500', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const r = await http(m.server.port, '/trpc/tasks.submit', {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: `{"json":{"agent":"ok","input":{"x":${deep}}}}`,
    });
    expect(r.status).toBe(400);
    expect(r.body).toMatch(/nested (deeper than 64 levels|too deeply to read; flatten it \(at most 64 levels\))/);
  });
});

describe('HTTP batching is capped', () => {
  it('1,000 calls in one request are refused at once, saying the limit', async () => {
    const paths = Array.from({ length: 1000 }, () => 'queue.status').join(',');
    const r = await http(m.server.port, `/trpc/${paths}?batch=1&input={}`, { headers: auth });
    expect(r.status).toBe(413);
    expect(r.body).toMatch(/a batch of 1000 calls is over the limit of 50 calls per request/);
  });

  it('a batch within the limit is answered', async () => {
    const paths = Array.from({ length: 50 }, () => 'queue.status').join(',');
    const r = await http(m.server.port, `/trpc/${paths}?batch=1&input={}`, { headers: auth });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toHaveLength(50);
  });
});

describe('smaller holes', () => {
  it('two Host headers get a 400', async () => {
    const port = m.server.port;
    const out = await raw(
      port,
      `GET /trpc/queue.status HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nHost: evil.example\r\nAuthorization: Bearer ${m.token}\r\nConnection: close\r\n\r\n`,
    );
    expect(out).toMatch(/^HTTP\/1\.1 400/);
    expect(out).toMatch(/more than one Host header/);
  });

  it.each(['bearer', 'BEARER', 'Bearer'])('the %s scheme is accepted (case-insensitive)', async (scheme) => {
    const r = await http(m.server.port, '/trpc/queue.status', { headers: { Authorization: `${scheme} ${m.token}` } });
    expect(r.status).toBe(200);
  });

  it('files.inspect is not for HTTP clients: it would report on any path', async () => {
    const r = await refusal(api.files.inspect.query({ paths: ['/etc/shadow'] }));
    expect(r.code).toBe('FORBIDDEN');
    expect(r.message).toMatch(/files\.inspect is for files dropped on the desktop app; over HTTP, send a file with POST \/upload/);
  });

  it('upload names lose bidirectional controls', async () => {
    const r = await http(m.server.port, `/upload?name=${encodeURIComponent('evil\u202Etxt.exe')}`, { method: 'POST', headers: auth, body: 'x' });
    expect(r.status).toBe(200);
    const { name } = JSON.parse(r.body) as { name: string };
    expect(name).toBe('evil_txt.exe');
  });
});

describe('artifact downloads never follow links', () => {
  async function withArtifact(): Promise<{ path: string; url: string }> {
    const task = await api.tasks.submit.mutate({ agent: 'ok' });
    await waitFor(async () => (await api.tasks.get.query({ id: task.id })).state === 'succeeded', 'the task to succeed');
    const detail = await api.tasks.get.query({ id: task.id });
    const a = (detail as unknown as { artifacts: { path: string }[] }).artifacts[0]!;
    const url = `/artifacts/${task.id}/0`;
    expect((await http(m.server.port, url, { headers: auth })).body).toBe('hello\n');
    return { path: a.path, url };
  }

  const secret = join(t.dir, 'secret.txt');

  it.each([
    [
      'the file swapped for a symlink',
      (p: string) => {
        rmSync(p);
        symlinkSync(secret, p);
      },
      /symbolic link/,
    ],
    [
      'the file swapped for a hard link to another file',
      (p: string) => {
        rmSync(p);
        linkSync(secret, p);
      },
      /other hard links/,
    ],
    [
      'the artifacts folder swapped for a symlink to elsewhere',
      (p: string) => {
        const dir = dirname(p);
        const elsewhere = join(t.dir, `elsewhere-${Math.random()}`);
        mkdirSync(elsewhere);
        writeFileSync(join(elsewhere, 'out.txt'), readFileSync(secret));
        renameSync(dir, `${dir}.moved`);
        symlinkSync(elsewhere, dir);
      },
      /no longer inside its attempt's artifacts folder/,
    ],
    [
      'the file swapped for a folder',
      (p: string) => {
        rmSync(p);
        mkdirSync(p);
      },
      /not a regular file/,
    ],
  ])('%s: 404, and nothing leaks', async (_n, trick, why) => {
    writeFileSync(secret, 'TOP SECRET\n', { mode: 0o600 });
    const { path, url } = await withArtifact();
    trick(path);
    const r = await http(m.server.port, url, { headers: auth });
    expect(r.status).toBe(404);
    expect(r.body).not.toContain('TOP SECRET');
    expect(r.body).toMatch(why);
  });
});

describe('the error codes the API documents', () => {
  /** The code and HTTP status of a refusal, whether tRPC's envelope or the server's own. */
  const codeOf = (r: { status: number; body: string }): [string, number] => {
    const b = JSON.parse(r.body) as { error?: { code?: string; json?: { data?: { appCode?: string } } } };
    return [b.error?.json?.data?.appCode ?? b.error?.code ?? '?', r.status];
  };
  const query = (path: string, input: unknown, headers = auth) =>
    http(m.server.port, `/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`, { headers });
  const mutate = (path: string, input: unknown) =>
    http(m.server.port, `/trpc/${path}`, { method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' }, body: JSON.stringify({ json: input }) });

  it('each comes with its HTTP status, as the README lists them, and the README lists every one', async () => {
    const ended = await api.tasks.submit.mutate({ agent: 'ok' });
    await waitFor(async () => (await api.tasks.get.query({ id: ended.id })).state === 'succeeded', 'a task to end');
    const seen: Record<string, [string, number]> = {
      UNKNOWN_AGENT: codeOf(await mutate('tasks.submit', { agent: 'nope' })),
      INVALID_INPUT: codeOf(await mutate('tasks.submit', { agent: 'ok', priority: 1e6 })),
      UNSATISFIABLE: codeOf(await mutate('tasks.submit', { agent: 'ok', resources: { memoryMB: 16 * 1024 * 1024 } })),
      NOT_FOUND: codeOf(await query('tasks.get', { id: 999_999 })),
      INVALID_STATE: codeOf(await mutate('tasks.cancel', { id: ended.id })),
      UNAUTHORIZED: codeOf(await query('health', null, {})),
      FORBIDDEN: codeOf(await query('health', null, { ...auth, Host: 'evil.example:80' })),
      PAYLOAD_TOO_LARGE: codeOf(await http(m.server.port, `/trpc/${Array.from({ length: 51 }, () => 'health').join(',')}?batch=1`, { headers: auth })),
    };
    const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
    const documented = [...readme.matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \|/gm)].map((x) => [x[1]!, Number(x[2])] as const);
    const { API_ERROR_CODES } = await import('../../contracts/errors.js');
    expect(documented.map(([c]) => c).sort()).toEqual([...API_ERROR_CODES].sort());
    for (const [code, status] of documented) {
      if (code === 'INTERNAL') continue; // a bug, or a full disk: not something a request can ask for
      expect(seen[code], code).toEqual([code, status]);
    }
  });
});
