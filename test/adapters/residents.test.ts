import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ResidentMonitor, type ResidentConfig } from '../../src-main/adapters/residents/monitor.js';
import type { NodeSnapshot } from '../../src-main/core/model/node.js';
import { node, rtx4060 } from '../helpers/fakes.js';

/**
 * The resident port's contract (core/ports.ts ResidentPort), against servers that misbehave: an
 * answer that is not JSON, JSON in the wrong shape, one that comes too late or trickles in, and
 * an unload that fails. Every call has a deadline; what the Manager reads (`current`) answers at
 * once from the last poll, whatever the server does; failures are a status with a retry.
 */
type Handler = (path: string, res: ServerResponse, body: string) => void;
const servers: Server[] = [];
const monitors: ResidentMonitor[] = [];
afterEach(() => {
  for (const m of monitors.splice(0)) m.stop();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

async function serve(handler: Handler): Promise<string> {
  const s = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => handler(new URL(req.url!, 'http://x').pathname, res, body));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const warnings: string[] = [];
const logger = { info() {}, warn: (m: string) => void warnings.push(m), error() {} };

function monitor(url: string, timeoutMs = 300): ResidentMonitor {
  const config: ResidentConfig = {
    ollama: { url, policy: 'when-idle' },
    comfyui: { url: '', policy: 'when-idle' },
    llamacpp: { url: '', policy: 'when-idle' },
  };
  const m = new ResidentMonitor(config, { logger, pollMs: 50, timeoutMs });
  monitors.push(m);
  m.start();
  return m;
}

const card: NodeSnapshot = node({ gpus: [rtx4060({ usedMB: 400, processes: [] })] });

const settle = async <T>(get: () => T, ok: (v: T) => boolean, what: string, ms = 10_000): Promise<T> => {
  const end = Date.now() + ms;
  for (;;) {
    const v = get();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

const PS = { models: [{ name: 'llama3.1:8b', model: 'llama3.1:8b', size: 5_000_000_000, size_vram: 5600 * 1048576, expires_at: '2026-12-02T15:00:00Z' }] };
const TAGS = {
  models: [
    { name: 'llama3.1:8b', size: 4700 * 1048576 },
    { name: 'qwen2.5:latest', size: 4000 * 1048576 },
  ],
};
const json = (res: ServerResponse, body: unknown, status = 200) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('residents: the port, against servers that misbehave', () => {
  it('a well-behaved Ollama: its models, what each needs, and the reported VRAM on the one GPU where its processes are not listed', async () => {
    const url = await serve((path, res) => (path === '/api/ps' ? json(res, PS) : path === '/api/tags' ? json(res, TAGS) : json(res, { error: 'no' }, 404)));
    const m = monitor(url);
    const [r] = await settle(
      () => m.current(card),
      (x) => x[0]?.state === 'ok',
      'the first poll',
    );
    expect(r).toMatchObject({ kind: 'ollama', reachable: true, models: [{ name: 'llama3.1:8b', vramMB: 5600 }], message: null });
    expect([...r!.perGpuMB]).toEqual([[0, 5600]]);
    // Loaded: what it holds; pulled only: an estimate from its weights; ":latest" by its bare name; unknown: null.
    expect(m.modelVramMB('ollama', 'llama3.1:8b')).toBe(5600);
    expect(m.modelVramMB('ollama', 'qwen2.5')).toBe(Math.ceil(4000 * 1.15 + 512));
    expect(m.modelVramMB('ollama', 'mistral:7b')).toBeNull();
    expect(m.modelVramMB('comfyui', 'x')).toBeNull();
  });

  it('garbage (not JSON, or JSON of another shape) is an error status with its retry, and what it held before is not trusted', async () => {
    let mode: 'ok' | 'text' | 'shape' = 'ok';
    const url = await serve((path, res) => {
      if (mode === 'text') return res.end('<html>502 Bad Gateway</html>');
      if (mode === 'shape') return json(res, { models: 'llama3.1:8b' });
      return path === '/api/ps' ? json(res, PS) : json(res, TAGS);
    });
    const m = monitor(url);
    await settle(
      () => m.current(card),
      (x) => x[0]?.state === 'ok',
      'the first poll',
    );
    mode = 'text';
    const [bad] = await settle(
      () => m.current(card),
      (x) => x[0]?.state === 'error',
      'the error',
    );
    expect(bad!.message).toMatch(/\/api\/ps answered something that is not JSON: "<html>502 Bad Gateway<\/html>"; tried again in \d+ s$/);
    expect(bad).toMatchObject({ reachable: false, models: [] });
    expect([...bad!.perGpuMB]).toEqual([]);
    expect(warnings.some((w) => /Ollama is not answering; its VRAM counts as any other program's/.test(w))).toBe(true);
    mode = 'shape';
    const [shape] = await settle(
      () => m.current(card),
      (x) => /documented shape/.test(x[0]?.message ?? ''),
      'the shape error',
      15_000,
    );
    expect(shape!.message).toMatch(/^Ollama \/api\/ps is not in the documented shape \(models: .*\); tried again in \d+ s$/);
    // Answering properly again: back to ok at the next try.
    mode = 'ok';
    await settle(
      () => m.current(card),
      (x) => x[0]?.state === 'ok',
      'recovery',
      15_000,
    );
  });

  it('one that answers too late, or trickles its answer, is unreachable within the deadline; reading the port never waits for it', async () => {
    const late: ServerResponse[] = [];
    let mode: 'late' | 'trickle' = 'late';
    const url = await serve((_path, res) => {
      if (mode === 'late') return void late.push(res); // never answered
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"models": [');
      // ... and the rest never comes
      late.push(res);
    });
    const m = monitor(url, 200);
    const [r] = await settle(
      () => m.current(card),
      (x) => x[0]?.state === 'unreachable' && /no answer within 200 ms/.test(x[0].message ?? ''),
      'the deadline',
    );
    expect(r!.message).toMatch(/^no answer from http:\/\/127\.0\.0\.1:\d+\/api\/ps \(no answer within 200 ms\); tried again in \d+ s$/);
    mode = 'trickle';
    await settle(
      () => m.current(card),
      (x) => /broke off its answer|no answer within 200 ms/.test(x[0]?.message ?? '') && late.length > 1,
      'the trickle cut off',
      15_000,
    );
    // While a call is still out (an answer never finished), the port answers from the last poll: a status, not a wait.
    const pending = late.filter((res) => !res.writableEnded).length;
    expect(pending).toBeGreaterThan(0);
    expect(m.current(card)[0]).toMatchObject({ state: 'unreachable', reachable: false });
    for (const res of late) res.destroy();
  });

  it('an unload the server refuses is logged, never thrown; the next poll says what it holds', async () => {
    let asked = 0;
    const url = await serve((path, res) => {
      if (path === '/api/generate') {
        asked++;
        return json(res, { error: 'server busy' }, 503);
      }
      return path === '/api/ps' ? json(res, PS) : json(res, TAGS);
    });
    const m = monitor(url);
    await settle(
      () => m.current(card),
      (x) => x[0]?.state === 'ok',
      'the first poll',
    );
    expect(() => m.unload('ollama', ['llama3.1:8b'])).not.toThrow();
    await settle(
      () => warnings,
      (w) => w.some((x) => /Ollama did not take the unload/.test(x)),
      'the warning',
    );
    expect(asked).toBe(1);
    expect(m.current(card)[0]).toMatchObject({ state: 'ok', models: [{ name: 'llama3.1:8b', vramMB: 5600 }] });
  });
});
