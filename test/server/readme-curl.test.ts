import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

describe("the README's curl walkthrough", () => {
  it('runs as written against a real Manager: submit, watch, result, artifact', async () => {
    const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
    const block = /<!-- curl-walkthrough -->\n```sh\n([\s\S]*?)```\n<!-- \/curl-walkthrough -->/.exec(readme)?.[1];
    expect(block, 'the README keeps its walkthrough between the curl-walkthrough markers').toBeDefined();
    const cwd = mkdtempSync(join(tmpdir(), 'curl-walkthrough-'));
    try {
      // Not spawnSync: the Manager answering it runs in this process.
      const r = await new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
        const c = spawn('bash', ['-euo', 'pipefail', '-c', block!], { cwd, env: { ...process.env, AGENTMGR_DATA_DIR: t.dir, AGENTMGR_URL: m.server.url } });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (d) => (stdout += d));
        c.stderr.on('data', (d) => (stderr += d));
        const timer = setTimeout(() => c.kill('SIGKILL'), 25_000);
        c.on('close', (status) => {
          clearTimeout(timer);
          done({ status, stdout, stderr });
        });
      });
      expect({ code: r.status, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(/\.sha256$/m);
      expect(r.stdout).toMatch(/^submitted task \d+$/m);
      expect(r.stdout).toMatch(/"result":\{"file":"\/etc\/os-release",.*"sha256":"[0-9a-f]{64}"\}/);
      expect(readdirSync(cwd).filter((f) => f.endsWith('.sha256'))).toHaveLength(1);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
