import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

describe("the README's curl walkthrough", () => {
  it('runs as written against a real Manager: submit, watch, result, artifact', async () => {
    const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
    const block = /<!-- curl-walkthrough -->\n```sh\n([\s\S]*?)```\n<!-- \/curl-walkthrough -->/.exec(readme)?.[1];
    expect(block, 'the README keeps its walkthrough between the curl-walkthrough markers').toBeDefined();
    const cwd = mkdtempSync(join(tmpdir(), 'curl-walkthrough-'));
    try {
      const r = await runChild('bash', ['-euo', 'pipefail', '-c', block!], {
        cwd,
        env: { ...process.env, AGENTMGR_DATA_DIR: t.dir, AGENTMGR_URL: m.server.url },
        timeoutMs: 25_000,
      });
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r.stdout).toMatch(/\.sha256$/m);
      expect(r.stdout).toMatch(/^submitted task \d+$/m);
      expect(r.stdout).toMatch(/"result":\{"file":"\/etc\/os-release",.*"sha256":"[0-9a-f]{64}"\}/);
      expect(readdirSync(cwd).filter((f) => f.endsWith('.sha256'))).toHaveLength(1);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
