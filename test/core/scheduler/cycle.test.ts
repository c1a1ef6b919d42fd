import { describe, expect, it } from 'vitest';
import type { ResourceRequest } from '../../../contracts/resources.js';
import type { NodeSnapshot, RunningUsage } from '../../../src-main/core/model/node.js';
import { backoffMs } from '../../../src-main/core/scheduler/backoff.js';
import { explain, runCycle, type CycleInput } from '../../../src-main/core/scheduler/cycle.js';
import { schedulingPipeline, type Pipeline } from '../../../src-main/core/scheduler/pipeline.js';
import { describeStatus } from '../../../src-main/core/scheduler/describe.js';
import { neverFits } from '../../../src-main/core/scheduler/fit.js';
import { neverAt } from '../../../src-main/core/scheduler/status.js';
import { QueueIndex, type QueueEntry } from '../../../src-main/core/scheduler/queue.js';
import { resolveRequest } from '../../../src-main/core/scheduler/request.js';
import type { ProjectLimits } from '../../../src-main/core/projects/projects.js';
import { node, rtx4060 } from '../../helpers/fakes.js';

const NOW = Date.UTC(2026, 0, 1);
const small: ResourceRequest = { cpu: 1, memoryMB: 100 };
const gpu = (vramMB: number, count = 1): ResourceRequest => ({ cpu: 1, memoryMB: 100, gpu: { count, vramMB } });
type Candidate = Omit<QueueEntry, 'priority'> & { priority?: number };
const cand = (id: number, request: ResourceRequest = small, agent = 'a', notBefore: number | null = null, since = NOW): Candidate => ({
  id,
  agent,
  request,
  notBefore,
  since,
  seq: id,
  array: null,
  throttle: null,
  project: 'default',
});
const running = (
  taskId: number,
  request: ResourceRequest,
  gpus: number[] = [],
  pgid: number | null = null,
  agent = 'a',
  project = 'default',
): RunningUsage => ({
  taskId,
  agent,
  project,
  request,
  gpus,
  pgid,
});
const inProject = (c: Candidate, project: string): Candidate => ({ ...c, project });
const limits =
  (over: Record<string, Partial<ProjectLimits>>) =>
  (name: string): ProjectLimits => ({
    weight: 1,
    maxRunning: null,
    maxVramMB: null,
    usage: 0,
    ...over[name],
  });

type Input = Partial<Omit<CycleInput, 'queue'>> & { candidates: Candidate[] };

function cycle(over: Input, pipeline?: Pipeline) {
  const { candidates, ...rest } = over;
  const queue = new QueueIndex();
  queue.addAll(
    candidates.map((c) => ({ priority: 0, ...c })),
    NOW,
  );
  const r = runCycle(
    {
      now: NOW,
      paused: false,
      maxConcurrency: 100,
      reserveAfterMs: null,
      agentLimit: () => null,
      node: node(),
      running: [],
      vramMarginMB: 0,
      memoryMarginMB: 0,
      ...rest,
      queue,
    },
    pipeline,
  );
  return {
    ...r,
    keptFor: r.kept?.taskId ?? null,
    why: (id: number) =>
      describeStatus(
        explain(
          r,
          candidates.find((c) => c.id === id)!,
          NOW,
        ),
      ),
  };
}

interface Case {
  name: string;
  input: Input;
  starts: number[];
  waits?: Record<number, RegExp>;
  gpus?: Record<number, number[]>;
}

const cases: Case[] = [
  { name: 'starts everything that fits', input: { candidates: [cand(1), cand(2), cand(3)] }, starts: [1, 2, 3] },
  {
    name: 'CPU: never more cores than the machine has',
    input: { node: node({ cpuCores: 2 }), candidates: [cand(1), cand(2), cand(3)] },
    starts: [1, 2],
    waits: { 3: /needs 1 core, 0 cores free of 2/ },
  },
  {
    name: 'CPU held by running tasks counts',
    input: { node: node({ cpuCores: 4 }), running: [running(9, { cpu: 3.5, memoryMB: 0 })], candidates: [cand(1)] },
    starts: [],
    waits: { 1: /needs 1 core, 0.5 cores free of 4/ },
  },
  {
    name: 'RAM: what other programs use counts',
    input: {
      node: node({ memoryTotalMB: 16_000, memoryAvailableMB: 3_000 }),
      candidates: [cand(1, { cpu: 1, memoryMB: 4000 }), cand(2, { cpu: 1, memoryMB: 2000 })],
    },
    starts: [2],
    waits: { 1: /needs 4000 MB RAM, 1000 MB free of 16000 MB \(13000 MB used by other programs, 2000 MB held by our tasks\)/ },
  },
  {
    name: 'RAM margin is kept free',
    input: { memoryMarginMB: 1000, node: node({ memoryTotalMB: 16_000, memoryAvailableMB: 3_000 }), candidates: [cand(1, { cpu: 1, memoryMB: 2500 })] },
    starts: [],
    waits: { 1: /2000 MB free/ },
  },
  {
    name: 'VRAM: the browser holding 1.5 GB lowers what fits',
    input: {
      node: node({ gpus: [rtx4060({ usedMB: 1536, processes: [{ pid: 77, name: 'chrome', usedMB: 1536, pgid: 77 }] })] }),
      candidates: [cand(1, gpu(7000)), cand(2, gpu(6000))],
    },
    starts: [2],
    waits: { 1: /needs 7000 MB VRAM on GPU 0, 652 MB free of 8188 MB: 1536 MB held by other programs \(chrome 1536 MB\), 6000 MB by 1 running task/ },
  },
  {
    name: 'VRAM: a running task holds the larger of reservation and measured use',
    input: {
      node: node({ gpus: [rtx4060({ usedMB: 5000, processes: [{ pid: 500, name: 'python', usedMB: 5000, pgid: 500 }] })] }),
      running: [running(9, gpu(3000), [0], 500)],
      candidates: [cand(1, gpu(3200)), cand(2, gpu(3100))],
    },
    starts: [2],
    waits: { 1: /needs 3200 MB VRAM on GPU 0, 88 MB free/ },
  },
  {
    name: 'VRAM: a task that has not allocated yet still holds its reservation',
    input: { node: node({ gpus: [rtx4060({ usedMB: 0 })] }), running: [running(9, gpu(5000), [0], 500)], candidates: [cand(1, gpu(4000))] },
    starts: [],
    waits: { 1: /3188 MB free/ },
  },
  {
    name: 'VRAM: without per-process readings our use counts twice (never in our favour)',
    input: {
      node: node({ gpus: [rtx4060({ usedMB: 3000, processes: null })] }),
      running: [running(9, gpu(3000), [0], 500)],
      candidates: [cand(1, gpu(2500)), cand(2, gpu(2000))],
    },
    starts: [2],
    waits: { 1: /188 MB free of 8188 MB: 3000 MB held by other programs, 5000 MB by 2 running tasks/ },
  },
  {
    name: 'VRAM: what others hold comes reconciled over the reading window where the ledger gives it, not from the snapshot alone',
    input: {
      // The GPU-wide sample predates the load (2000 MB of desktop graphics, which are never listed
      // per process); the per-process one already shows our task at 3000. This snapshot alone
      // would count the desktop as 0; the ledger's window (readings.ts) saw it at 2000.
      node: node({ gpus: [rtx4060({ usedMB: 2000, processes: [{ pid: 500, name: 'python', usedMB: 3000, pgid: 500 }] })] }),
      observed: { foreignMB: new Map([[0, 2000]]) },
      running: [running(9, gpu(3000), [0], 500)],
      candidates: [cand(1, gpu(3500)), cand(2, gpu(3000))],
    },
    starts: [2],
    waits: { 1: /needs 3500 MB VRAM on GPU 0, 188 MB free of 8188 MB: 2000 MB held by other programs/ },
  },
  {
    name: 'VRAM: a program listed as using memory is foreign even when the GPU-wide reading lags',
    input: {
      node: node({
        gpus: [
          rtx4060({
            usedMB: 1000,
            processes: [
              { pid: 500, name: 'python', usedMB: 3000, pgid: 500 },
              { pid: 7, name: 'blender', usedMB: 1500, pgid: 7 },
            ],
          }),
        ],
      }),
      running: [running(9, gpu(3000), [0], 500)],
      candidates: [cand(1, gpu(4000))],
    },
    starts: [],
    waits: { 1: /3688 MB free of 8188 MB: 1500 MB held by other programs \(blender 1500 MB\)/ },
  },
  {
    name: 'VRAM safety margin',
    input: { vramMarginMB: 512, candidates: [cand(1, gpu(7800))] },
    starts: [],
    waits: { 1: /7676 MB free of 8188 MB: 0 MB held by other programs, 512 MB safety margin/ },
  },
  {
    name: 'a GPU whose memory reads [N/A] takes nothing, not even a 0 MB request; the reason says why',
    input: { node: node({ gpus: [rtx4060({ memoryUnknown: true, totalMB: 0, usedMB: 0, freeMB: 0 })] }), candidates: [cand(1, gpu(0)), cand(2, gpu(100))] },
    starts: [],
    waits: { 2: /needs 1 GPU with 100 MB VRAM, but no GPU can be used: GPU 0 does not report its memory \(\[N\/A\]\)/ },
  },
  {
    name: 'a lost GPU takes nothing; the healthy one does',
    input: {
      node: node({ gpus: [rtx4060({ lost: true, usedMB: 8188, freeMB: 0 }), rtx4060({ index: 1, uuid: 'GPU-1' })] }),
      candidates: [cand(1, gpu(0)), cand(2, gpu(3000))],
    },
    starts: [1, 2],
    gpus: { 1: [1], 2: [1] },
  },
  {
    name: 'no GPU visible: GPU tasks wait with the reason, the others run',
    input: { node: node({ gpus: [], gpuStatus: { state: 'absent', message: 'nvidia-smi not found' } }), candidates: [cand(1, gpu(3000)), cand(2)] },
    starts: [2],
    waits: { 1: /needs 1 GPU with 3000 MB VRAM, but no GPU is visible: nvidia-smi not found/ },
  },
  {
    name: 'two GPUs: best fit leaves the large hole open',
    input: {
      node: node({ gpus: [rtx4060({ index: 0, uuid: 'a' }), rtx4060({ index: 1, uuid: 'b', usedMB: 4000 })] }),
      candidates: [cand(1, gpu(3000)), cand(2, gpu(7000))],
    },
    starts: [1, 2],
    gpus: { 1: [1], 2: [0] },
  },
  {
    name: 'multi-GPU request needs enough GPUs with room',
    input: { node: node({ gpus: [rtx4060({ index: 0, uuid: 'a' }), rtx4060({ index: 1, uuid: 'b', usedMB: 6000 })] }), candidates: [cand(1, gpu(4000, 2))] },
    starts: [],
    waits: { 1: /needs 2 GPUs with 4000 MB VRAM each, 1 has enough free/ },
  },
  {
    name: 'every shortfall is reported',
    input: {
      node: node({ cpuCores: 1, memoryTotalMB: 1000, memoryAvailableMB: 500, gpus: [] }),
      candidates: [cand(1, { cpu: 2, memoryMB: 800, gpu: { count: 1, vramMB: 10 } })],
    },
    starts: [],
    waits: { 1: /needs 2 cores.*; needs 800 MB RAM.*; needs 1 GPU/ },
  },
  {
    name: 'backfill: a big task does not block smaller ones behind it',
    input: { candidates: [cand(1, gpu(9000)), cand(2, gpu(1000))] },
    starts: [2],
  },
  // Reservation: backfill must not starve a big task forever.
  {
    name: 'reservation: once a big task has waited, what is free is kept for it and smaller ones behind it wait',
    input: {
      reserveAfterMs: 60_000,
      running: [running(9, gpu(4000), [0])],
      candidates: [cand(1, gpu(6000), 'a', null, NOW - 120_000), cand(2, gpu(1000))],
    },
    starts: [],
    waits: {
      1: /^needs 6000 MB VRAM on GPU 0, 4188 MB free of 8188 MB: 0 MB held by other programs, 4000 MB by 1 running task; task 1 has waited longer than 60 s, so what our tasks free is kept for it until it fits/,
      2: /needs 1000 MB VRAM on GPU 0, 0 MB free .*4188 MB kept for task 1/,
    },
  },
  {
    name: 'reservation: not before it has waited long enough',
    input: { reserveAfterMs: 60_000, running: [running(9, gpu(4000), [0])], candidates: [cand(1, gpu(6000), 'a', null, NOW - 30_000), cand(2, gpu(1000))] },
    starts: [2],
    waits: { 1: /^needs 6000 MB VRAM on GPU 0, 3188 MB free of 8188 MB: 0 MB held by other programs, 5000 MB by 2 running tasks$/ },
  },
  {
    name: 'reservation: never when it is off',
    input: { reserveAfterMs: null, running: [running(9, gpu(4000), [0])], candidates: [cand(1, gpu(6000), 'a', null, NOW - 86_400_000), cand(2, gpu(1000))] },
    starts: [2],
  },
  {
    name: 'reservation: not while other programs stand in its way (waiting for our tasks would not help)',
    input: {
      reserveAfterMs: 0,
      node: node({ gpus: [rtx4060({ usedMB: 3000, processes: [{ pid: 7, name: 'game', usedMB: 3000, pgid: 7 }] })] }),
      running: [running(9, gpu(2000), [0])],
      candidates: [cand(1, gpu(6000)), cand(2, gpu(1000))],
    },
    starts: [2],
    waits: { 1: /game 3000 MB/ },
  },
  {
    name: 'reservation: on the GPU with most free; smaller tasks still use the other',
    input: {
      reserveAfterMs: 0,
      node: node({ gpus: [rtx4060(), rtx4060({ index: 1, uuid: 'GPU-4060-1' })] }),
      running: [running(8, gpu(5000), [0]), running(9, gpu(3000), [1])],
      candidates: [cand(1, gpu(6000)), cand(2, gpu(1000)), cand(3, gpu(1000)), cand(4, gpu(1000)), cand(5, gpu(1000))],
    },
    starts: [2, 3, 4],
    gpus: { 2: [0], 3: [0], 4: [0] },
    waits: { 5: /GPU 0, 188 MB free/ },
  },
  {
    name: 'reservation: CPU and RAM are kept too',
    input: {
      reserveAfterMs: 0,
      node: node({ cpuCores: 4, memoryTotalMB: 16_000, memoryAvailableMB: 16_000 }),
      running: [running(9, { cpu: 3, memoryMB: 12_000 })],
      candidates: [cand(1, { cpu: 2, memoryMB: 6000 }), cand(2, { cpu: 1, memoryMB: 1000 })],
    },
    starts: [],
    waits: {
      2: /needs 1 core, 0 cores free of 4 \(1 core kept for task 1\); needs 1000 MB RAM, 0 MB free of 16000 MB \(0 MB used by other programs, 12000 MB held by our tasks, 4000 MB kept for task 1\)/,
    },
  },
  {
    name: 'reservation: tasks ahead of it in queue order are not held back',
    input: {
      reserveAfterMs: 0,
      running: [running(9, gpu(4000), [0])],
      candidates: [{ ...cand(1, gpu(6000)), priority: 0 }, { ...cand(2, gpu(1000)), priority: 5 }, cand(3, gpu(1000))],
    },
    starts: [2],
    waits: { 3: /kept for task 1/ },
  },
  { name: 'paused queue starts nothing', input: { paused: true, candidates: [cand(1)] }, starts: [], waits: { 1: /^the queue is paused$/ } },
  {
    name: 'a paused queue keeps the real blocking reason of a task that would not start anyway',
    input: { paused: true, running: [running(9, gpu(6000), [0])], candidates: [cand(1, gpu(4000)), cand(2)] },
    starts: [],
    waits: { 1: /^the queue is paused; also: needs 4000 MB VRAM on GPU 0, \d+ MB free/, 2: /^the queue is paused$/ },
  },
  {
    name: 'retry backoff',
    input: { candidates: [cand(1, small, 'a', NOW + 5000), cand(2)] },
    starts: [2],
    waits: { 1: /not before 2026-01-01T00:00:05.000Z/ },
  },
  {
    name: 'global concurrency',
    input: { maxConcurrency: 2, running: [running(9, small)], candidates: [cand(1), cand(2)] },
    starts: [1],
    waits: { 2: /maximum of 2 tasks at once/ },
  },
  {
    name: 'a task held by a limit also says what else it needs',
    input: {
      maxConcurrency: 1,
      node: node({ gpus: [], gpuStatus: { state: 'absent', message: 'nvidia-smi not found' } }),
      candidates: [cand(1), cand(2, gpu(2000))],
    },
    starts: [1],
    waits: { 2: /^the maximum of 1 task at once is reached; needs 1 GPU with 2000 MB VRAM, but no GPU is visible/ },
  },
  {
    name: 'per-agent concurrency',
    input: { agentLimit: (a) => (a === 'gpu' ? 1 : null), candidates: [cand(1, small, 'gpu'), cand(2, small, 'gpu'), cand(3, small, 'b')] },
    starts: [1, 3],
    waits: { 2: /agent gpu runs at most 1 at once \(1 running\)/ },
  },
  {
    name: 'project quota: at most maxRunning of its tasks at once; the reason names the project and the quota',
    input: {
      projects: limits({ batch: { maxRunning: 2 } }),
      running: [running(9, small, [], null, 'a', 'batch')],
      candidates: [inProject(cand(1), 'batch'), inProject(cand(2), 'batch'), cand(3)],
    },
    // (3 first: fair share, as batch has a task running and default none.)
    starts: [3, 1],
    waits: { 2: /^project batch: 2 of 2 running$/ },
  },
  {
    name: 'project quota: at most maxVramMB reserved by its running tasks; other projects go on',
    input: {
      projects: limits({ batch: { maxVramMB: 6000 } }),
      running: [running(9, gpu(4000), [0], null, 'a', 'batch')],
      candidates: [inProject(cand(1, gpu(2500)), 'batch'), inProject(cand(2, gpu(2000)), 'batch'), cand(3, gpu(1000))],
    },
    starts: [3, 2],
    waits: { 1: /^project batch: 6000 MB of 6000 MB VRAM held, needs 2500 MB; needs 2500 MB VRAM on GPU 0, 1188 MB free/ },
  },
  {
    name: 'project quota: a task needing more VRAM than the whole quota says how to raise it',
    input: { projects: limits({ batch: { maxVramMB: 2000 } }), candidates: [inProject(cand(1, gpu(3000)), 'batch')] },
    starts: [],
    waits: {
      1: /project batch: 0 MB of 2000 MB VRAM held, needs 3000 MB \(more than the whole quota: raise it with `agentmgr project set batch maxVramMB=N`\)/,
    },
  },
  {
    name: 'project quota: a quota of 0 starts nothing of the project (and says so), nothing else waits',
    input: { projects: limits({ paused: { maxRunning: 0 } }), candidates: [inProject(cand(1), 'paused'), cand(2)] },
    starts: [2],
    waits: { 1: /project paused: 0 of 0 running/ },
  },
  {
    name: 'GPU limits: a GPU over its limit takes no new GPU task, a CPU task still starts, and the reason names the limit and the reading',
    input: {
      node: node({ gpus: [rtx4060()] }),
      observed: { limited: new Map([[0, 'GPU 0 at 97 % utilisation, limit 90 %']]) },
      candidates: [cand(1, gpu(1000)), cand(2, small)],
    },
    starts: [2],
    waits: { 1: /^waits for a GPU under its limits: GPU 0 at 97 % utilisation, limit 90 %$/ },
  },
  {
    name: 'GPU limits: a task goes to the GPU under its limits, even with less free there',
    input: {
      node: node({ gpus: [rtx4060(), rtx4060({ index: 1, uuid: 'GPU-1', usedMB: 6000, freeMB: 2188 })] }),
      observed: { limited: new Map([[0, 'GPU 0 at 86 °C, limit 83 °C']]) },
      candidates: [cand(1, gpu(2000)), cand(2, gpu(2000))],
    },
    starts: [1],
    gpus: { 1: [1] },
    waits: { 2: /waits for a GPU under its limits: GPU 0 at 86 °C, limit 83 °C/ },
  },
  {
    name: 'GPU limits: short of VRAM on the GPUs under their limits, and it would not fit the others either: the VRAM is named',
    input: {
      node: node({ gpus: [rtx4060({ usedMB: 7000, freeMB: 1188 }), rtx4060({ index: 1, uuid: 'GPU-1', usedMB: 7000, freeMB: 1188 })] }),
      observed: { limited: new Map([[0, 'GPU 0 at 97 % utilisation, limit 90 %']]) },
      candidates: [cand(1, gpu(2000))],
    },
    starts: [],
    waits: { 1: /needs 2000 MB VRAM on GPU 1, 1188 MB free/ },
  },
];

describe('runCycle', () => {
  it.each(cases)('$name', (c) => {
    const r = cycle(c.input);
    expect(r.starts.map((s) => s.taskId)).toEqual(c.starts);
    for (const [id, re] of Object.entries(c.waits ?? {})) expect(r.why(Number(id))).toMatch(re);
    for (const [id, g] of Object.entries(c.gpus ?? {})) expect(r.starts.find((s) => s.taskId === Number(id))?.gpus).toEqual(g);
  });

  it('fair share: within a priority the project furthest below its share goes first; priority still wins across levels', () => {
    // One GPU task fits at a time. "heavy" has used a lot; "light" little: light's task goes first
    // though it was submitted later, but a higher priority still goes before both.
    const order = (extra: Candidate[] = []) =>
      cycle({
        maxConcurrency: 1,
        projects: limits({ heavy: { usage: 50_000 }, light: { usage: 1000 } }),
        candidates: [inProject(cand(1, gpu(1000)), 'heavy'), inProject(cand(2, gpu(1000)), 'light'), ...extra],
      }).starts.map((s) => s.taskId);
    expect(order()).toEqual([2]);
    expect(order([{ ...inProject(cand(3, gpu(1000)), 'heavy'), priority: 5 }])).toEqual([3]);
    // Weight: heavy with 100 times the weight is further below its share.
    const weighted = cycle({
      maxConcurrency: 1,
      projects: limits({ heavy: { usage: 50_000, weight: 100 }, light: { usage: 1000 } }),
      candidates: [inProject(cand(1, gpu(1000)), 'heavy'), inProject(cand(2, gpu(1000)), 'light')],
    });
    expect(weighted.starts.map((s) => s.taskId)).toEqual([1]);
  });

  it('fair share: one cycle with room for several interleaves the projects (its own placements count)', () => {
    const r = cycle({
      maxConcurrency: 4,
      projects: limits({}),
      candidates: [1, 2, 3, 4].map((id) => inProject(cand(id), 'a')).concat([5, 6, 7, 8].map((id) => inProject(cand(id), 'b'))),
    });
    const projectOf = (id: number) => (id <= 4 ? 'a' : 'b');
    expect(r.starts.map((s) => projectOf(s.taskId)).sort()).toEqual(['a', 'a', 'b', 'b']);
    // Within a project, queue order.
    expect(r.starts.filter((s) => s.taskId <= 4).map((s) => s.taskId)).toEqual([1, 2]);
  });

  it('without fair share (the pipeline option), it is priority then queue order whatever the project', () => {
    const r = cycle(
      { maxConcurrency: 1, projects: limits({ heavy: { usage: 50_000 } }), candidates: [inProject(cand(1), 'heavy'), inProject(cand(2), 'light')] },
      schedulingPipeline({ fairShare: false }),
    );
    expect(r.starts.map((s) => s.taskId)).toEqual([1]);
  });

  it('a task held back by GPU limits alone has nothing kept for it (keeping memory would not cool the GPU)', () => {
    const r = cycle({
      reserveAfterMs: 0,
      node: node({ gpus: [rtx4060()] }),
      observed: { limited: new Map([[0, 'GPU 0 at 97 % utilisation, limit 90 %']]) },
      candidates: [cand(1, gpu(6000), 'a', null, NOW - 600_000)],
    });
    expect(r.starts).toEqual([]);
    expect(r.keptFor).toBeNull();
  });

  it('wakes up when a waiting task becomes due a reservation', () => {
    const r = cycle({ reserveAfterMs: 60_000, running: [running(9, gpu(4000), [0])], candidates: [cand(1, gpu(6000), 'a', null, NOW - 10_000)] });
    expect(r.keptFor).toBeNull();
    expect(r.wakeAt).toBe(NOW + 50_000);
    const later = cycle({ reserveAfterMs: 60_000, running: [running(9, gpu(4000), [0])], candidates: [cand(1, gpu(6000), 'a', null, NOW - 60_000)] });
    expect(later.keptFor).toBe(1);
  });

  it('reports the earliest backoff end to wake up at', () => {
    const r = cycle({ candidates: [cand(1, small, 'a', NOW + 9000), cand(2, small, 'a', NOW + 3000)] });
    expect(r.wakeAt).toBe(NOW + 3000);
  });
});

describe('queue order', () => {
  it('higher priority first, FIFO within a priority, across shapes', () => {
    const q = new QueueIndex();
    q.add({ ...cand(1), priority: 0 });
    q.add({ ...cand(2, gpu(100)), priority: 5 });
    q.addAll(Array.from({ length: 20 }, (_, i) => ({ ...cand(10 + i, i % 3 ? small : gpu(50)), priority: i % 2 ? 5 : 0 })));
    q.add({ ...cand(3), priority: 0 });
    expect(q.size).toBe(23);
    const ids = q.toArray().map((e) => e.id);
    expect(ids.slice(0, 11)).toEqual([2, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29]);
    expect(ids.slice(11)).toEqual([1, 3, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28]);
    // A priority change: out with the old entry, in with the new one.
    expect(q.remove({ ...cand(1), priority: 0 })).toMatchObject({ id: 1 });
    q.add({ ...cand(1), priority: 9 });
    expect(q.toArray()[0]!.id).toBe(1);
    expect(q.remove({ ...cand(99), priority: 0 })).toBeNull();
    expect(q.size).toBe(23);
  });

  it('a cycle starts tasks in queue order across shapes, and backfills past a bucket that does not fit', () => {
    const r = cycle({
      node: node({ cpuCores: 3 }),
      candidates: [
        { ...cand(1, gpu(9000)), priority: 9 },
        { ...cand(2, gpu(1000)), priority: 1 },
        { ...cand(3), priority: 5 },
        { ...cand(4), priority: 1 },
        { ...cand(5, gpu(1000)), priority: 0 },
      ],
    });
    expect(r.starts.map((s) => s.taskId)).toEqual([3, 2, 4]);
    expect(r.why(1)).toMatch(/needs 9000 MB VRAM/);
    expect(r.why(5)).toMatch(/needs 1 core, 0 cores free of 3/);
  });

  it('retries waiting out a backoff join their bucket when it ends', () => {
    const q = new QueueIndex();
    q.add({ ...cand(1, small, 'a', NOW + 1000), priority: 0 }, NOW);
    expect(q.shapes().next().done).toBe(true);
    expect(q.nextDue()).toBe(NOW + 1000);
    q.promoteDue(NOW + 1000);
    expect([...q.shapes()].map((b) => b.entries.map((e) => e.id))).toEqual([[1]]);
    expect(q.nextDue()).toBeNull();
  });
});

describe('neverFits', () => {
  const cap = { cpuCores: 8, memoryTotalMB: 16_000, gpuTotalsMB: [8188], vramMarginMB: 256, memoryMarginMB: 512 };
  const cases: [string, ResourceRequest, typeof cap, RegExp | null][] = [
    ['fits', gpu(7000), cap, null],
    ['more VRAM than the GPU has', gpu(9000), cap, /needs 9000 MB VRAM but the largest GPU has 8188 MB \(7932 MB usable/],
    ['more GPUs than there are', gpu(100, 2), cap, /needs 2 GPUs but this machine has 1/],
    ['more RAM than the machine has', { cpu: 1, memoryMB: 20_000 }, cap, /needs 20000 MB RAM but this machine has 16000 MB/],
    ['more cores than there are', { cpu: 9, memoryMB: 1 }, cap, /needs 9 cores but this machine has 8/],
    ['no GPU seen: wait, do not refuse', gpu(9000), { ...cap, gpuTotalsMB: [] }, null],
  ];
  it.each(cases)('%s', (_n, req, c, expected) => {
    const shortfall = neverFits(req, c);
    const r = shortfall ? describeStatus(neverAt('resources', [shortfall])) : null;
    if (expected === null) expect(r).toBeNull();
    else expect(r).toMatch(expected);
  });
});

describe('backoffMs', () => {
  it.each([
    [5, 1, 0, 2500],
    [5, 1, 0.999, 4998],
    [5, 2, 0, 5000],
    [5, 3, 0.5, 15000],
    [5, 30, 0, 1_800_000],
    [0, 3, 0.5, 0],
  ])('base %s s, attempt %s, random %s -> %s ms', (base, attempt, random, expected) => {
    expect(backoffMs(base, attempt, random)).toBe(expected);
  });
});

describe('resolveRequest', () => {
  const declared: ResourceRequest = { cpu: 1, memoryMB: 256, gpu: { count: 1, vramMB: 2000 } };
  it.each([
    ['declared', undefined, undefined, declared],
    ['override cpu only', { cpu: 2 }, undefined, { cpu: 2, memoryMB: 256, gpu: { count: 1, vramMB: 2000 } }],
    ['override: no GPU', { gpu: null }, undefined, { cpu: 1, memoryMB: 256 }],
    ['override VRAM', { gpu: { vramMB: 5000 } }, undefined, { cpu: 1, memoryMB: 256, gpu: { count: 1, vramMB: 5000 } }],
    ['from input', undefined, { vram: 3000 }, { cpu: 1, memoryMB: 256, gpu: { count: 1, vramMB: 3000 } }],
    ['from input: 0 means none', undefined, { vram: 0 }, { cpu: 1, memoryMB: 256 }],
    ['override beats input', { gpu: { vramMB: 100 } }, { vram: 3000 }, { cpu: 1, memoryMB: 256, gpu: { count: 1, vramMB: 100 } }],
  ] as const)('%s', (_n, override, input, expected) => {
    const r = resolveRequest(declared, override, input ? { mapping: { vramMB: 'vram' }, input } : undefined);
    expect(r.request).toEqual(expected);
  });
});

export type { NodeSnapshot };
