import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { Families } from '../../../src-main/adapters/process/families.js';
import { readProcStat } from '../../../src-main/adapters/process/proc-stat.js';
import { ProcessGroupSampler } from '../../../src-main/adapters/telemetry/process-groups.js';
import { killIfSame, remember } from '../../helpers/fakes.js';
import { waitFor } from '../../helpers/wait.js';

describe('ProcessGroupSampler', () => {
  it('measures the RAM and CPU of a whole process group, children included', async () => {
    // A group of two: a parent holding 60 MB and a child spinning a core.
    // Both run until killed below: on a loaded machine they may take a while to start.
    const script = `const b = Buffer.alloc(60e6, 1); require('child_process').spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }); setInterval(() => b.length, 1000);`;
    const child = spawn(process.execPath, ['-e', script], { detached: true, stdio: 'ignore' });
    const pgid = child.pid!;
    try {
      await waitFor(() => new ProcessGroupSampler().sample(new Set([pgid])).get(pgid)?.processes === 2, 'both processes to start');
      const s = new ProcessGroupSampler();
      const first = s.sample(new Set([pgid])).get(pgid)!;
      expect(first.processes).toBe(2);
      expect(first.cpuCores).toBeNull(); // no earlier sample to compare with
      // Each look measures the CPU used since the one before: a third of a second apart, until the
      // spinning child (a core's worth, less what a loaded machine takes from it) shows.
      let second = s.sample(new Set([pgid])).get(pgid)!;
      await waitFor(
        () => {
          second = s.sample(new Set([pgid])).get(pgid)!;
          return second.rssMB >= 60 && (second.cpuCores ?? 0) > 0.5;
        },
        'the group to be measured whole',
        15_000,
        300,
      );
      expect(second.rssMB).toBeGreaterThanOrEqual(60);
      expect(second.cpuCores).toBeGreaterThan(0.5);
      expect(s.sample(new Set()).size).toBe(0);
      expect(s.sample(new Set([2 ** 22 + 11])).size).toBe(0);
    } finally {
      process.kill(-pgid, 'SIGKILL');
    }
  });

  it("with Families, a process that left the group (setsid) still counts as the agent's", async () => {
    // A group leader that starts a 40 MB daemon in a session of its own.
    const daemon = `const b = Buffer.alloc(40e6, 1); setTimeout(() => b.length, 5000);`;
    const script = `require('child_process').spawn('setsid', [process.execPath, '-e', ${JSON.stringify(daemon)}], { stdio: 'ignore' }); setTimeout(() => {}, 5000);`;
    const child = spawn(process.execPath, ['-e', script], { detached: true, stdio: 'ignore' });
    const pgid = child.pid!;
    const leader = remember(pgid);
    const families = new Families();
    families.track(pgid);
    try {
      // Until the daemon has started and filled its buffer (node takes a moment to start).
      let plain = new ProcessGroupSampler().sample(new Set([pgid])).get(pgid);
      let withFamilies = new ProcessGroupSampler(families).sample(new Set([pgid])).get(pgid);
      for (let i = 0; i < 100 && !(plain && withFamilies && withFamilies.processes === 2 && withFamilies.rssMB - plain.rssMB >= 40); i++) {
        await new Promise((r) => setTimeout(r, 100));
        plain = new ProcessGroupSampler().sample(new Set([pgid])).get(pgid);
        withFamilies = new ProcessGroupSampler(families).sample(new Set([pgid])).get(pgid);
      }
      if (!plain || !withFamilies) throw new Error('the group was not seen');
      expect(plain.processes).toBe(1);
      expect(withFamilies.processes).toBe(2);
      expect(withFamilies.rssMB - plain.rssMB).toBeGreaterThanOrEqual(40);
      const [escaped] = families.escaped(pgid);
      expect(readProcStat(escaped!.pid)!.pgrp).toBe(escaped!.pid); // it leads a group of its own
      expect(families.ownerOf(escaped!.pid)).toBe(pgid);
      // Its parent gone, it is still the agent's (remembered by pid and start time).
      process.kill(pgid, 'SIGKILL');
      await waitFor(() => new ProcessGroupSampler(families).sample(new Set([pgid])).get(pgid)?.processes === 1, 'the leader to be gone');
      expect(new ProcessGroupSampler(families).sample(new Set([pgid])).get(pgid)!.processes).toBe(1);
      expect(families.signalEscaped(pgid, 'SIGKILL')).toBe(1);
    } finally {
      // Only what is still ours: a number freed above may already be another process's.
      for (const m of families.escaped(pgid)) killIfSame({ pid: m.pid, startTime: m.startTime }, false);
      killIfSame(leader);
    }
  });
});
