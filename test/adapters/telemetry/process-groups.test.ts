import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ProcessGroupSampler } from '../../../src-main/adapters/telemetry/process-groups.js';

describe('ProcessGroupSampler', () => {
  it('measures the RAM and CPU of a whole process group, children included', async () => {
    // A group of two: a parent holding 60 MB and a child spinning a core.
    const script = `const b = Buffer.alloc(60e6, 1); require('child_process').spawn(process.execPath, ['-e', 'const e = Date.now() + 3000; while (Date.now() < e) {}'], { stdio: 'ignore' }); setTimeout(() => b.length, 3000);`;
    const child = spawn(process.execPath, ['-e', script], { detached: true, stdio: 'ignore' });
    const pgid = child.pid!;
    try {
      const s = new ProcessGroupSampler();
      await new Promise((r) => setTimeout(r, 600));
      const first = s.sample(new Set([pgid])).get(pgid)!;
      expect(first.processes).toBe(2);
      expect(first.cpuCores).toBeNull(); // no earlier sample to compare with
      await new Promise((r) => setTimeout(r, 800));
      const second = s.sample(new Set([pgid])).get(pgid)!;
      expect(second.rssMB).toBeGreaterThanOrEqual(60);
      expect(second.cpuCores).toBeGreaterThan(0.5);
      expect(s.sample(new Set()).size).toBe(0);
      expect(s.sample(new Set([2 ** 22 + 11])).size).toBe(0);
    } finally {
      process.kill(-pgid, 'SIGKILL');
    }
  });
});
