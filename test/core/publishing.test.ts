import { afterEach, describe, expect, it } from 'vitest';
import type { ResourceView } from '../../contracts/resources.js';
import type { ManagerEvent } from '../../src-main/core/ports.js';
import { agent, node, rtx4060 } from '../helpers/fakes.js';
import { harness, type Harness } from '../helpers/harness.js';

const agents = [
  agent({ name: 'cpu', resources: { cpu: 1, memoryMB: 100 } }),
  agent({ name: 'gpu', resources: { cpu: 1, memoryMB: 100, gpu: { count: 1, vramMB: 3000 } } }),
  agent({ name: 'flaky', retry: { maxAttempts: 3, backoffSec: 1 } }),
];

let h: Harness;
afterEach(() => h?.close());
const of = <T extends ManagerEvent['type']>(type: T) => h.sink.events.filter((e): e is Extract<ManagerEvent, { type: T }> => e.type === type);
const views = (): ResourceView[] => of('resources').map((e) => e.view);

describe('the ledger, published', () => {
  it('one ResourceView: free is total less other programs, ours, kept and the margin, never shown below 0', () => {
    const gpu = rtx4060({ usedMB: 1500, processes: [{ pid: 7, name: 'firefox', usedMB: 1500, pgid: 7 }] });
    h = harness(agents, { vramMarginMB: 256, memoryMarginMB: 500 });
    h.telemetry.set(node({ cpuCores: 8, memoryTotalMB: 32_000, memoryAvailableMB: 30_000, gpus: [gpu] }));
    h.manager.submit([{ agent: 'gpu' }]);
    h.clock.flush();
    const v = h.manager.resources();
    expect(v.gpus[0]).toMatchObject({
      totalMB: 8188,
      foreignMB: 1500,
      oursMB: 3000,
      oursTasks: 1,
      keptMB: 0,
      marginMB: 256,
      freeMB: 8188 - 1500 - 3000 - 256,
      foreignTop: [{ name: 'firefox', mb: 1500 }],
    });
    expect(v.memory).toMatchObject({ totalMB: 32_000, foreignMB: 2000, oursMB: 100, marginMB: 500, freeMB: 32_000 - 2000 - 100 - 500 });
    expect(v.cpu).toMatchObject({ totalCores: 8, oursCores: 1, freeCores: 7 });
    expect(v.running).toBe(1);
    // A game takes more than is left: free reads 0, not a negative number.
    h.telemetry.set(node({ gpus: [rtx4060({ usedMB: 8000, processes: [{ pid: 8, name: 'game', usedMB: 8000, pgid: 8 }] })] }));
    expect(h.manager.resources().gpus[0]!.freeMB).toBe(0);
  });

  it('is sent on telemetry and on each start and end, at most once per resourcesEveryMs, the last change always', () => {
    h = harness(agents, { resourcesEveryMs: 1000 });
    const before = views().length;
    for (let i = 0; i < 5; i++) h.telemetry.set(node({ memoryAvailableMB: 20_000 + i }));
    h.clock.flush();
    expect(views().length).toBe(before + 1); // a burst: one now...
    h.clock.advance(1000);
    expect(views().length).toBe(before + 2); // ...and the burst's last, once the interval is over
    expect(views().at(-1)!.memory.foreignMB).toBe(32_000 - 20_004);
    h.clock.advance(5000);
    expect(views().length).toBe(before + 2); // nothing changed: nothing sent
    h.manager.submit([{ agent: 'cpu' }]);
    h.clock.flush();
    h.clock.advance(1000);
    expect(views().at(-1)!.running).toBe(1);
  });

  it('shows what is kept for a long waiter, and for whom', () => {
    h = harness(agents, { reserveAfterMs: 0 });
    h.telemetry.set(node({ gpus: [rtx4060()] }));
    h.manager.submit([{ agent: 'gpu' }, { agent: 'gpu' }]);
    h.clock.flush();
    const [big] = h.manager.submit([{ agent: 'gpu', resources: { gpu: { vramMB: 6000 } } }]);
    h.clock.flush();
    const v = h.manager.resources();
    expect(v.keptFor).toBe(big!.id);
    expect(v.gpus[0]!.keptMB).toBe(8188 - 6000);
    expect(v.gpus[0]!.freeMB).toBe(0);
    expect(h.manager.keptFor()).toBe(big!.id);
  });
});

describe('task-ended and the task view', () => {
  it('task-ended comes once per end, after the task event, and not for a retry on the way', () => {
    h = harness(agents);
    const [t] = h.manager.submit([{ agent: 'flaky' }]);
    for (let i = 0; i < 3; i++) {
      h.clock.advance(60_000);
      h.runner.live()[0]!.exit({ exitCode: 1 });
    }
    h.clock.advance(60_000);
    const ended = of('task-ended');
    expect(ended.map((e) => [e.task.id, e.task.state])).toEqual([[t!.id, 'failed']]);
    const i = h.sink.events.indexOf(ended[0]!);
    expect(h.sink.events[i - 1]).toMatchObject({ type: 'task', task: { id: t!.id, state: 'failed' } });
    h.manager.setPaused(true);
    const [q] = h.manager.submit([{ agent: 'cpu' }]);
    h.manager.cancel(q!.id); // cancelled while queued: an end too
    expect(h.store.getTask(q!.id)!.attempts).toBe(0);
    expect(of('task-ended').map((e) => [e.task.id, e.task.state])).toEqual([
      [t!.id, 'failed'],
      [q!.id, 'cancelled'],
    ]);
  });

  it('says what can be done now, and where a waiting task stands as data', () => {
    h = harness(agents, { maxConcurrency: 1 });
    const [a, b] = h.manager.submit([{ agent: 'cpu' }, { agent: 'cpu' }]);
    h.clock.flush();
    const get = (id: number) => h.store.getTask(id)!;
    expect(h.manager.actions(get(a!.id))).toEqual({ cancel: true, retry: false, priority: false, hold: false, release: false, move: false });
    expect(h.manager.actions(get(b!.id))).toEqual({ cancel: true, retry: false, priority: true, hold: true, release: false, move: true });
    expect(h.manager.schedulingStatus(get(b!.id))).toEqual({
      code: 'wait',
      step: 'concurrency',
      shortfalls: [{ resource: 'tasks', requested: 1, free: 0, capacity: 1, heldBy: [{ by: 'ours', amount: 1, tasks: 1 }] }],
    });
    expect(h.manager.waitingReason(get(b!.id))).toBe('the maximum of 1 task at once is reached');
    h.runner.live()[0]!.exit({ exitCode: 0 });
    expect(h.manager.actions(get(a!.id))).toEqual({ cancel: false, retry: true, priority: false, hold: false, release: false, move: false });
    expect(h.manager.schedulingStatus(get(a!.id))).toBeNull();
  });
});
