import { afterEach, describe, expect, it } from 'vitest';
import { ManagerError } from '../../../src-main/core/errors.js';
import { agent } from '../../helpers/fakes.js';
import { harness, type Harness } from '../../helpers/harness.js';

const agents = [agent({ name: 'cpu', resources: { cpu: 1, memoryMB: 100 } }), agent({ name: 'flaky', retry: { maxAttempts: 2, backoffSec: 10 } })];

let h: Harness;
afterEach(() => h?.close());
const get = (id: number) => h.store.getTask(id)!;
const why = (id: number) => h.manager.waitingReason(get(id));
/** Ends the live run of task `id` with that exit code. */
function exit(id: number, exitCode: number): void {
  const run = h.runner.live().find((r) => r.spec.taskId === id);
  if (!run) throw new Error(`task ${id} is not running (${get(id).state})`);
  run.exit({ exitCode });
  h.clock.flush();
}
function refused(fn: () => unknown): ManagerError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ManagerError) return e;
    throw e;
  }
  throw new Error('not refused');
}

describe.each(['memory', 'sqlite'] as const)('dependencies (%s store)', (store) => {
  it('afterok: the dependent waits, saying for what, and starts once its dependency succeeded', () => {
    h = harness(agents, {}, { store });
    const [a] = h.manager.submit([{ agent: 'cpu' }]);
    const [b] = h.manager.submit([{ agent: 'cpu', dependsOn: [{ type: 'afterok', ids: [a!.id] }] }]);
    h.clock.flush();
    expect(get(b!.id)).toMatchObject({ state: 'queued', blocked: true });
    h.runner.live()[0]!.listener({ type: 'progress', progress: 0.4 });
    h.clock.advance(100);
    expect(why(b!.id)).toBe(`waits for task ${a!.id} (running, 40 %)`);
    expect(h.manager.schedulingStatus(get(b!.id))).toMatchObject({ step: 'dependencies', dependencies: { mode: 'all', more: 0 } });
    exit(a!.id, 0);
    expect(get(b!.id)).toMatchObject({ state: 'running', blocked: false });
    expect(h.store.events(b!.id).map((e) => e.type)).toContain('dependencies-met');
  });

  it('a failed dependency cancels the whole graph below it, in one go, saying why; retry --with-dependents brings it back', () => {
    h = harness(agents, {}, { store });
    const [a, b, c, d] = h.manager.submit([
      { agent: 'cpu', ref: 'a' },
      { agent: 'cpu', ref: 'b', dependsOn: [{ type: 'afterok', refs: ['a'] }] },
      { agent: 'cpu', ref: 'c', dependsOn: [{ type: 'afterok', refs: ['b'] }] },
      // waits for a to fail: the other branch
      { agent: 'cpu', dependsOn: [{ type: 'afternotok', refs: ['a'] }] },
    ]);
    h.clock.flush();
    expect(h.runner.live().map((r) => r.spec.taskId)).toEqual([a!.id]);
    expect(why(c!.id)).toBe(`waits for task ${b!.id} (queued)`);
    h.sink.events = [];
    exit(a!.id, 3);
    expect(get(b!.id)).toMatchObject({ state: 'cancelled', error: `dependency ${a!.id} ended failed`, cause: a!.id });
    expect(get(c!.id)).toMatchObject({ state: 'cancelled', error: `dependency ${b!.id} ended cancelled`, cause: b!.id });
    expect(get(d!.id).state).toBe('running');
    // every task ended once: one task-ended each
    const ended = h.sink.events.filter((e) => e.type === 'task-ended').map((e) => (e as { task: { id: number } }).task.id);
    expect(ended.sort()).toEqual([a!.id, b!.id, c!.id].sort());
    // retrying c alone cannot help: what it waits on is cancelled
    expect(refused(() => h.manager.retry(c!.id)).message).toMatch(`dependency ${b!.id} ended cancelled; retry that one with --with-dependents`);
    exit(d!.id, 0);
    h.manager.retry(a!.id, { withDependents: true });
    h.clock.flush();
    expect(get(b!.id)).toMatchObject({ state: 'queued', blocked: true, cause: null, error: null });
    expect(get(c!.id)).toMatchObject({ state: 'queued', blocked: true });
    exit(a!.id, 0);
    exit(b!.id, 0);
    exit(c!.id, 0);
    expect([a, b, c].map((t) => get(t!.id).state)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  });

  it('afterany waits for the end whatever it is; after waits only for the start', () => {
    h = harness(agents, {}, { store });
    const [a] = h.manager.submit([{ agent: 'cpu', hold: true }]);
    const [any, after] = h.manager.submit([
      { agent: 'cpu', dependsOn: [{ type: 'afterany', ids: [a!.id] }] },
      { agent: 'cpu', dependsOn: [{ type: 'after', ids: [a!.id] }] },
    ]);
    h.clock.flush();
    expect(get(after!.id).state).toBe('queued');
    h.manager.release(a!.id);
    h.clock.flush();
    expect(get(after!.id).state).toBe('running');
    expect(get(any!.id).state).toBe('queued');
    exit(a!.id, 1);
    expect(get(any!.id).state).toBe('running');
  });

  it('any of (Slurm "?"): one met is enough; it ends cancelled only once none can be met', () => {
    h = harness(agents, {}, { store });
    const [a, b] = h.manager.submit([{ agent: 'cpu' }, { agent: 'cpu' }]);
    const [x] = h.manager.submit([{ agent: 'cpu', dependsMode: 'any', dependsOn: [{ type: 'afterok', ids: [a!.id, b!.id] }] }]);
    h.clock.flush();
    expect(why(x!.id)).toBe(`waits for any one of tasks ${a!.id} (running) or ${b!.id} (running)`);
    exit(a!.id, 1);
    expect(get(x!.id).state).toBe('queued');
    exit(b!.id, 1);
    expect(get(x!.id).error).toMatch(/^none of its dependencies can be met any more/);
  });

  it('a dependency on tasks that have ended is decided at submit', () => {
    h = harness(agents, {}, { store });
    const [ok, bad] = h.manager.submit([{ agent: 'cpu' }, { agent: 'cpu' }]);
    h.clock.flush();
    exit(ok!.id, 0);
    exit(bad!.id, 1);
    const [met] = h.manager.submit([{ agent: 'cpu', dependsOn: [{ type: 'afterok', ids: [ok!.id] }] }]);
    expect(met!.blocked).toBe(false);
    h.clock.flush();
    expect(get(met!.id).state).toBe('running');
    const e = refused(() => h.manager.submit([{ agent: 'cpu' }, { agent: 'cpu', dependsOn: [{ type: 'afterok', ids: [bad!.id] }] }]));
    expect(e.message).toBe(`the task could never start (task 2 of 2): dependency ${bad!.id} ended failed; nothing was submitted`);
    expect(e.index).toBe(1);
    expect(h.store.listTasks({ limit: 100 })).toHaveLength(3);
  });

  it.each([
    ['an unknown id', [{ agent: 'cpu', dependsOn: [{ type: 'afterok', ids: [999] }] }], /afterok:999: there is no task 999 to depend on/, 0],
    [
      'an unknown ref',
      [{ agent: 'cpu' }, { agent: 'cpu', dependsOn: [{ type: 'afterok', refs: ['ocr-1'] }] }],
      /task 2 of 2: depends on ref "ocr-1", which no task of this batch has/,
      1,
    ],
    [
      'a ref given twice',
      [
        { agent: 'cpu', ref: 'x' },
        { agent: 'cpu', ref: 'x' },
      ],
      /task 2 of 2: ref "x" is already the ref of task 1/,
      1,
    ],
    ['a task that waits on itself', [{ agent: 'cpu', ref: 'x', dependsOn: [{ type: 'afterok', refs: ['x'] }] }], /depends on itself/, 0],
    [
      'a cycle',
      [
        { agent: 'cpu', ref: 'a', dependsOn: [{ type: 'afterok', refs: ['c'] }] },
        { agent: 'cpu', ref: 'b', dependsOn: [{ type: 'afterok', refs: ['a'] }] },
        { agent: 'cpu', ref: 'c', dependsOn: [{ type: 'afterany', refs: ['b'] }] },
      ],
      /task 2 of 3: its dependencies make a cycle \(a → c → b → a\)/,
      1,
    ],
  ] as const)('refuses %s, naming the line, and stores nothing', (_n, subs, message, index) => {
    h = harness(agents, {}, { store });
    const e = refused(() => h.manager.submit(subs as never));
    expect(e.message).toMatch(message);
    expect(e.index).toBe(index);
    expect(h.store.listTasks({ limit: 10 })).toEqual([]);
  });

  it('cancelling a waited-on queued task cancels its dependents too', () => {
    h = harness(agents, {}, { store });
    const [a, b] = h.manager.submit([
      { agent: 'cpu', ref: 'a', hold: true },
      { agent: 'cpu', dependsOn: [{ type: 'afterok', refs: ['a'] }] },
    ]);
    h.manager.cancel(a!.id);
    expect(get(b!.id)).toMatchObject({ state: 'cancelled', error: `dependency ${a!.id} ended cancelled` });
  });

  it('a retry on the way is not an end: the dependent waits through the backoff', () => {
    h = harness(agents, {}, { store });
    const [a, b] = h.manager.submit([
      { agent: 'flaky', ref: 'a' },
      { agent: 'cpu', dependsOn: [{ type: 'afterok', refs: ['a'] }] },
    ]);
    h.clock.flush();
    exit(a!.id, 1);
    expect(get(a!.id).state).toBe('queued');
    expect(get(b!.id)).toMatchObject({ state: 'queued', blocked: true });
    h.clock.advance(10_000);
    exit(a!.id, 0);
    expect(get(b!.id).state).toBe('running');
  });
});

describe('dependencies across a restart', () => {
  it('survive it: a run re-adopted ends, and its dependents go on', () => {
    h = harness(agents, {}, { store: 'sqlite' });
    const [a, b] = h.manager.submit([
      { agent: 'cpu', ref: 'a' },
      { agent: 'cpu', dependsOn: [{ type: 'afterok', refs: ['a'] }] },
    ]);
    h.clock.flush();
    h.runner.alive.add(h.runner.live()[0]!.pgid);
    h = h.restart();
    expect(get(b!.id)).toMatchObject({ state: 'queued', blocked: true });
    exit(a!.id, 0);
    expect(get(b!.id).state).toBe('running');
  });

  it('one whose dependency ended while no Manager ran (a crash between the two writes) is decided at start', () => {
    h = harness(agents, {}, { store: 'sqlite' });
    const [a, b, c] = h.manager.submit([
      { agent: 'cpu', ref: 'a' },
      { agent: 'cpu', ref: 'b', dependsOn: [{ type: 'afterok', refs: ['a'] }] },
      { agent: 'cpu', dependsOn: [{ type: 'afternotok', refs: ['a'] }] },
    ]);
    h.clock.flush();
    h.manager.stop();
    // The end is recorded, and the Manager dies before it judges the dependents.
    const end = { outcome: 'succeeded' as const, reason: 'exit code 0', exitCode: 0, signal: null, endedAt: h.clock.now() };
    h.store.endAttempt(a!.id, 1, end, { state: 'succeeded', notBefore: null, error: null, finishedAt: h.clock.now() });
    h = h.restart();
    expect(get(b!.id).state).toBe('running');
    expect(get(c!.id)).toMatchObject({ state: 'cancelled', error: expect.stringMatching(`dependency ${a!.id} succeeded`) });
  });
});

describe.each(['memory', 'sqlite'] as const)('arrays (%s store)', (store) => {
  it('0-9%3: ten tasks sharing an array id, each with its index, at most three at once', () => {
    h = harness(agents, {}, { store });
    const made = h.manager.submit([{ agent: 'cpu', array: '0-9%3', input: { x: 1 } }]);
    expect(made).toHaveLength(10);
    const arrayId = made[0]!.id;
    expect(made.map((t) => [t.arrayId, t.arrayIndex, t.input.arrayIndex, t.input.x])).toEqual(made.map((_, i) => [arrayId, i, i, 1]));
    h.clock.flush();
    expect(h.runner.live()).toHaveLength(3);
    expect(h.runner.live()[0]!.spec.array).toEqual({ id: arrayId, index: 0 });
    expect(why(made[5]!.id)).toBe(`array ${arrayId} runs at most 3 at once (3 running)`);
    for (let done = 0; done < 10; done++) {
      expect(h.runner.live().length).toBeLessThanOrEqual(3);
      exit(h.runner.live()[0]!.spec.taskId, done === 4 ? 1 : 0);
    }
    const [sum] = h.manager.queries.arrays([arrayId]);
    expect(sum).toMatchObject({ arrayId, total: 10, throttle: 3, progress: 1 });
    expect(sum!.counts).toMatchObject({ succeeded: 9, failed: 1 });
  });

  it('each: an array over inputs; a dependency on the array means all of its tasks', () => {
    h = harness(agents, {}, { store });
    const made = h.manager.submit([
      { agent: 'cpu', ref: 'pages', each: [{ file: 'a.png' }, { file: 'b.png' }] },
      { agent: 'cpu', dependsOn: [{ type: 'afterok', refs: ['pages'] }] },
    ]);
    expect(made.map((t) => t.input.file ?? null)).toEqual(['a.png', 'b.png', null]);
    const index = made[2]!;
    h.clock.flush();
    expect(why(index.id)).toBe(`waits for task ${made[0]!.id} (running) and ${made[1]!.id} (running)`);
    exit(made[0]!.id, 0);
    expect(get(index.id).state).toBe('queued');
    exit(made[1]!.id, 0);
    expect(get(index.id).state).toBe('running');
    // by the array's id, later
    const [later] = h.manager.submit([{ agent: 'cpu', dependsOn: [{ type: 'afterok', ids: [made[0]!.arrayId!] }] }]);
    expect(later!.blocked).toBe(false);
  });

  it('cancel and retry a whole array (only the failed ones, with failedOnly)', () => {
    h = harness(agents, {}, { store });
    const made = h.manager.submit([{ agent: 'cpu', array: '0-3' }]);
    h.clock.flush();
    exit(made[0]!.id, 1);
    exit(made[1]!.id, 0);
    const c = h.manager.cancelArray(made[0]!.arrayId!);
    expect(c.done).toEqual([made[2]!.id, made[3]!.id]);
    h.clock.flush();
    const r = h.manager.retryArray(made[0]!.arrayId!, true);
    expect(r.done).toEqual([made[0]!.id]);
    expect(refused(() => h.manager.cancelArray(999)).message).toMatch(/no array with id 999/);
  });

  it.each([
    [{ array: '5-2' }, /the range 5-2 is reversed/],
    [{ array: '0-100000' }, /more than 100,000 tasks/],
    [{ array: '0-3%2', throttle: 3 }, /says at most 2 at once but throttle says 3/],
    [{ throttle: 2 }, /a throttle limits an array/],
    [{ array: '0-1', each: [{}] }, /either "array" \(indices\) or "each"/],
  ])('refuses %j and stores nothing', (extra, message) => {
    h = harness(agents, {}, { store });
    expect(refused(() => h.manager.submit([{ agent: 'cpu', ...extra }])).message).toMatch(message);
    expect(h.store.listTasks({ limit: 10 })).toEqual([]);
  });
});

describe.each(['memory', 'sqlite'] as const)('reorder (%s store)', (store) => {
  it('top, bottom and before another move a queued task within its priority; the queue starts them in that order', () => {
    h = harness(agents, { maxConcurrency: 1 }, { store });
    h.manager.setPaused(true);
    const [a, b, c, d] = h.manager.submit([{ agent: 'cpu' }, { agent: 'cpu' }, { agent: 'cpu' }, { agent: 'cpu', priority: 5 }]);
    const order = () => h.manager.queries.page({ states: ['queued'] }, 'priority', 0, 10).items.map((t) => t.id);
    expect(order()).toEqual([d!.id, a!.id, b!.id, c!.id]);
    h.manager.move(c!.id, { to: 'top' });
    expect(order()).toEqual([d!.id, c!.id, a!.id, b!.id]);
    h.manager.move(c!.id, { to: 'bottom' });
    expect(order()).toEqual([d!.id, a!.id, b!.id, c!.id]);
    h.manager.move(c!.id, { before: b!.id });
    expect(order()).toEqual([d!.id, a!.id, c!.id, b!.id]);
    // before a task of another priority: it takes that priority
    const moved = h.manager.move(b!.id, { before: d!.id });
    expect(moved.priority).toBe(5);
    expect(order()).toEqual([b!.id, d!.id, a!.id, c!.id]);
    h.manager.setPaused(false);
    const started: number[] = [];
    for (let i = 0; i < 4; i++) {
      h.clock.flush();
      const run = h.runner.live()[0]!;
      started.push(run.spec.taskId);
      run.exit({ exitCode: 0 });
    }
    expect(started).toEqual([b!.id, d!.id, a!.id, c!.id]);
    expect(refused(() => h.manager.move(a!.id, { to: 'top' })).message).toBe(`task ${a!.id} is succeeded; only a queued task can be moved`);
  });
});
