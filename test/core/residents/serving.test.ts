import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ResourceRequest } from '../../../contracts/resources.js';
import { Ledger, noPeak, type ActiveRun } from '../../../src-main/core/ledger/ledger.js';
import { sameModel } from '../../../contracts/residents.js';
import { modelSpare } from '../../../src-main/core/ledger/pool.js';
import type { NodeSnapshot } from '../../../src-main/core/model/node.js';
import type { QueueEntry } from '../../../src-main/core/scheduler/queue.js';
import { cycleOver, queued } from '../../helpers/cycle.js';
import { node, rtx4060 } from '../../helpers/fakes.js';

/**
 * A task whose agent drives a resident server (an ollama or comfyui task) uses that server's
 * memory, not its own: while it runs, what the server's processes hold up to the task's request
 * counts as the task's; a queued one whose model is loaded may use what that model holds.
 */
const NOW = Date.UTC(2026, 0, 1);
const SERVER = 200;
const DESKTOP = 100;
const gpu = (vramMB: number): ResourceRequest => ({ cpu: 0.1, memoryMB: 100, gpu: { count: 1, vramMB } });

/** An 8 GB card: the desktop's process, and the server's holding `serverMB` (listed or not in nvidia-smi). */
const card = (serverMB: number, desktopMB = 400, listed = true): NodeSnapshot =>
  node({
    gpus: [
      rtx4060({
        usedMB: desktopMB + serverMB,
        freeMB: 8188 - desktopMB - serverMB,
        processes: [
          { pid: DESKTOP, name: 'Xorg', usedMB: desktopMB },
          ...(listed && serverMB > 0 ? [{ pid: SERVER, name: '/usr/local/bin/ollama', usedMB: serverMB }] : []),
        ],
      }),
    ],
  });

const run = (taskId: number, vramMB: number, drives: 'ollama' | null = 'ollama'): ActiveRun => ({
  taskId,
  agent: drives ? 'ollama' : 'render',
  request: gpu(vramMB),
  gpus: [0],
  pgid: 1000 + taskId,
  attempt: 1,
  handle: null,
  startedAt: NOW,
  peak: noPeak(),
  drives,
});

function ledgerWith(runs: ActiveRun[], models = [{ name: 'llama3.1:8b', vramMB: 5600 }]): Ledger {
  const l = new Ledger({ vramMarginMB: 256, memoryMarginMB: 0, readingWindowMs: 0 });
  for (const r of runs) l.add(r);
  l.setResidents([{ kind: 'ollama', pids: [SERVER], models }]);
  return l;
}

describe("a resident's memory, counted as the task's that drives it", () => {
  it('while an ollama task runs, the model Ollama loaded for it is the task’s, once: not also foreign', () => {
    const l = ledgerWith([run(1, 5600)]);
    const n = card(5600);
    l.observe(n, NOW);
    const g = l.view(n, NOW).gpus[0]!;
    expect({ foreign: g.foreignMB, ours: g.oursMB, free: g.freeMB }).toEqual({ foreign: 400, ours: 5600, free: 8188 - 400 - 5600 - 256 });
    // What it uses is learned as the server's (the task's own process holds no GPU memory).
    expect(l.get(1)!.peak.vramMB).toBe(5600);
  });

  it('only up to its request: more than that is the server’s own (another model, a larger context)', () => {
    const l = ledgerWith([run(1, 4000)]);
    const n = card(5600);
    l.observe(n, NOW);
    expect(l.view(n, NOW).gpus[0]!.foreignMB).toBe(400 + 1600);
  });

  it('a task that does not drive it gets no such credit; neither does memory nvidia-smi does not list for the server', () => {
    const other = ledgerWith([run(1, 5600, null)]);
    other.observe(card(5600), NOW);
    expect(other.view(card(5600), NOW).gpus[0]!.foreignMB).toBe(6000);
    const unlisted = ledgerWith([run(1, 5600)]);
    unlisted.observe(card(5600, 400, false), NOW);
    expect(unlisted.view(card(5600, 400, false), NOW).gpus[0]!.foreignMB).toBe(6000);
  });

  it('the two nvidia-smi loops apart: a process list newer than the GPU-wide reading does not hide the desktop', () => {
    // The desktop is not a compute process (not listed); the GPU-wide figure is read before the model loads, the list after.
    const snap = (usedMB: number, serverMB: number): NodeSnapshot =>
      node({
        gpus: [rtx4060({ usedMB, freeMB: 8188 - usedMB, processes: serverMB > 0 ? [{ pid: SERVER, name: '/usr/local/bin/ollama', usedMB: serverMB }] : [] })],
      });
    const l = new Ledger({ vramMarginMB: 256, memoryMarginMB: 0, readingWindowMs: 1000 });
    l.setResidents([{ kind: 'ollama', pids: [SERVER], models: [] }]);
    l.observe(snap(400, 0), NOW);
    l.add(run(1, 5600));
    l.observe(snap(400, 0), NOW + 200);
    const stale = snap(400, 5600);
    l.observe(stale, NOW + 400);
    expect(l.view(stale, NOW + 400).gpus[0]!.foreignMB).toBe(400);
    const caughtUp = snap(6000, 5600);
    l.observe(caughtUp, NOW + 600);
    expect(l.view(caughtUp, NOW + 600).gpus[0]!.foreignMB).toBe(400);
    // The other way round (the GPU-wide figure newer than the list): counted twice, never less, until the window has passed.
    const other = new Ledger({ vramMarginMB: 256, memoryMarginMB: 0, readingWindowMs: 1000 });
    other.setResidents([{ kind: 'ollama', pids: [SERVER], models: [] }]);
    other.add(run(1, 5600));
    other.observe(snap(400, 0), NOW);
    other.observe(snap(6000, 0), NOW + 200);
    expect(other.view(snap(6000, 0), NOW + 200).gpus[0]!.foreignMB).toBe(6000);
    other.observe(caughtUp, NOW + 400);
    expect(other.view(caughtUp, NOW + 400).gpus[0]!.foreignMB).toBe(6000);
    other.observe(caughtUp, NOW + 1500);
    expect(other.view(caughtUp, NOW + 1500).gpus[0]!.foreignMB).toBe(400);
    // A model loaded before the task started is credited at once, not after the window.
    const loaded = new Ledger({ vramMarginMB: 256, memoryMarginMB: 0, readingWindowMs: 1000 });
    loaded.setResidents([{ kind: 'ollama', pids: [SERVER], models: [] }]);
    loaded.observe(caughtUp, NOW);
    loaded.add(run(1, 5600));
    loaded.observe(caughtUp, NOW + 200);
    expect(loaded.view(caughtUp, NOW + 200).gpus[0]!.foreignMB).toBe(400);
  });

  it('property: what is counted never falls below what is really held, however many tasks drive the server', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 8000 }),
        fc.integer({ min: 0, max: 2000 }),
        fc.array(fc.integer({ min: 1, max: 8000 }), { maxLength: 4 }),
        fc.boolean(),
        (serverMB, desktopMB, reservations, listed) => {
          const l = ledgerWith(reservations.map((mb, i) => run(i + 1, mb)));
          const n = card(serverMB, desktopMB, listed);
          l.observe(n, NOW);
          const g = l.view(n, NOW).gpus[0]!;
          expect(g.foreignMB + g.oursMB).toBeGreaterThanOrEqual(desktopMB + serverMB);
          expect(g.foreignMB).toBeGreaterThanOrEqual(desktopMB);
        },
      ),
    );
  });
});

describe('a queued task whose model is loaded', () => {
  const entry = (id: number, model: string, vramMB: number): QueueEntry => queued(id, gpu(vramMB), { agent: 'ollama', since: NOW, model });
  const cycle = (entries: QueueEntry[], runs: ActiveRun[], models = [{ name: 'llama3.1:8b', vramMB: 5600 }]) => {
    const l = ledgerWith(runs, models);
    const n = card(models.reduce((a, m) => a + (m.vramMB ?? 0), 0));
    l.observe(n, NOW);
    return cycleOver(entries, NOW, {
      drives: (agent) => (agent === 'ollama' ? 'ollama' : null),
      node: n,
      running: l.running(),
      observed: l.observed(n, NOW),
    });
  };

  it('starts on the memory its own model holds; a task for another model does not', () => {
    // 8188 − 400 − 5600 − 256 = 1932 MB free: neither would fit as another program's memory.
    expect(cycle([entry(1, 'llama3.1:8b', 5600)], []).starts.map((s) => s.taskId)).toEqual([1]);
    expect(cycle([entry(1, 'llama3.1', 5600)], [], [{ name: 'llama3.1:latest', vramMB: 5600 }]).starts.map((s) => s.taskId)).toEqual([1]);
    expect(cycle([entry(2, 'mistral:7b', 5600)], []).starts).toEqual([]);
  });

  it('what a running task is credited with is not given again; two loaded models share by what each holds', () => {
    // A chat on the same model already runs with a 5600 MB request: the model's memory is taken.
    expect(cycle([entry(2, 'llama3.1:8b', 5600)], [run(1, 5600)]).starts).toEqual([]);
    const two = [
      { name: 'llama3.1:8b', vramMB: 4000 },
      { name: 'qwen2.5:1.5b', vramMB: 1500 },
    ];
    // 8188 − 400 − 5500 − 256 = 2032 free; qwen's share is 1500: a 3000 MB qwen task fits, a 4000 MB one does not.
    expect(cycle([entry(1, 'qwen2.5:1.5b', 3000)], [], two).starts.map((s) => s.taskId)).toEqual([1]);
    expect(cycle([entry(1, 'qwen2.5:1.5b', 4000)], [], two).starts).toEqual([]);
  });

  it('residency-aware order: among equals, a task whose model is loaded goes first, until the other has waited past the bound', () => {
    // 8188 − 400 − 2000 (llama loaded) − 256 = 5532 MB free: room for one of the two, not both.
    const cold = { ...entry(1, 'mistral:7b', 5000), since: NOW - 30_000 };
    const hot = { ...entry(2, 'llama3.1:8b', 5600), since: NOW - 1_000 };
    // The cold one is older, so first in queue order; but the loaded model skips a load.
    const first = cycle([cold, hot], [], [{ name: 'llama3.1:8b', vramMB: 2000 }]);
    expect(first.starts.map((x) => x.taskId)).toEqual([2]);
    // Waited past the bound (2 min): it is passed no more.
    const starved = cycle([{ ...cold, since: NOW - 121_000 }, hot], [], [{ name: 'llama3.1:8b', vramMB: 2000 }]);
    expect(starved.starts.map((x) => x.taskId)).toEqual([1]);
    // Priority still comes first.
    const urgent = cycle([{ ...cold, priority: 5 }, hot], [], [{ name: 'llama3.1:8b', vramMB: 2000 }]);
    expect(urgent.starts.map((x) => x.taskId)).toEqual([1]);
  });

  it('model names: untagged is ":latest"; a share is unknown where the server does not say what each holds', () => {
    expect(sameModel('llama3.1:latest', 'llama3.1')).toBe(true);
    expect(sameModel('llama3.1:8b', 'llama3.1')).toBe(false);
    const spare = {
      byGpu: new Map([[0, 3000]]),
      models: [
        { name: 'a', vramMB: null },
        { name: 'b', vramMB: null },
      ],
    };
    expect(modelSpare(spare, 'a')).toBeNull();
    expect(modelSpare({ ...spare, models: [{ name: 'a', vramMB: null }] }, 'a')).toEqual(new Map([[0, 3000]]));
    expect(modelSpare(spare, 'c')).toBeNull();
  });
});
