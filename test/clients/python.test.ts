import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HeadlessManager } from '../../src-main/headless.js';
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
    // Not spawnSync: the Manager it talks to runs in this process.
    const r = await new Promise<{ code: number | null; out: string }>((done) => {
      const c = spawn('python3', ['-m', 'unittest', 'discover', '-v', '-s', 'tests'], {
        cwd: dir,
        env: { ...process.env, AGENTMGR_DATA_DIR: t.dir, AGENTMGR_URL: m.server.url, AGENTMGR_TOKEN: '', PYTHONDONTWRITEBYTECODE: '1' },
      });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.stderr.on('data', (d) => (out += d));
      const timer = setTimeout(() => c.kill('SIGKILL'), 90_000);
      c.on('close', (code) => {
        clearTimeout(timer);
        done({ code, out });
      });
    });
    expect(r.out).toMatch(/Ran \d+ tests/);
    expect({ code: r.code, out: r.code === 0 ? '' : r.out }).toEqual({ code: 0, out: '' });
  }, 120_000);
});
