import { existsSync, utimesSync } from 'node:fs';
import { dirname } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src-main/cli/client.js';
import type { HeadlessManager } from '../../src-main/headless.js';
import { tempDir } from '../helpers/fakes.js';
import { http } from '../helpers/http.js';
import { startTestServer } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const t = tempDir();
let m: HeadlessManager | null = null;
afterAll(async () => {
  await m?.stop({ stopAgents: true });
  t.cleanup();
});

const upload = async (name: string, body: string): Promise<string> => {
  const r = await http(m!.server.port, `/upload?name=${name}`, { method: 'POST', headers: { Authorization: `Bearer ${m!.token}` }, body });
  expect(r.status).toBe(200);
  return (JSON.parse(r.body) as { path: string }).path;
};
/** Makes an upload's folder look two hours old, past the grace an unsubmitted upload gets. */
const age = (file: string): void => {
  const then = new Date(Date.now() - 2 * 3600_000);
  utimesSync(dirname(file), then, then);
};

describe('uploads are cleaned up', () => {
  it('an upload no task names goes after the grace period; one a task names stays until that task is removed', async () => {
    m = await startTestServer(t.dir);
    const used = await upload('photo.txt', 'used by a task');
    const never = await upload('dropped.txt', 'dropped, then the dialog was cancelled');
    const fresh = await upload('just-now.txt', 'uploaded a moment ago, about to be submitted');
    const c = createClient({ url: m.server.url, token: m.token });
    const task = await c.api.tasks.submit.mutate({ agent: 'sha256', input: { file: used } });
    await waitFor(async () => (await c.api.tasks.get.query({ id: task.id })).state === 'succeeded', 'the checksum task to succeed');
    c.close();
    age(used);
    age(never);
    await m.stop({ stopAgents: true });

    // The sweep at start: the unsubmitted old upload is gone; the named one and the fresh one stay.
    m = await startTestServer(t.dir);
    expect(existsSync(dirname(never))).toBe(false);
    expect(existsSync(used)).toBe(true);
    expect(existsSync(fresh)).toBe(true);

    // Removing the task that names it lets its upload go.
    const c2 = createClient({ url: m.server.url, token: m.token });
    expect((await c2.api.tasks.remove.mutate({ ids: [task.id] })).done).toEqual([task.id]);
    c2.close();
    expect(existsSync(dirname(used))).toBe(false);
    expect(existsSync(fresh)).toBe(true);
  });
});
