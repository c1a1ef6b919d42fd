import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterNode, ClusterPort } from '../../../src-main/core/ports.js';
import { offloadReason, pickOffloads } from '../../../src-main/core/runs/offload.js';
import { agent, FakeRunner } from '../../helpers/fakes.js';
import { harness, type Harness } from '../../helpers/harness.js';

const node = (over: Partial<ClusterNode> = {}): ClusterNode => ({
  name: 'n1',
  partitions: ['debug'],
  usable: true,
  idleCpus: 8,
  freeMemoryMB: 16_000,
  freeGpus: 1,
  ...over,
});

describe('pickOffloads: which waiting tasks the cluster takes', () => {
  const req = (cpu: number, memoryMB: number, gpus = 0) => ({ cpu, memoryMB, ...(gpus ? { gpu: { count: gpus, vramMB: 4000 } } : {}) });

  it('only those waiting longer than the setting (or with no start in sight), while a node has room', () => {
    const picks = pickOffloads(
      [
        { id: 1, request: req(1, 100), waitMs: 30_000 },
        { id: 2, request: req(1, 100), waitMs: 600_000 },
        { id: 3, request: req(1, 100), waitMs: null },
      ],
      [node()],
      60_000,
    );
    expect(picks.map((p) => p.id)).toEqual([2, 3]);
    expect(picks[0]).toEqual({ id: 2, node: 'n1', waitMs: 600_000 });
  });

  it('never more than the cluster said it has free: what one takes is gone for the next', () => {
    const c = (id: number) => ({ id, request: req(0.5, 100, 1), waitMs: null });
    // One GPU free on n1, one on n2; a third GPU task waits here.
    expect(pickOffloads([c(1), c(2), c(3)], [node(), node({ name: 'n2' })], 0).map((p) => [p.id, p.node])).toEqual([
      [1, 'n1'],
      [2, 'n2'],
    ]);
    // CPUs are asked whole (sbatch --cpus-per-task): 3 × 1.5 → 2 each, so a 4-CPU node takes two.
    expect(
      pickOffloads(
        [1, 2, 3].map((id) => ({ id, request: req(1.5, 10), waitMs: null })),
        [node({ idleCpus: 4 })],
        0,
      ),
    ).toHaveLength(2);
    expect(pickOffloads([{ id: 1, request: req(1, 20_000), waitMs: null }], [node()], 0)).toEqual([]);
  });

  it('a drained or down node takes nothing', () => {
    expect(pickOffloads([{ id: 1, request: req(1, 10), waitMs: null }], [node({ usable: false })], 0)).toEqual([]);
  });

  it('says why, in words', () => {
    expect(offloadReason({ id: 1, node: 'n1', waitMs: 42 * 60_000 }, 600_000)).toBe(
      'sent to the Slurm cluster (backend auto): its start here was about 42 min away, over slurmAutoAfterSec (600 s), and node n1 had room for it',
    );
    expect(offloadReason({ id: 1, node: 'n1', waitMs: null }, 60_000)).toMatch(/no start here was in sight/);
  });
});

class FakeCluster implements ClusterPort {
  asked = 0;
  nodes: ClusterNode[] = [node()];
  error: string | null = null;
  async freeNodes(): Promise<ClusterNode[]> {
    this.asked++;
    if (this.error) throw new Error(this.error);
    return this.nodes;
  }
}

const agents = [
  agent({ name: 'long', expectedSec: 600, resources: { cpu: 1, memoryMB: 100 } }),
  agent({ name: 'gpu', expectedSec: 600, resources: { cpu: 1, memoryMB: 100, gpu: { count: 1, vramMB: 3000 } } }),
];

describe('the Manager sends waiting backend-auto tasks to the cluster', () => {
  let h: Harness;
  let slurm: FakeRunner;
  let cluster: FakeCluster;
  afterEach(() => h?.close());

  function setup(afterMs: number | null): void {
    slurm = new FakeRunner();
    cluster = new FakeCluster();
    h = harness(agents, { maxConcurrency: 1, slurmAutoAfterMs: afterMs, slurmAutoEveryMs: 1000 }, { slurm, cluster });
  }
  /** One look: its timer, then sinfo's answer (a promise), then the cycle that sends it. */
  async function look(): Promise<void> {
    h.clock.advance(1000);
    for (let i = 0; i < 5; i++) await Promise.resolve();
    h.clock.flush();
  }

  it('one whose start here is 10 min away goes, with why; it runs there, and the queue here is left to the rest', async () => {
    setup(60_000);
    const [a, b, c] = h.manager.submit([{ agent: 'long' }, { agent: 'long', backend: 'auto' }, { agent: 'long' }]);
    h.clock.flush();
    expect(h.store.getTask(a!.id)!.state).toBe('running');
    expect(h.store.getTask(b!.id)).toMatchObject({ state: 'queued', backend: 'local', backendAuto: true });
    await look();
    const moved = h.store.getTask(b!.id)!;
    expect(moved).toMatchObject({ backend: 'slurm', state: 'running' });
    expect(slurm.runs.map((r) => r.spec.taskId)).toEqual([b!.id]);
    expect(h.manager.queries.offloaded(b!.id)).toMatch(
      /^sent to the Slurm cluster \(backend auto\): its start here was about 10 min away, over slurmAutoAfterSec \(60 s\), and node n1 had room/,
    );
    // c asked for this machine: it stays, and is next here.
    expect(h.store.getTask(c!.id)).toMatchObject({ state: 'queued', backend: 'local' });
    expect(h.sink.events.some((e) => e.type === 'task' && e.task.id === b!.id && e.task.backend === 'slurm')).toBe(true);
  });

  it('one whose start is near stays, and the cluster is not even asked', async () => {
    setup(3_600_000);
    const [, b] = h.manager.submit([{ agent: 'long' }, { agent: 'long', backend: 'auto' }]);
    h.clock.flush();
    for (let i = 0; i < 3; i++) await look();
    expect(h.store.getTask(b!.id)).toMatchObject({ state: 'queued', backend: 'local' });
    expect(cluster.asked).toBe(0);
    expect(slurm.runs).toEqual([]);
  });

  it('stays while the cluster has no room for it, and goes once it has', async () => {
    setup(60_000);
    h.manager.submit([{ agent: 'gpu' }]);
    const [b] = h.manager.submit([{ agent: 'gpu', backend: 'auto' }]);
    h.clock.flush();
    cluster.nodes = [node({ freeGpus: 0 }), node({ name: 'n2', usable: false })];
    await look();
    expect(cluster.asked).toBe(1);
    expect(h.store.getTask(b!.id)!.backend).toBe('local');
    cluster.nodes = [node({ freeGpus: 1 })];
    await look();
    expect(h.store.getTask(b!.id)!.backend).toBe('slurm');
  });

  it('a cluster that cannot say keeps it here, said once in the log', async () => {
    setup(60_000);
    const warned: string[] = [];
    // The harness's logger is quiet: listen on a copy.
    (h.manager as unknown as { offloader: { deps: { logger: { warn: (m: string) => void } } } }).offloader.deps.logger = {
      warn: (m: string) => warned.push(m),
    } as never;
    const [, b] = h.manager.submit([{ agent: 'long' }, { agent: 'long', backend: 'auto' }]);
    h.clock.flush();
    cluster.error = 'sinfo: Unable to contact slurm controller';
    await look();
    await look();
    expect(h.store.getTask(b!.id)!.backend).toBe('local');
    expect(warned).toEqual(['the Slurm cluster did not say what it has free; waiting auto tasks stay here']);
    cluster.error = null;
    await look();
    expect(h.store.getTask(b!.id)!.backend).toBe('slurm');
  });

  it('never: a task for this machine, a held one, one waiting on dependencies, a paused queue, the setting off', async () => {
    setup(60_000);
    const [a, local, held] = h.manager.submit([{ agent: 'long' }, { agent: 'long' }, { agent: 'long', backend: 'auto', hold: true }]);
    const [dep] = h.manager.submit([{ agent: 'long', backend: 'auto', dependsOn: [{ type: 'afterok', ids: [a!.id] }] }]);
    h.clock.flush();
    await look();
    await look();
    for (const id of [local!.id, held!.id, dep!.id]) expect(h.store.getTask(id)!.backend).toBe('local');
    expect(cluster.asked).toBe(0);
    const [later] = h.manager.submit([{ agent: 'long', backend: 'auto' }]);
    h.manager.setPaused(true);
    await look();
    expect(h.store.getTask(later!.id)!.backend).toBe('local');
    h.manager.setPaused(false);
    h.manager.updateConfig({ slurmAutoAfterMs: null });
    await look();
    expect(h.store.getTask(later!.id)!.backend).toBe('local');
    h.manager.updateConfig({ slurmAutoAfterMs: 60_000 });
    await look();
    expect(h.store.getTask(later!.id)!.backend).toBe('slurm');
  });

  it('survives a restart: the task stays sent, and its reason with it', async () => {
    setup(60_000);
    const [, b] = h.manager.submit([{ agent: 'long' }, { agent: 'long', backend: 'auto' }]);
    h.clock.flush();
    await look();
    expect(h.store.getTask(b!.id)!.backend).toBe('slurm');
    h = h.restart();
    expect(h.store.getTask(b!.id)!.backend).toBe('slurm');
    expect(h.manager.queries.offloaded(b!.id)).toMatch(/^sent to the Slurm cluster/);
  });
});
