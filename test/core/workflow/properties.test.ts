import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { DEPENDENCY_TYPES, TERMINAL_STATES, type TaskSubmission } from '../../../contracts/task.js';
import { judge } from '../../../src-main/core/workflow/dependencies.js';
import { agent, FakeRunner } from '../../helpers/fakes.js';
import { harness, type Harness } from '../../helpers/harness.js';

const agents = [
  agent({ name: 'cpu', resources: { cpu: 0.1, memoryMB: 1 } }),
  agent({ name: 'flaky', resources: { cpu: 0.1, memoryMB: 1 }, retry: { maxAttempts: 3, backoffSec: 1 } }),
];

let h: Harness | undefined;
afterEach(() => h?.close());

/** A runner that checks, at every start, that the task's dependencies allow it to start now. */
class CheckingRunner extends FakeRunner {
  violations: string[] = [];
  check: (taskId: number) => string | null = () => null;
  override start(...args: Parameters<FakeRunner['start']>) {
    const bad = this.check(args[0].taskId);
    if (bad) this.violations.push(bad);
    return super.start(...args);
  }
}

/** A random DAG: each task may depend on earlier ones, with a random rule; and how each run will end. */
const dagArb = fc.integer({ min: 1, max: 10 }).chain((n) =>
  fc.record({
    deps: fc.tuple(
      ...Array.from({ length: n }, (_, i) =>
        fc.record({
          on: fc.subarray(
            Array.from({ length: i }, (_, j) => j),
            { maxLength: Math.min(3, i) },
          ),
          type: fc.constantFrom(...DEPENDENCY_TYPES),
          any: fc.boolean(),
        }),
      ),
    ),
    outcomes: fc.array(fc.constantFrom(0, 0, 1), { minLength: n, maxLength: n }),
    picks: fc.array(fc.nat(), { minLength: 40, maxLength: 40 }),
    cancels: fc.array(fc.integer({ min: 0, max: n - 1 }), { maxLength: 2 }),
  }),
);

describe('workflow properties', () => {
  it('random DAGs with random outcomes: no task starts before its dependencies allow, and every task ends exactly once', () => {
    fc.assert(
      fc.property(dagArb, ({ deps, outcomes, picks, cancels }) => {
        const runner = new CheckingRunner();
        h?.close();
        h = harness(agents, {}, { runner });
        const store = h.store;
        runner.check = (id) => {
          const d = store.dependencies(id);
          if (!d) return null;
          const v = judge(d.mode, d.links);
          return v.code === 'met' ? null : `task ${id} started while its dependencies were ${v.code}: ${JSON.stringify(d.links)}`;
        };
        const subs: TaskSubmission[] = deps.map((d, i) => ({
          agent: 'cpu',
          ref: `t${i}`,
          ...(d.on.length > 0 ? { dependsOn: [{ type: d.type, refs: d.on.map((j) => `t${j}`) }], dependsMode: d.any ? 'any' : 'all' } : {}),
        }));
        const made = h.manager.submit(subs);
        const index = new Map(made.map((t, i) => [t.id, i]));
        for (const c of cancels) {
          const t = store.getTask(made[c]!.id)!;
          if (!TERMINAL_STATES.includes(t.state)) h.manager.cancel(t.id);
        }
        h.clock.flush();
        for (let step = 0; h.runner.live().length > 0; step++) {
          const live = h.runner.live();
          const run = live[(picks[step % picks.length] ?? 0) % live.length]!;
          run.exit({ exitCode: outcomes[index.get(run.spec.taskId)!]! });
          h.clock.flush();
        }
        expect(runner.violations).toEqual([]);
        // Nothing is left waiting: each ended, and said so once.
        const ended = new Map<number, number>();
        for (const e of h.sink.events) if (e.type === 'task-ended') ended.set(e.task.id, (ended.get(e.task.id) ?? 0) + 1);
        for (const t of made) {
          expect(TERMINAL_STATES).toContain(store.getTask(t.id)!.state);
          expect(ended.get(t.id)).toBe(1);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('an array throttle is never exceeded under random exits, restarts and retries', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 12 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.record({ act: fc.constantFrom('exit-ok', 'exit-fail', 'exit-fail', 'restart', 'retry', 'wait'), pick: fc.nat() }), {
          minLength: 5,
          maxLength: 60,
        }),
        (size, throttle, actions) => {
          h?.close();
          h = harness(agents, {}, { store: 'sqlite' });
          const made = h.manager.submit([{ agent: 'flaky', array: `0-${size - 1}%${throttle}` }]);
          const arrayId = made[0]!.arrayId!;
          const active = () => h!.store.listTasks({ arrayId, states: ['starting', 'running'], limit: 100 }).length;
          h.clock.flush();
          for (const { act, pick } of actions) {
            const live = h.runner.live();
            if (act.startsWith('exit') && live.length > 0) live[pick % live.length]!.exit({ exitCode: act === 'exit-ok' ? 0 : 1 });
            else if (act === 'restart') {
              for (const r of live) h.runner.alive.add(r.pgid);
              h = h.restart();
            } else if (act === 'retry') {
              const ended = h.store.listTasks({ arrayId, states: ['failed'], limit: 100 });
              if (ended.length > 0) h.manager.retry(ended[pick % ended.length]!.id);
            } else h.clock.advance(2000); // backoffs end
            h.clock.flush();
            expect(active()).toBeLessThanOrEqual(throttle);
            expect(h.runner.live().length).toBeLessThanOrEqual(throttle);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
