import { afterEach, describe, expect, it } from 'vitest';
import { agent, FakeRunner } from '../../helpers/fakes.js';
import { harness, type Harness } from '../../helpers/harness.js';

/**
 * What a task used on the Slurm cluster (sacct's peaks, reported as the outcome's `measured`)
 * teaches the agent's cluster profile, tagged with where it was measured, and never this
 * machine's: the local scheduler sizes tasks by what they used here.
 */
const agents = [agent({ name: 'llm', resources: { cpu: 1, memoryMB: 500, gpu: { count: 1, vramMB: 4000 } } })];

describe("the cluster's measurements teach the cluster profile, not this machine's", () => {
  let h: Harness;
  let slurm: FakeRunner;
  afterEach(() => h?.close());

  function runThere(n: number, vramMB: number, memoryMB: number): void {
    for (let i = 0; i < n; i++) {
      const [t] = h.manager.submit([{ agent: 'llm', backend: 'slurm' }]);
      h.clock.flush();
      slurm.runs.at(-1)!.exit({ exitCode: 0, measured: { vramMB, memoryMB, cpu: null, where: 'slurm' } });
      h.clock.flush();
      expect(h.store.getTask(t!.id)!.state).toBe('succeeded');
    }
  }

  it('three successes there: recorded with where they were measured; the cluster profile learns, this one does not', () => {
    slurm = new FakeRunner();
    h = harness(agents, {}, { store: 'sqlite', slurm, cluster: { freeNodes: async () => [] } });
    runThere(3, 38_000, 12_000);
    const last = h.store.listTasks({ limit: 1 })[0]!;
    expect(h.store.attempts(last.id)[0]).toMatchObject({ peakVramMB: 38_000, peakMemoryMB: 12_000, peakWhere: 'slurm' });
    expect(h.manager.profile('llm')).toBeNull();
    const there = h.manager.profile('llm', 'slurm')!;
    expect(there.samples).toBe(3);
    expect(there.p95).toMatchObject({ vramMB: 38_000, memoryMB: 12_000 });
    // A task for the cluster asks for what it used there.
    const [next] = h.manager.submit([{ agent: 'llm', backend: 'slurm' }]);
    expect(next!.request.memoryMB).toBe(there.request.memoryMB);
    expect(next!.request.memoryMB).toBeGreaterThan(12_000);
  });

  it('auto: an agent never measured here that used 38 GB of VRAM there goes to the cluster, sized by what it used there', () => {
    slurm = new FakeRunner();
    h = harness(agents, {}, { slurm, cluster: { freeNodes: async () => [] } });
    // Declared 4 GB: it would fit the 8 GB card, and went here.
    expect(h.manager.submit([{ agent: 'llm', backend: 'auto' }])[0]!.backend).toBe('local');
    h.clock.flush();
    h.runner.runs.at(-1)!.exit({ exitCode: 0 });
    h.clock.flush();
    runThere(3, 38_000, 12_000);
    // Learned there: it can never fit here, so auto sends it there, sized by what it used there.
    const [big] = h.manager.submit([{ agent: 'llm', backend: 'auto' }]);
    expect(big!.backend).toBe('slurm');
    expect(big!.request.gpu!.vramMB).toBeGreaterThan(38_000);
    // An explicit local request is still this machine's declared size (the cluster's figures are not this machine's).
    expect(h.manager.submit([{ agent: 'llm' }])[0]!.request.gpu!.vramMB).toBe(4000);
  });
});
