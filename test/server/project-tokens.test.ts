import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { TRPCClientError } from '@trpc/client';
import { RpcError } from '../../src-main/cli/rpc.js';
import { createClient, type ApiClient } from '../../src-main/cli/client.js';
import type { HeadlessManager } from '../../src-main/headless.js';
import { tempDir } from '../helpers/fakes.js';
import { http } from '../helpers/http.js';
import { startTestServer } from '../helpers/server.js';

/** A real server, the main token, and a token bound to project "scripts". */
const t = tempDir();
let m: HeadlessManager;
let main: ApiClient;
let scoped: ApiClient;
let scopedToken: string;
const closers: (() => void)[] = [];

async function refused(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TRPCClientError || e instanceof RpcError)
      return { code: (e.data as { appCode?: string; code?: string }).appCode ?? '', message: e.message };
    throw e;
  }
  throw new Error('expected a refusal');
}

beforeAll(async () => {
  m = await startTestServer(join(t.dir, 'data'));
  const a = createClient({ url: m.server.url, token: m.token });
  main = a.api;
  closers.push(a.close);
  const made = await main.tokens.create.mutate({ project: 'scripts', label: 'nightly' });
  scopedToken = made.token;
  const b = createClient({ url: m.server.url, token: scopedToken });
  scoped = b.api;
  closers.push(b.close);
});
afterAll(async () => {
  for (const c of closers) c();
  await m.stop({ stopAgents: true });
  t.cleanup();
});

describe('a token bound to a project', () => {
  it("submits to its own project, sees only its tasks, and cannot see or cancel another project's", async () => {
    await main.queue.pause.mutate();
    const theirs = await main.tasks.submit.mutate({ agent: 'demo', project: 'team', input: { seconds: 60 } });
    const mine = await scoped.tasks.submit.mutate({ agent: 'demo', input: { seconds: 60 } });
    expect(mine.project).toBe('scripts');
    // Not listed, not found, not cancelled: as if it were not there.
    const listed = await scoped.tasks.list.query({});
    expect(listed.items.map((x) => x.id)).toEqual([mine.id]);
    expect((await scoped.tasks.page.query({})).items.map((x) => x.id)).toEqual([mine.id]);
    // Even when it asks for the other project by name.
    expect((await scoped.tasks.list.query({ project: 'team' })).items.map((x) => x.id)).toEqual([mine.id]);
    for (const call of [
      () => scoped.tasks.get.query({ id: theirs.id }),
      () => scoped.tasks.cancel.mutate({ id: theirs.id }),
      () => scoped.tasks.setPriority.mutate({ id: theirs.id, priority: 5 }),
      () => scoped.tasks.logs.query({ id: theirs.id }),
      () => scoped.tasks.cancelMany.mutate({ ids: [mine.id, theirs.id] }),
      () => scoped.tasks.move.mutate({ id: mine.id, before: theirs.id }),
    ]) {
      const e = await refused(call());
      expect(e.code).toBe('NOT_FOUND');
      expect(e.message).toMatch(new RegExp(`no task with id ${theirs.id} in project scripts`));
    }
    expect((await main.tasks.get.query({ id: theirs.id })).state).toBe('queued');
    expect((await main.tasks.get.query({ id: mine.id })).state).toBe('queued'); // the bulk call changed nothing
    // Its own task it can change.
    expect((await scoped.tasks.cancel.mutate({ id: mine.id })).state).toBe('cancelled');
    // The main token sees every project's, and can narrow to one.
    expect((await main.tasks.list.query({})).items.map((x) => x.id).sort()).toEqual([theirs.id, mine.id].sort());
    expect((await main.tasks.list.query({ project: 'team' })).items.map((x) => x.id)).toEqual([theirs.id]);
    await main.tasks.cancel.mutate({ id: theirs.id });
    await main.queue.resume.mutate();
  });

  it('cannot submit to another project, and the message names the rule', async () => {
    const e = await refused(scoped.tasks.submit.mutate({ agent: 'demo', project: 'team' }));
    expect(e.code).toBe('FORBIDDEN');
    expect(e.message).toMatch(/this token is bound to project scripts: it cannot submit to project team/);
    const batch = await refused(scoped.tasks.submitBatch.mutate([{ agent: 'demo' }, { agent: 'demo', project: 'other' }]));
    expect(batch.message).toMatch(/cannot submit to project other \(task 2 of the batch\)/);
    expect((await main.tasks.list.query({ project: 'other' })).items).toEqual([]);
  });

  it('cannot change settings, pause the queue, set projects or make tokens', async () => {
    for (const call of [
      () => scoped.settings.update.mutate({ maxConcurrency: 1 }),
      () => scoped.queue.pause.mutate(),
      () => scoped.projects.set.mutate({ name: 'scripts', patch: { weight: 100 } }),
      () => scoped.tokens.create.mutate({ project: 'team' }),
      () => scoped.tokens.list.query(),
    ]) {
      const e = await refused(call());
      expect(e.code).toBe('FORBIDDEN');
      expect(e.message).toMatch(/this token is bound to project scripts.*this needs the main token/);
    }
    expect((await main.queue.status.query()).paused).toBe(false);
    // It sees its own project only.
    expect((await scoped.projects.list.query()).map((p) => p.name)).toEqual(['scripts']);
  });

  it("its live stream carries only its project's tasks", async () => {
    const ws = new WebSocket(`${m.server.url.replace('http', 'ws')}/trpc?token=${scopedToken}`, { headers: { Origin: m.server.url } });
    const seen: number[] = [];
    let started = false;
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { result?: { type?: string; data?: { json?: { id?: number } } } };
      if (msg.result?.type === 'started') started = true;
      const id = msg.result?.data?.json?.id;
      if (msg.result?.type === 'data' && typeof id === 'number') seen.push(id);
    });
    ws.send(JSON.stringify({ id: 1, method: 'subscription', params: { path: 'tasks.changes', input: { json: undefined } } }));
    const ready = Date.now() + 10_000;
    while (!started && Date.now() < ready) await new Promise((r) => setTimeout(r, 20));
    expect(started).toBe(true);
    const theirs = await main.tasks.submit.mutate({ agent: 'demo', project: 'team', input: { seconds: 0.1 } });
    const mine = await scoped.tasks.submit.mutate({ agent: 'demo', input: { seconds: 0.1 } });
    const end = Date.now() + 15_000;
    while (!seen.includes(mine.id) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    ws.close();
    expect(seen).toContain(mine.id);
    expect(seen).not.toContain(theirs.id);
  });

  it('an artifact of another project is not served to it; a revoked token is refused', async () => {
    const theirs = await main.tasks.submit.mutate({ agent: 'demo', project: 'team', input: { seconds: 0 } });
    const r = await http(m.server.port, `/artifacts/${theirs.id}/0`, { headers: { Authorization: `Bearer ${scopedToken}` } });
    expect(r.status).toBe(404);
    expect(JSON.parse(r.body).error.message).toMatch(/in project scripts/);
    const list = await main.tokens.list.query();
    expect(list).toEqual([expect.objectContaining({ project: 'scripts', label: 'nightly', prefix: scopedToken.slice(0, 10) })]);
    expect(JSON.stringify(list)).not.toContain(scopedToken);
    await main.tokens.revoke.mutate({ id: list[0]!.id });
    const after = await http(m.server.port, '/trpc/health', { headers: { Authorization: `Bearer ${scopedToken}` } });
    expect(after.status).toBe(401);
    expect((await refused(main.tokens.revoke.mutate({ id: list[0]!.id }))).message).toMatch(/no live token with id/);
  });
});
