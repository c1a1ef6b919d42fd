import { describe, expect, it } from 'vitest';
import { PersonYield, type YieldConfig } from '../../../src-main/core/person/yield.js';
import { describeStatus } from '../../../src-main/core/scheduler/describe.js';
import { cycleOver, queued } from '../../helpers/cycle.js';

const NOW = Date.UTC(2026, 0, 1, 19);
const cfg: YieldConfig = { belowPriority: 10, exitMs: 30_000 };
const game = [{ pid: 4242, program: 'steam_app_1091500' }];

describe('yielding the GPU to the person', () => {
  it('game mode holds while the game runs and for the hysteresis after, then ends by itself', () => {
    const y = new PersonYield();
    expect(y.current(NOW, cfg)).toBeNull();
    expect(y.sawGames(game, NOW, cfg)).toBe(true);
    expect(y.current(NOW, cfg)).toMatchObject({ by: 'game', program: 'steam_app_1091500', since: NOW, belowPriority: 10 });
    expect(y.current(NOW, cfg)!.reason).toBe('game mode — steam_app_1091500 is running (GPU tasks below priority 10 wait)');
    // Still running 20 and 40 s later (the watcher looks every few seconds): no change, and it began when first seen.
    expect(y.sawGames(game, NOW + 20_000, cfg)).toBe(false);
    expect(y.sawGames(game, NOW + 40_000, cfg)).toBe(false);
    expect(y.current(NOW + 40_000, cfg)!.since).toBe(NOW);
    // Exits: game mode holds 30 s more (a restart, a loading screen), saying so, then ends.
    expect(y.sawGames([], NOW + 42_000, cfg)).toBe(false);
    expect(y.current(NOW + 50_000, cfg)!.reason).toMatch(/steam_app_1091500 ended; GPU work resumes 30 s after/);
    expect(y.nextChange(NOW + 50_000, cfg)).toBe(NOW + 70_000);
    expect(y.current(NOW + 70_000, cfg)).toBeNull();
    expect(y.sawGames([], NOW + 72_000, cfg)).toBe(false);
    expect(y.sawGames(game, NOW + 80_000, cfg)).toBe(true);
    expect(y.current(NOW + 80_000, cfg)!.since).toBe(NOW + 80_000);
    // Back within the hysteresis: the same stretch of game mode.
    const z = new PersonYield();
    z.sawGames(game, NOW, cfg);
    z.sawGames([], NOW + 10_000, cfg);
    expect(z.sawGames(game, NOW + 20_000, cfg)).toBe(false);
    expect(z.current(NOW + 20_000, cfg)!.since).toBe(NOW);
  });

  it('focus mode: by hand, for good or until a moment, and it names itself before game mode', () => {
    const y = new PersonYield();
    y.setFocus(NOW + 3_600_000);
    y.sawGames(game, NOW, cfg);
    expect(y.current(NOW, cfg)).toMatchObject({ by: 'focus', until: NOW + 3_600_000 });
    expect(y.current(NOW, cfg)!.reason).toBe('focus mode until 2026-01-01T20:00:00.000Z (GPU tasks below priority 10 wait; agentmgr focus off ends it)');
    expect(y.nextChange(NOW, cfg)).toBe(NOW + 30_000); // the game's hysteresis first
    y.setFocus(Infinity);
    expect(y.current(NOW, cfg)).toMatchObject({ by: 'focus', until: null });
    y.setFocus(null);
    expect(y.current(NOW, cfg)?.by).toBe('game');
  });

  it('in the cycle: GPU tasks below the threshold wait, saying why; CPU tasks and urgent ones go on', () => {
    const entry = (id: number, priority: number, vramMB: number | null) =>
      queued(id, vramMB === null ? { cpu: 1, memoryMB: 100 } : { cpu: 1, memoryMB: 100, gpu: { count: 1, vramMB } }, { priority, since: NOW });
    const y = new PersonYield();
    y.sawGames(game, NOW, cfg);
    const r = cycleOver([entry(1, 0, 2000), entry(2, 0, null), entry(3, 10, 1000), entry(4, 9, 1000)], NOW, { person: y.current(NOW, cfg) });
    expect(r.starts.map((s) => s.taskId).sort()).toEqual([2, 3]);
    const why = [...r.reasons.values()].map((s) => describeStatus(s));
    expect(why).toEqual([
      'held: game mode — steam_app_1091500 is running (GPU tasks below priority 10 wait)',
      'held: game mode — steam_app_1091500 is running (GPU tasks below priority 10 wait)',
    ]);
  });
});

describe("the Manager's side: focus kept across a restart, and the hold's end noticed by the clock", () => {
  it('focus for a while survives a new Manager on the same store, ends by itself, and says so', async () => {
    const { PersonDesk } = await import('../../../src-main/core/person/desk.js');
    const { MemoryTaskStore } = await import('../../../src-main/adapters/memory/memory-task-store.js');
    const { VirtualClock } = await import('../../helpers/virtual-clock.js');
    const { RecordingSink, quietLogger } = await import('../../helpers/fakes.js');
    const store = new MemoryTaskStore();
    const clock = new VirtualClock(NOW);
    const events = new RecordingSink();
    let changes = 0;
    const make = () => new PersonDesk({ store, clock, events, logger: quietLogger, config: () => ({}), changed: () => changes++, freeVram: () => {} });
    const first = make();
    first.start();
    first.setFocus(true, NOW + 60_000);
    expect(first.view()).toMatchObject({ by: 'focus', until: NOW + 60_000 });
    first.stop();
    // A new Manager (same store): still in focus mode, until the same moment.
    const second = make();
    second.start();
    expect(second.view()).toMatchObject({ by: 'focus', until: NOW + 60_000 });
    const before = changes;
    clock.advance(60_001);
    expect(second.view()).toBeNull();
    expect(changes).toBe(before + 1);
    expect(events.events.at(-1)).toEqual({ type: 'yielding', yielding: null });
    second.stop();
  });
});

describe('idle-only work', () => {
  it('waits until the person has been away long enough, counting on from what was reported; unknown counts as away', () => {
    const y = new PersonYield();
    expect(y.idleGate(NOW, 600_000)).toBeNull();
    y.reportIdle(30, NOW);
    expect(y.idleGate(NOW + 60_000, 600_000)).toEqual({ awayMs: 90_000, needMs: 600_000 });
    expect(y.nextChange(NOW, cfg, 600_000)).toBe(NOW + 570_000);
    const cycleAt = (gate: ReturnType<PersonYield['idleGate']>) =>
      cycleOver([queued(1, { cpu: 1, memoryMB: 100 }, { whenIdle: true, since: NOW }), queued(2, { cpu: 1, memoryMB: 100 }, { since: NOW })], NOW, {
        idle: gate,
      });
    const here = cycleAt({ awayMs: 90_000, needMs: 600_000 });
    expect(here.starts.map((s) => s.taskId)).toEqual([2]);
    expect(describeStatus([...here.reasons.values()][0]!)).toBe('idle-only work: it starts once you have been away 10 min (away 90 s now)');
    expect(
      cycleAt({ awayMs: 600_000, needMs: 600_000 })
        .starts.map((s) => s.taskId)
        .sort(),
    ).toEqual([1, 2]);
    expect(cycleAt(null).starts).toHaveLength(2);
  });
});
