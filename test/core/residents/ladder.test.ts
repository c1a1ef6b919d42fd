import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ResourceRequest } from '../../../contracts/resources.js';
import { buildPool } from '../../../src-main/core/ledger/pool.js';
import { askMB, chooseUnloads, mayFree, type FreePlan, type ResidentState } from '../../../src-main/core/residents/ladder.js';
import { runCycle } from '../../../src-main/core/scheduler/cycle.js';
import { QueueIndex } from '../../../src-main/core/scheduler/queue.js';
import { node, rtx4060 } from '../../helpers/fakes.js';

const NOW = Date.UTC(2026, 0, 1);
const gpu = (vramMB: number): ResourceRequest => ({ cpu: 1, memoryMB: 100, gpu: { count: 1, vramMB } });
const resident = (o: Partial<ResidentState> = {}): ResidentState => ({
  kind: 'ollama',
  label: 'Ollama',
  policy: 'when-idle',
  reachable: true,
  busy: false,
  lastActiveAt: NOW - 10 * 60_000,
  models: [{ name: 'llama3.1:8b', vramMB: 5600 }],
  perModel: true,
  unloadable: true,
  perGpuMB: new Map([[0, 5600]]),
  ...o,
});
/** An 8 GB card whose other programs are the residents' processes (pid 100 + i). */
const cardWith = (mbs: number[]) =>
  node({
    gpus: [
      rtx4060({
        usedMB: mbs.reduce((a, b) => a + b, 0),
        processes: mbs.map((mb, i) => ({ pid: 100 + i, name: 'server', usedMB: mb })),
      }),
    ],
  });
const poolOf = (n: ReturnType<typeof node>) => buildPool(n, [], { vramMarginMB: 256, memoryMarginMB: 0 });

describe('the ladder, first rung: which resident may be asked', () => {
  it.each<[string, Partial<ResidentState>, boolean]>([
    ['idle longer than the idle time, under when-idle', {}, true],
    ['not when it served a request within the idle time', { lastActiveAt: NOW - 30_000 }, false],
    ['never while busy, under when-idle', { busy: true }, false],
    ['busy, under always', { busy: true, policy: 'always' }, true],
    ['never under never', { policy: 'never' }, false],
    ['never while it does not answer', { reachable: false }, false],
    ['never when its API cannot unload (llama-server with one model)', { unloadable: false }, false],
    ['never when it holds nothing', { perGpuMB: new Map() }, false],
    ['never while it serves one of our tasks, whatever its policy', { serving: [7], policy: 'always' }, false],
  ])('%s', (_n, over, expected) => {
    expect(mayFree(resident(over), NOW, 60_000)).toBe(expected);
  });
});

describe('the ladder, first rung: the cheapest unloads that make room', () => {
  it('one model of two is enough: the smaller one that frees enough', () => {
    const r = resident({
      models: [
        { name: 'big', vramMB: 5000 },
        { name: 'small', vramMB: 2000 },
      ],
      perGpuMB: new Map([[0, 7000]]),
    });
    // 8188 − 7000 − 256 = 932 free; 2500 needed: the small one (2000) is enough.
    expect(chooseUnloads(gpu(2500), poolOf(cardWith([7000])), [r])?.map((a) => a.models)).toEqual([['small']]);
    // 5000 needed: the big one alone.
    expect(chooseUnloads(gpu(5000), poolOf(cardWith([7000])), [r])?.map((a) => a.models)).toEqual([['big']]);
  });

  it('nothing is unloaded for a task that would still not fit', () => {
    // A game holds 3000 MB beside Ollama's 4000: 8 GB needed can never come free.
    const n = cardWith([4000, 3000]);
    expect(chooseUnloads(gpu(6000), poolOf(n), [resident({ perGpuMB: new Map([[0, 4000]]) })])).toBeNull();
  });

  it('ComfyUI frees all at once; two residents are asked only when one is not enough', () => {
    const comfy = resident({
      kind: 'comfyui',
      label: 'ComfyUI',
      perModel: false,
      models: [{ name: 'loaded models', vramMB: 3000 }],
      perGpuMB: new Map([[0, 3000]]),
    });
    const olla = resident({ perGpuMB: new Map([[0, 4000]]), models: [{ name: 'llama3.1:8b', vramMB: 4000 }] });
    const pool = poolOf(cardWith([3000, 4000]));
    expect(chooseUnloads(gpu(3500), pool, [comfy, olla])?.map((a) => [a.kind, a.models])).toEqual([['comfyui', null]]);
    expect(
      chooseUnloads(gpu(7000), pool, [comfy, olla])
        ?.map((a) => a.kind)
        .sort(),
    ).toEqual(['comfyui', 'ollama']);
  });
});

describe('the ladder in the cycle', () => {
  const entry = { id: 1, agent: 'a', project: 'default', request: gpu(4000), notBefore: null, priority: 0, since: NOW, seq: 1, array: null, throttle: null };
  const cycle = (n: ReturnType<typeof node>, list: ResidentState[], inFlight: FreePlan | null) => {
    const queue = new QueueIndex();
    queue.addAll([entry], NOW);
    return runCycle({
      now: NOW,
      paused: false,
      maxConcurrency: 10,
      reserveAfterMs: null,
      agentLimit: () => null,
      node: n,
      running: [],
      vramMarginMB: 256,
      memoryMarginMB: 0,
      queue,
      residents: { list, idleMs: 60_000, inFlight, skip: new Set() },
    });
  };

  it('asks, and the task waits saying so; it starts only once telemetry shows the memory gone', () => {
    const first = cycle(cardWith([5600]), [resident()], null);
    expect(first.starts).toEqual([]);
    expect(first.free?.asks.map((a) => [a.kind, a.models, Math.round(askMB(a))])).toEqual([['ollama', ['llama3.1:8b'], 5600]]);
    expect(first.reasons.values().next().value?.freeing).toEqual([{ label: 'Ollama', models: ['llama3.1:8b'], mb: 5600 }]);
    // Asked, not yet gone: nothing starts, nothing more is asked.
    const waiting = cycle(cardWith([5600]), [resident()], first.free);
    expect(waiting.starts).toEqual([]);
    expect(waiting.free).toBeNull();
    // Gone: it starts.
    expect(cycle(cardWith([]), [resident({ models: [], perGpuMB: new Map() })], first.free).starts.map((s) => s.taskId)).toEqual([1]);
  });

  it('property: while unloads are in flight, VRAM is never oversubscribed (what was asked for counts as held until telemetry shows it gone)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 7000 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 500, max: 7900 }),
        fc.double({ min: 0, max: 1 }),
        (held, need, gone) => {
          const total = held.reduce((a, b) => a + b, 0);
          if (total > 8188 - 256) return;
          const list = held.map((mb, i) => resident({ kind: (['ollama', 'comfyui', 'llamacpp'] as const)[i]!, perGpuMB: new Map([[0, mb]]) }));
          const queue = new QueueIndex();
          queue.addAll([{ ...entry, request: gpu(need) }], NOW);
          // Telemetry shows a part of it gone (an unload half done).
          const shown = held.map((mb) => Math.round(mb * (1 - gone)));
          const r = runCycle({
            now: NOW,
            paused: false,
            maxConcurrency: 10,
            reserveAfterMs: null,
            agentLimit: () => null,
            node: cardWith(shown),
            running: [],
            vramMarginMB: 256,
            memoryMarginMB: 0,
            queue,
            residents: { list, idleMs: 60_000, inFlight: { forTask: 1, asks: [] }, skip: new Set() },
          });
          const used = shown.reduce((a, b) => a + b, 0);
          if (r.starts.length > 0) expect(used + need + 256).toBeLessThanOrEqual(8188);
        },
      ),
    );
  });
});
