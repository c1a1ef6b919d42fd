import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeadlessManager } from '../../src-main/headless.js';
import { runChild } from '../helpers/child.js';
import { tempDir } from '../helpers/fakes.js';
import { startTestServer } from '../helpers/server.js';

const t = tempDir();
let m: HeadlessManager;
beforeAll(async () => {
  m = await startTestServer(t.dir);
});
afterAll(async () => {
  await m.stop({ stopAgents: true });
  t.cleanup();
});

describe('the Python client (clients/python)', () => {
  it("passes its own unittest suite against a real Manager, with Debian's python3", async () => {
    const dir = join(__dirname, '../../clients/python');
    const r = await runChild('python3', ['-m', 'unittest', 'discover', '-v', '-s', 'tests'], {
      cwd: dir,
      env: { ...process.env, AGENTMGR_DATA_DIR: t.dir, AGENTMGR_URL: m.server.url, AGENTMGR_TOKEN: '', PYTHONDONTWRITEBYTECODE: '1' },
      timeoutMs: 90_000,
    });
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/Ran \d+ tests/);
    expect({ code: r.code, out: r.code === 0 ? '' : out }).toEqual({ code: 0, out: '' });
  }, 120_000);
});
