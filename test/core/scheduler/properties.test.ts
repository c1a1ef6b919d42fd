import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TERMINAL_STATES } from '../../../contracts/task.js';
import type { ResourceRequest } from '../../../contracts/resources.js';
import type { NodeSnapshot, RunningUsage } from '../../../src-main/core/model/node.js';
import { runCycle } from '../../../src-main/core/scheduler/cycle.js';
import type { LaunchSpec, RunHandle, RunListener } from '../../../src-main/core/ports.js';
import { agent, FakeRunner, node, rtx4060 } from '../../helpers/fakes.js';
import { harness } from '../../helpers/harness.js';

const requestArb: fc.Arbitrary<ResourceRequest> = fc.record(
  {
    cpu: fc.constantFrom(0, 0.5, 1, 2, 4),
    memoryMB: fc.integer({ min: 0, max: 12_000 }),
    gpu: fc.record({ count: fc.integer({ min: 1, max: 2 }), vramMB: fc.integer({ min: 0, max: 8_000 }) }),
  },
  { requiredKeys: ['cpu', 'memoryMB'] },
);

const gpuArb = (index: number) =>
  fc.record({ used: fc.integer({ min: 0, max: 8188 }), perProcess: fc.boolean() }).map(({ used, perProcess }) =>
    rtx4060({ index, uuid: `GPU-${index}`, usedMB: used, freeMB: 8188 - used, processes: perProcess ? [{ pid: 1, name: 'other', usedMB: used, pgid: 1 }] : null }),
  );

const nodeArb: fc.Arbitrary<NodeSnapshot> = fc
  .record({
    cores: fc.integer({ min: 1, max: 16 }),
    total: fc.integer({ min: 4_000, max: 64_000 }),
    availFrac: fc.double({ min: 0, max: 1, noNaN: true }),
    gpus: fc.integer({ min: 0, max: 2 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => gpuArb(i)))),
  })
  .map(({ cores, total, availFrac, gpus }) => node({ cpuCores: cores, memoryTotalMB: total, memoryAvailableMB: Math.floor(total * availFrac), gpus }));

/** Independent check: what a set of placements holds never exceeds what the machine had free. */
function assertNotOversubscribed(n: NodeSnapshot, running: RunningUsage[], placed: RunningUsage[], vramMargin: number, memMargin: number): void {
  const all = [...running, ...placed];
  if (placed.length === 0) return;
  expect(all.reduce((s, t) => s + t.request.cpu, 0)).toBeLessThanOrEqual(n.cpuCores + 1e-9);
  const memForeign = n.memoryTotalMB - n.memoryAvailableMB; // nothing measured as ours here
  expect(memForeign + all.reduce((s, t) => s + t.request.memoryMB, 0) + memMargin).toBeLessThanOrEqual(n.memoryTotalMB);
  for (const g of n.gpus) {
    const onIt = placed.filter((t) => t.gpus.includes(g.index));
    if (onIt.length === 0) continue;
    const held = all.filter((t) => t.gpus.includes(g.index)).reduce((s, t) => s + (t.request.gpu?.vramMB ?? 0), 0);
    expect(g.usedMB + held + vramMargin).toBeLessThanOrEqual(g.totalMB);
  }
}

describe('properties', () => {
  it('one cycle never oversubscribes CPU, RAM or any GPU', () => {
    fc.assert(
      fc.property(nodeArb, fc.array(requestArb, { maxLength: 30 }), fc.integer({ min: 0, max: 1024 }), fc.integer({ min: 0, max: 2048 }), (n, reqs, vramMargin, memMargin) => {
        const candidates = reqs.map((request, i) => ({ id: i + 1, agent: 'a', request, notBefore: null }));
        const r = runCycle({ now: 0, paused: false, maxConcurrency: 1000, agentLimit: () => null, candidates, node: n, running: [], vramMarginMB: vramMargin, memoryMarginMB: memMargin });
        const placed = r.starts.map((s) => ({ taskId: s.taskId, agent: 'a', request: reqs[s.taskId - 1]!, gpus: s.gpus, pgid: null }));
        for (const p of placed) if (p.request.gpu) expect(p.gpus).toHaveLength(p.request.gpu.count);
        assertNotOversubscribed(n, [], placed, vramMargin, memMargin);
        expect(r.starts.length + r.waiting.size).toBe(reqs.length);
      }),
      { numRuns: 400 },
    );
  });

  type Op =
    | { kind: 'submit'; request: ResourceRequest; flaky: boolean }
    | { kind: 'exit'; pick: number; code: number }
    | { kind: 'cancel'; pick: number }
    | { kind: 'foreign'; usedMB: number }
    | { kind: 'tick'; ms: number };

  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('submit' as const), request: requestArb.map((r) => (r.gpu ? { ...r, gpu: { count: 1, vramMB: r.gpu.vramMB } } : r)), flaky: fc.boolean() }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('exit' as const), pick: fc.nat(), code: fc.constantFrom(0, 0, 1) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('foreign' as const), usedMB: fc.integer({ min: 0, max: 4000 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 20_000 }) }) },
  );

  it('interleaved submits, exits, cancels and telemetry: admission never oversubscribes, and every task ends exactly once', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => {
        const runner = new FakeRunner();
        const agents = [agent({ name: 'a' }), agent({ name: 'flaky', retry: { maxAttempts: 3, backoffSec: 1 } })];
        const h = harness(agents, { maxConcurrency: 6, vramMarginMB: 256, memoryMarginMB: 0 }, { runner });
        h.telemetry.set(node({ cpuCores: 4, memoryTotalMB: 16_000, memoryAvailableMB: 16_000 }));
        // Check every admission against the machine as it is at that moment.
        const start = runner.start.bind(runner);
        runner.start = (spec: LaunchSpec, listener: RunListener): RunHandle => {
          const n = h.telemetry.current();
          const live = runner.live().map((r) => ({ taskId: r.spec.taskId, agent: r.spec.agent.name, request: h.store.getTask(r.spec.taskId)!.request, gpus: [...r.spec.gpus], pgid: r.pgid }));
          const me = { taskId: spec.taskId, agent: spec.agent.name, request: h.store.getTask(spec.taskId)!.request, gpus: [...spec.gpus], pgid: null };
          assertNotOversubscribed(n, live, [me], 256, 0);
          return start(spec, listener);
        };
        try {
          for (const op of ops) {
            if (op.kind === 'submit') {
              try {
                h.manager.submit([{ agent: op.flaky ? 'flaky' : 'a', resources: { cpu: op.request.cpu, memoryMB: op.request.memoryMB, gpu: op.request.gpu ?? null } }]);
              } catch {
                // refused as never fitting: fine
              }
            } else if (op.kind === 'exit') {
              const live = runner.live();
              if (live.length) live[op.pick % live.length]!.exit({ exitCode: op.code });
            } else if (op.kind === 'cancel') {
              const all = h.store.listTasks({ limit: 1000 }).filter((t) => !TERMINAL_STATES.includes(t.state));
              if (all.length) h.manager.cancel(all[op.pick % all.length]!.id);
            } else if (op.kind === 'foreign') {
              h.telemetry.set(node({ cpuCores: 4, memoryTotalMB: 16_000, memoryAvailableMB: 16_000, gpus: [rtx4060({ usedMB: op.usedMB, processes: [{ pid: 3, name: 'game', usedMB: op.usedMB, pgid: 3 }] })] }));
            } else h.clock.advance(op.ms);
            h.clock.flush();
          }
          // Drain: clear foreign use, let everything run and finish.
          h.telemetry.set(node({ cpuCores: 4, memoryTotalMB: 16_000, memoryAvailableMB: 16_000 }));
          for (let i = 0; i < 500 && h.store.listTasks({ limit: 1000 }).some((t) => !TERMINAL_STATES.includes(t.state)); i++) {
            for (const r of runner.live()) r.exit({ exitCode: 0 });
            h.clock.advance(60_000);
          }
          const tasks = h.store.listTasks({ limit: 1000 });
          for (const t of tasks) {
            expect(TERMINAL_STATES).toContain(t.state);
            const attempts = h.store.attempts(t.id);
            expect(attempts.map((a) => a.number)).toEqual(attempts.map((_, i) => i + 1));
            expect(attempts.every((a) => a.outcome !== 'running' && a.endedAt !== null)).toBe(true);
            const ends = h.db.sqlite.prepare("SELECT attempt, count(*) AS n FROM task_events WHERE task_id = ? AND type = 'attempt-ended' GROUP BY attempt").all(t.id) as { attempt: number; n: number }[];
            expect(ends.every((e) => e.n === 1)).toBe(true);
            expect(ends.length).toBe(attempts.length);
          }
        } finally {
          h.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
