import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';

const script = resolve(__dirname, '../../scripts/test-all.mjs');
const node = JSON.stringify(process.execPath);
/** Alive and not a zombie (a killed orphan may wait a moment for its reaper). */
const alive = (pid: number): boolean => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

let dir = '';
const pids: number[] = [];
afterEach(() => {
  for (const pid of pids.splice(0)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function runAll(plan: unknown): Promise<{ code: number; out: string }> {
  writeFileSync(join(dir, 'plan.json'), JSON.stringify(plan));
  return new Promise((done) => {
    const child = spawn(process.execPath, [script, '--steps', join(dir, 'plan.json')], { cwd: dir });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => done({ code: code ?? 1, out }));
  });
}

/** A step that starts a detached process which would live forever, and writes its pid to FILE. */
function leaver(file: string, scrubbedEnv: string): string {
  const body = `setInterval(() => {}, 1000); /* ${scrubbedEnv} */`;
  const code = `const c = require('child_process').spawn(process.execPath, ['-e', ${JSON.stringify(body)}], { detached: true, stdio: 'ignore', env: ${scrubbedEnv ? '{}' : 'process.env'} }); require('fs').writeFileSync(${JSON.stringify(file)}, String(c.pid)); c.unref();`;
  return `${node} -e ${JSON.stringify(code)}`;
}

describe('npm test runner (scripts/test-all.mjs)', () => {
  it('runs every step even after one fails, reports each, and skips only what needs the failed one', async () => {
    dir = mkdtempSync(join(tmpdir(), 'test-all-'));
    const { code, out } = await runAll({
      steps: [
        { name: 'first', cmd: `${node} -e "process.exit(3)"` },
        { name: 'second', cmd: `${node} -e "require('fs').writeFileSync('second-ran', 'yes')"` },
        { name: 'after-first', cmd: `${node} -e 0`, needs: 'first' },
        { name: 'after-second', cmd: `${node} -e 0`, needs: 'second' },
      ],
    });
    expect(code).toBe(1);
    expect(readFileSync(join(dir, 'second-ran'), 'utf8')).toBe('yes');
    const summary = out.slice(out.indexOf('━━ summary'));
    expect(summary).toMatch(/first\s+FAILED\s+exit 3/);
    expect(summary).toMatch(/second\s+ok/);
    expect(summary).toMatch(/after-first\s+skipped\s+first failed/);
    expect(summary).toMatch(/after-second\s+ok/);
    expect(summary).toMatch(/leftovers\s+ok/);
    expect(summary).toContain('2 check(s) did not pass: first, after-first');
  });

  it('fails the run when a process a step started outlives it, names it and kills it', async () => {
    dir = mkdtempSync(join(tmpdir(), 'test-all-'));
    const tag = `leaver-${randomUUID()}`;
    const { code, out } = await runAll({
      steps: [
        { name: 'inherits', cmd: leaver(join(dir, 'a.pid'), '') },
        { name: 'scrubbed', cmd: leaver(join(dir, 'b.pid'), tag) },
      ],
      patterns: [tag],
    });
    const a = Number(readFileSync(join(dir, 'a.pid'), 'utf8'));
    const b = Number(readFileSync(join(dir, 'b.pid'), 'utf8'));
    pids.push(a, b);
    expect(code).toBe(1);
    expect(out).toMatch(/inherits\s+ok/);
    expect(out).toMatch(/leftovers\s+FAILED\s+2 process\(es\) outlived the tests \(killed now\)/);
    expect(out).toContain(`left behind: pid ${a}`);
    expect(out).toContain(`left behind: pid ${b}`);
    await waitFor(() => !alive(a) && !alive(b), 'the leftover processes to be killed');
    expect(existsSync(join(dir, 'plan.json'))).toBe(true);
  });

  it('passes a clean run', async () => {
    dir = mkdtempSync(join(tmpdir(), 'test-all-'));
    const { code, out } = await runAll({ steps: [{ name: 'only', cmd: `${node} -e 0` }] });
    expect(out).toMatch(/leftovers\s+ok/);
    expect(out).toContain('all checks passed');
    expect(code).toBe(0);
  });
});
