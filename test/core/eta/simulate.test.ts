import { afterEach, describe, expect, it } from 'vitest';
import type { ResourceRequest } from '../../../contracts/resources.js';
import { etaText } from '../../../contracts/workflow.js';
import { simulate, type SimInput, type SimRunning } from '../../../src-main/core/eta/simulate.js';
import type { QueueEntry } from '../../../src-main/core/scheduler/queue.js';
import { agent, node, rtx4060 } from '../../helpers/fakes.js';
import { harness, type Harness } from '../../helpers/harness.js';
import { VirtualClock } from '../../helpers/virtual-clock.js';

const NOW = Date.UTC(2026, 11, 1, 12);
const MIN = 60_000;
const small: ResourceRequest = { cpu: 1, memoryMB: 100 };
const gpu: ResourceRequest = { cpu: 1, memoryMB: 100, gpu: { count: 1, vramMB: 4000 } };
const entry = (id: number, request = small, agentName = 'a', priority = 0): QueueEntry => ({
  id,
  agent: agentName,
  project: 'default',
  request,
  notBefore: null,
  priority,
  since: NOW,
  seq: id,
  array: null,
  throttle: null,
});
const running = (taskId: number, startedAt: number, progress: number | null = null, request = small): SimRunning => ({
  taskId,
  agent: 'a',
  request,
  gpus: request.gpu ? [0] : [],
  pgid: null,
  startedAt,
  progress,
});

function input(over: Partial<SimInput>): SimInput {
  return {
    now: NOW,
    paused: false,
    maxConcurrency: 1,
    reserveAfterMs: null,
    vramMarginMB: 0,
    memoryMarginMB: 0,
    agentLimit: () => null,
    node: node(),
    running: [],
    queued: [],
    blocked: [],
    durationMs: () => 10 * MIN,
    horizonMs: 6 * 60 * MIN,
    maxStarts: 10_000,
    ...over,
  };
}

describe('the queue played forward', () => {
  it('one slot: each queued task starts when the one before it is expected to end', () => {
    const r = simulate(input({ running: [running(1, NOW - 4 * MIN)], queued: [entry(2), entry(3), entry(4)] }));
    expect(r.etas.get(1)).toEqual({ startAt: NOW - 4 * MIN, endAt: NOW + 6 * MIN });
    expect([2, 3, 4].map((id) => (r.etas.get(id)!.startAt - NOW) / MIN)).toEqual([6, 16, 26]);
    expect(r.drainsAt).toBe(NOW + 36 * MIN);
  });

  it('a running task that reports progress ends when its pace says (not at its usual duration)', () => {
    // 8 minutes in and 80 % done: 2 minutes left, though the agent usually takes 10.
    const r = simulate(input({ running: [running(1, NOW - 8 * MIN, 0.8)], queued: [entry(2)] }));
    expect(r.etas.get(2)!.startAt).toBe(NOW + 2 * MIN);
    // an overdue one without progress ends "any moment"
    const late = simulate(input({ running: [running(1, NOW - 30 * MIN)], queued: [entry(2)] }));
    expect(late.etas.get(2)!.startAt).toBe(NOW + 1000);
  });

  it('uses the core cycle: priority first, backfill of what fits, each agent its own duration', () => {
    const r = simulate(
      input({
        maxConcurrency: 2,
        queued: [entry(1, gpu, 'a'), entry(2, gpu, 'a'), entry(3, small, 'b', 5)],
        durationMs: (a) => (a === 'b' ? MIN : 10 * MIN),
        node: node({ gpus: [rtx4060({ usedMB: 0 })] }),
      }),
    );
    // 3 (priority 5) and 1 start at once; 2 needs a slot: 3 frees one after a minute, and VRAM fits (2 × 4000 ≤ 8188)
    expect(r.etas.get(3)!.startAt).toBe(NOW);
    expect(r.etas.get(1)!.startAt).toBe(NOW);
    expect(r.etas.get(2)!.startAt).toBe(NOW + MIN);
  });

  it('beyond the horizon: no estimate, saying so; the bound on starts cuts it short', () => {
    const queued = Array.from({ length: 50 }, (_, i) => entry(i + 1));
    const r = simulate(input({ queued, durationMs: () => 60 * MIN }));
    expect(r.etas.size).toBe(7); // starts at 0, 1 h, ... 6 h
    expect(r.none.get(50)).toBe('no estimate: it starts more than 6 h from now');
    const cut = simulate(input({ queued, maxStarts: 3 }));
    expect(cut.truncated).toBe(true);
    expect(cut.etas.size).toBe(3);
    expect(cut.none.get(50)).toBe('no estimate: more than 3 tasks start before it');
  });

  it('held back by something with no end in sight (a game holding the GPU): no estimate, and why', () => {
    const game = rtx4060({ usedMB: 6000, processes: [{ pid: 4321, name: 'game.exe', usedMB: 6000 }] });
    const r = simulate(input({ queued: [entry(1, gpu), entry(2)], maxConcurrency: 4, node: node({ gpus: [game] }) }));
    expect(r.etas.get(2)!.startAt).toBe(NOW);
    expect(r.none.get(1)).toMatch(
      /^no estimate: it needs 4000 MB VRAM on GPU 0, 2188 MB free of 8188 MB: 6000 MB held by other programs \(game.exe 6000 MB\).*no task of ours ending frees that$/,
    );
    const paused = simulate(input({ queued: [entry(1)], paused: true }));
    expect(paused.none.get(1)).toBe('no estimate while the queue is paused');
  });

  it('what our running tasks hold is freed when they end, not left counted as other programs', () => {
    // Our running task holds 7000 MB, measured by its process group; once it ends the next GPU task fits.
    const big: ResourceRequest = { cpu: 1, memoryMB: 100, gpu: { count: 1, vramMB: 7000 } };
    const ours = rtx4060({ usedMB: 7000, processes: [{ pid: 10, name: 'python', usedMB: 7000, pgid: 10 }] });
    const r = simulate(
      input({ maxConcurrency: 4, node: node({ gpus: [ours] }), running: [{ ...running(1, NOW, null, big), pgid: 10 }], queued: [entry(2, big)] }),
    );
    expect(r.etas.get(2)!.startAt).toBe(NOW + 10 * MIN);
  });

  it('dependencies: a waiting task starts after what it waits for is expected to end; one waiting for a failure has no estimate', () => {
    const r = simulate(
      input({
        maxConcurrency: 4,
        queued: [entry(1)],
        blocked: [
          { entry: entry(2), mode: 'all', deps: [{ type: 'afterok', id: 1 }] },
          { entry: entry(3), mode: 'all', deps: [{ type: 'after', id: 1 }] },
          { entry: entry(4), mode: 'all', deps: [{ type: 'afternotok', id: 1 }] },
          { entry: entry(5), mode: 'all', deps: [{ type: 'afterany', id: 2 }] },
        ],
      }),
    );
    expect(r.etas.get(2)!.startAt).toBe(NOW + 10 * MIN);
    expect(r.etas.get(3)!.startAt).toBe(NOW);
    expect(r.etas.get(5)!.startAt).toBe(NOW + 20 * MIN);
    expect(r.none.get(4)).toBe('no estimate: it waits for a task to fail');
  });
});

describe('estimates through the Manager', () => {
  let h: Harness;
  afterEach(() => h?.close());

  it('learns durations from successes, gives every queued task a start and an end, and says it in words', () => {
    h = harness([agent({ name: 'a', resources: { cpu: 1, memoryMB: 10 }, expectedSec: 120 })], { maxConcurrency: 1 });
    const [first, second] = h.manager.submit([{ agent: 'a' }, { agent: 'a' }]);
    h.clock.flush();
    // no history: the manifest's expectedSec
    expect(h.manager.eta(h.store.getTask(second!.id)!).eta!.startAt - h.clock.now()).toBe(120_000);
    h.clock.advance(30_000);
    h.runner.live()[0]!.exit({ exitCode: 0 });
    h.clock.flush();
    // learned: 30 s; the estimate is worked out again once it is old enough. The second has run
    // 2 s of its 30: the third starts in 28.
    h.clock.advance(2000);
    const [third] = h.manager.submit([{ agent: 'a' }]);
    h.clock.flush();
    const e = h.manager.eta(h.store.getTask(third!.id)!);
    expect(e.eta!.startAt - h.clock.now()).toBe(28_000);
    const words = etaText({ state: 'queued', eta: { startAt: new Date(e.eta!.startAt), endAt: new Date(e.eta!.endAt) }, etaNote: null }, h.clock.now());
    expect(words).toBe('starts in under a minute, ends in under a minute');
    expect(
      etaText(
        { state: 'queued', eta: { startAt: new Date(h.clock.now() + 4 * MIN), endAt: new Date(h.clock.now() + 130 * MIN) }, etaNote: null },
        h.clock.now(),
      ),
    ).toBe('starts in about 4 min, ends in about 2 h 10 min');
    expect(first!.id).toBeLessThan(second!.id);
    h.manager.hold(third!.id);
    expect(h.manager.eta(h.store.getTask(third!.id)!)).toEqual({ eta: null, note: 'no estimate while it is held' });
  });

  it('a long estimate is worked out over several turns: the one before stays in use meanwhile, and the first says it is on its way', () => {
    // Each reading of this clock costs 1 ms while `cost` is on: the work on an estimate runs past
    // its 4 ms slice and goes on in later (zero-delay) turns.
    class CostlyClock extends VirtualClock {
      cost = 0;
      private extra = 0;
      override now(): number {
        this.extra += this.cost;
        return super.now() + this.extra;
      }
    }
    const clock = new CostlyClock();
    h = harness(
      [agent({ name: 'a', resources: { cpu: 1, memoryMB: 10 }, expectedSec: 60 }), agent({ name: 'b', resources: { cpu: 1, memoryMB: 10 } })],
      { maxConcurrency: 1 },
      { clock },
    );
    const tasks = h.manager.submit(Array.from({ length: 200 }, () => ({ agent: 'a' })));
    h.clock.flush();
    const last = h.store.getTask(tasks.at(-1)!.id)!;
    clock.cost = 1;
    expect(h.manager.eta(last)).toEqual({ eta: null, note: 'no estimate yet: it is being worked out' });
    expect(clock.pending()).toBeGreaterThan(0);
    // Its turns come: the estimate is there, and every task has one.
    clock.flush();
    clock.cost = 0;
    const first = h.manager.eta(last).eta!;
    expect(first.startAt - h.clock.now()).toBeGreaterThan(190 * MIN);
    const before = h.manager.estimate();
    expect(before.etas.size).toBe(200);
    expect(before.costMs).toBeGreaterThan(4);
    // The next one is due: while it is worked out, the one before is what every view gets.
    h.clock.advance(Math.max(2000, before.costMs * 20) + 1);
    clock.cost = 1;
    expect(h.manager.eta(last).eta).toEqual(first);
    expect(h.manager.estimate()).toBe(before);
    clock.flush();
    clock.cost = 0;
    expect(h.manager.estimate().computedAt).toBeGreaterThan(before.computedAt);
    expect(h.manager.estimate().etas.size).toBe(200);
    // A failure while it is worked out (the store cannot be read) leaves the one before in use,
    // and never throws out of a timer.
    const kept = h.manager.estimate();
    const store = h.store as unknown as { recentDurations: (agent: string, n: number) => number[] };
    const real = store.recentDurations.bind(store);
    store.recentDurations = () => {
      throw new Error('the disk is gone');
    };
    h.manager.submit([{ agent: 'b' }]);
    h.clock.advance(Math.max(2000, kept.costMs * 20) + 1);
    clock.cost = 1;
    expect(() => h.manager.eta(last)).not.toThrow();
    expect(() => clock.flush()).not.toThrow();
    clock.cost = 0;
    expect(h.manager.estimate()).toBe(kept);
    store.recentDurations = real;
    h.clock.advance(Math.max(2000, kept.costMs * 20) + 1);
    expect(h.manager.estimate().computedAt).toBeGreaterThan(kept.computedAt);
    // Stopped mid-way: nothing is left to run.
    h.clock.advance(Math.max(2000, h.manager.estimate().costMs * 20) + 1);
    clock.cost = 1;
    h.manager.eta(last);
    h.manager.stop();
    clock.cost = 0;
    expect(clock.pending()).toBe(0);
  });
});
