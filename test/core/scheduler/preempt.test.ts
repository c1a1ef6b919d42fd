import { describe, expect, it } from 'vitest';
import type { ResourceRequest } from '../../../contracts/resources.js';
import { buildPool } from '../../../src-main/core/ledger/pool.js';
import type { RunningUsage } from '../../../src-main/core/model/node.js';
import { chooseVictims, eligible, lostWork, type PreemptCandidate } from '../../../src-main/core/scheduler/preempt.js';
import { node, rtx4060 } from '../../helpers/fakes.js';

const NOW = Date.UTC(2026, 0, 1);
const MIN = 60_000;
const gpu = (vramMB: number): ResourceRequest => ({ cpu: 1, memoryMB: 100, gpu: { count: 1, vramMB } });
const run = (taskId: number, vramMB: number, o: Partial<PreemptCandidate> = {}): PreemptCandidate => ({
  taskId,
  agent: 'batch',
  request: gpu(vramMB),
  gpus: [0],
  pgid: null,
  priority: 0,
  preemptible: true,
  startedAt: NOW - 10 * MIN,
  ...o,
});
const card = node({ gpus: [rtx4060()] }); // 8188 MB, nothing foreign

function choose(request: ResourceRequest, running: PreemptCandidate[], n = card): number[] | null {
  const pool = buildPool(n, running, { vramMarginMB: 0, memoryMarginMB: 0 });
  return chooseVictims(request, pool, n, eligible(running, 10, NOW, MIN), NOW);
}

describe('preemption: who may be preempted', () => {
  it.each<[string, Partial<PreemptCandidate>, boolean]>([
    ['a preemptible task of lower priority that has run long enough', {}, true],
    ['never a non-preemptible task', { preemptible: false }, false],
    ['never one of the same priority', { priority: 10 }, false],
    ['never one of higher priority', { priority: 20 }, false],
    ['never one that has run less than minRunSec (nothing thrashes)', { startedAt: NOW - 59_000 }, false],
    ['one that has run exactly minRunSec', { startedAt: NOW - MIN }, true],
    ['never one whose priority is not known', { priority: undefined }, false],
  ])('%s', (_n, over, expected) => {
    expect(eligible([run(1, 1000, over)], 10, NOW, MIN).map((r) => r.taskId)).toEqual(expected ? [1] : []);
  });
});

describe('preemption: the cheapest set that frees enough', () => {
  const rows: { name: string; request: ResourceRequest; running: PreemptCandidate[]; victims: number[] | null; n?: ReturnType<typeof node> }[] = [
    {
      name: 'one victim is enough: the one that loses least work (started last)',
      request: gpu(4000),
      running: [run(1, 4000, { startedAt: NOW - 40 * MIN }), run(2, 4000, { startedAt: NOW - 2 * MIN })],
      victims: [2],
    },
    {
      name: 'lost work is resource-seconds: a small old task may lose less than a big young one',
      request: gpu(3000),
      // 1: 1000 MB for 30 min: (0.25 + 2 + ~1) × 1800 ≈ 5800; 2: 6000 MB for 2 min: (0.25 + 2 + ~5.9) × 120 ≈ 980
      running: [run(1, 1000, { startedAt: NOW - 30 * MIN }), run(2, 6000, { startedAt: NOW - 2 * MIN })],
      victims: [2],
    },
    {
      name: 'several small ones when one is not enough, and no more than needed',
      request: gpu(5000),
      running: [
        run(1, 2000, { startedAt: NOW - 3 * MIN }),
        run(2, 2000, { startedAt: NOW - 4 * MIN }),
        run(3, 2000, { startedAt: NOW - 5 * MIN }),
        run(4, 2000, { startedAt: NOW - 50 * MIN }),
      ],
      victims: [1, 2, 3],
    },
    {
      name: 'one not needed in the end is put back (greedy took it first)',
      request: gpu(6000),
      // By lost work: 1 (1000 MB, young) first, then 2 (6000 MB): 2 alone is enough, so 1 stays.
      running: [run(1, 1000, { startedAt: NOW - 1 * MIN }), run(2, 6000, { startedAt: NOW - 3 * MIN })],
      victims: [2],
    },
    {
      name: 'nothing when even stopping every candidate would not make it fit (a game holds the GPU)',
      request: gpu(6000),
      running: [run(1, 2000)],
      n: node({ gpus: [rtx4060({ usedMB: 6000, processes: [{ pid: 9, name: 'game', usedMB: 4000, pgid: 9 }] })] }),
      victims: null,
    },
    {
      name: 'nothing when only non-preemptible tasks stand in the way',
      request: gpu(6000),
      running: [run(1, 4000, { preemptible: false }), run(2, 4000, { preemptible: false })],
      victims: null,
    },
  ];
  it.each(rows)('$name', ({ request, running, victims, n }) => {
    expect(choose(request, running, n)).toEqual(victims);
  });

  it('lost work grows with what it holds and how long it has run', () => {
    expect(lostWork(run(1, 2048, { startedAt: NOW - 100_000 }), NOW)).toBeCloseTo((0.25 + 2 + 2) * 100);
    expect(lostWork(run(1, 2048, { startedAt: NOW + 5 }), NOW)).toBe(0);
  });

  it('what a victim was measured to use above its reservation is freed too', () => {
    const big: RunningUsage & PreemptCandidate = { ...run(1, 1000), pgid: 77 };
    const n = node({ gpus: [rtx4060({ usedMB: 5000, processes: [{ pid: 77, name: 'python', usedMB: 5000, pgid: 77 }] })] });
    expect(choose(gpu(6000), [big], n)).toEqual([1]);
  });
});
