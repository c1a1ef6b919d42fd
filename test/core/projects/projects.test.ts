import { describe, expect, it } from 'vitest';
import { Projects, usageRate, type ProjectRecord } from '../../../src-main/core/projects/projects.js';

const HOUR = 3_600_000;
const gpuTask = (project: string, vramMB = 6144) => ({ project, request: { cpu: 1, memoryMB: 1000, gpu: { count: 1, vramMB } } });

function projects(halfLifeMs = HOUR, saved: ProjectRecord[] = []) {
  const writes: ProjectRecord[] = [];
  const p = new Projects({ load: () => saved, save: (r) => writes.push({ ...r }), saveEveryMs: 60_000 }, () => halfLifeMs);
  return { p, writes };
}

describe('projects: usage in resource-seconds, decayed', () => {
  it('the rate weighs what is scarce: 1 a GB of VRAM, 2 a GPU, 0.25 a CPU core', () => {
    expect(usageRate({ cpu: 4, memoryMB: 8000 })).toBe(1);
    expect(usageRate({ cpu: 1, memoryMB: 1000, gpu: { count: 1, vramMB: 6144 } })).toBe(0.25 + 2 + 6);
    expect(usageRate({ cpu: 0, memoryMB: 0, gpu: { count: 2, vramMB: 1024 } })).toBe(2 * (2 + 1));
  });

  it('a half-life of 0 forgets all usage at once', () => {
    const { p } = projects(0);
    p.accrue([], 0);
    p.accrue([gpuTask('a')], 10_000);
    expect(p.usage('a', 10_000)).toBe(0); // decays to nothing at once with a half-life of 0
  });

  it('with a half-life, usage is the decayed integral, and half of it is forgotten every half-life', () => {
    const { p } = projects(HOUR);
    p.accrue([], 0);
    // A short interval: almost exactly rate × seconds.
    p.accrue([gpuTask('a')], 1000);
    expect(p.usage('a', 1000)).toBeCloseTo(8.25, 2);
    p.accrue([], HOUR + 1000);
    expect(p.usage('a', HOUR + 1000)).toBeCloseTo(8.25 / 2, 2);
    // Read later without an accrue: decayed on the way.
    expect(p.usage('a', 2 * HOUR + 1000)).toBeCloseTo(8.25 / 4, 2);
    expect(p.usage('nobody', 0)).toBe(0);
  });

  it('two projects each accrue their own tasks; an hour of one 6 GB task is about its rate × 3600 × ln-2 decay', () => {
    const { p } = projects(HOUR);
    p.accrue([], 0);
    for (let t = 60_000; t <= HOUR; t += 60_000) p.accrue([gpuTask('a'), gpuTask('b', 1024), gpuTask('b', 1024)], t);
    const a = p.usage('a', HOUR);
    const b = p.usage('b', HOUR);
    const exact = (rate: number) => ((rate * 3600) / Math.LN2) * (1 - 0.5);
    expect(a).toBeCloseTo(exact(8.25), 0);
    expect(b).toBeCloseTo(exact(2 * 3.25), 0);
  });

  it('settings: weight must be more than 0, quotas whole and 0 or more; a project set is written and read back', () => {
    const { p, writes } = projects();
    expect(() => p.set('batch', { weight: 0 }, 0)).toThrow(/weight must be more than 0/);
    expect(() => p.set('batch', { weight: -1 }, 0)).toThrow(/weight must be more than 0/);
    expect(() => p.set('batch', { maxRunning: -1 }, 0)).toThrow(/maxRunning must be a whole number, 0 or more/);
    expect(() => p.set('batch', { maxVramMB: 1.5 }, 0)).toThrow(/maxVramMB must be a whole number/);
    expect(writes).toEqual([]);
    p.set('batch', { weight: 2, maxRunning: 4, maxVramMB: 6000 }, 5);
    expect(p.get('batch')).toMatchObject({ name: 'batch', weight: 2, maxRunning: 4, maxVramMB: 6000, maxQueued: null });
    const again = projects(HOUR, writes).p;
    expect(again.get('batch')).toMatchObject({ weight: 2, maxRunning: 4, maxVramMB: 6000 });
    // A project never set reads as the defaults.
    expect(p.get('other')).toMatchObject({ weight: 1, maxRunning: null, maxVramMB: null, maxQueued: null, usage: 0 });
  });

  it('usage is written now and then, and a refused write (a full disk) keeps it in memory to write later', () => {
    let fail = true;
    const writes: ProjectRecord[] = [];
    const p = new Projects(
      {
        load: () => [],
        save: (r) => {
          if (fail) throw Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' });
          writes.push({ ...r });
        },
        saveEveryMs: 1000,
      },
      () => HOUR,
    );
    p.accrue([], 0);
    p.accrue([gpuTask('a')], 5000);
    expect(writes).toEqual([]);
    fail = false;
    p.accrue([gpuTask('a')], 6000);
    expect(writes.find((w) => w.name === 'a')!.usage).toBeGreaterThan(40);
  });
});
