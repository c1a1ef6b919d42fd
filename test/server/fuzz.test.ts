import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeadlessManager } from '../../src-main/headless.js';
import { tempDir } from '../helpers/fakes.js';
import { http } from '../helpers/http.js';
import { startTestServer } from '../helpers/server.js';

/** Issue 10: whatever a client sends, the answer is a 4xx that says what is wrong, never a 5xx. */
const t = tempDir();
let m: HeadlessManager;
let auth: Record<string, string>;

beforeAll(async () => {
  m = await startTestServer(t.dir);
  auth = { Authorization: `Bearer ${m.token}`, 'Content-Type': 'application/json' };
  m.services.manager.setPaused(true); // nothing submitted here runs
});
afterAll(async () => {
  await m.stop({ stopAgents: true });
  t.cleanup();
});

const MUTATIONS = [
  'tasks.submit',
  'tasks.submitBatch',
  'tasks.cancel',
  'tasks.retry',
  'tasks.setPriority',
  'tasks.cancelMany',
  'tasks.move',
  'tasks.cancelArray',
  'tasks.retryArray',
  'settings.update',
];
const QUERIES = ['tasks.get', 'tasks.getMany', 'tasks.arrays', 'tasks.page', 'tasks.list', 'tasks.logs', 'telemetry.history'];

/** Plain JSON of any shape, with the field names the procedures know mixed in, so some get deep. */
const known = fc.constantFrom(
  'agent',
  'input',
  'priority',
  'resources',
  'gpu',
  'vramMB',
  'id',
  'ids',
  'state',
  'limit',
  'offset',
  'sort',
  'range',
  'maxConcurrency',
  'name',
  'dependsOn',
  'dependsMode',
  'type',
  'refs',
  'ref',
  'array',
  'each',
  'throttle',
  'arrayId',
  'before',
  'to',
  'withDependents',
);
const value = fc.letrec((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.string({ maxLength: 20 }),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(known, fc.string({ maxLength: 8 })), tie('v'), { maxKeys: 5 }),
  ),
})).v;
/** Bodies that are not even JSON, or JSON in the wrong envelope. */
const raw = fc.oneof(
  value.map((v) => JSON.stringify({ json: v })),
  value.map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('', '{', '{"json":', '[]', 'null', '{"json":{"agent":"ok","input":{"__proto__":{"x":1}}}}'),
);

describe('input fuzzing with fast-check', () => {
  it('fuzz: any body to any mutation gets an answer below 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...MUTATIONS), raw, async (proc, body) => {
        const r = await http(m.server.port, `/trpc/${proc}`, { method: 'POST', headers: auth, body });
        expect(r.status, `${proc} ${body.slice(0, 200)} -> ${r.body.slice(0, 300)}`).toBeLessThan(500);
      }),
      { numRuns: 300 },
    );
    expect((await http(m.server.port, '/trpc/health', { headers: auth })).status).toBe(200); // and it still answers
  });

  it('fuzz: any input to any query gets an answer below 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...QUERIES), value, async (proc, input) => {
        const r = await http(m.server.port, `/trpc/${proc}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`, { headers: auth });
        expect(r.status, `${proc} ${JSON.stringify(input).slice(0, 200)} -> ${r.body.slice(0, 300)}`).toBeLessThan(500);
      }),
      { numRuns: 300 },
    );
  });
});
