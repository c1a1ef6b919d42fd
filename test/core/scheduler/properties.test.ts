import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TERMINAL_STATES } from '../../../contracts/task.js';
import type { ResourceRequest } from '../../../contracts/resources.js';
import type { NodeSnapshot, RunningUsage } from '../../../src-main/core/model/node.js';
import { explain, runCycle } from '../../../src-main/core/scheduler/cycle.js';
import { describeStatus } from '../../../src-main/core/scheduler/describe.js';
import { QueueIndex } from '../../../src-main/core/scheduler/queue.js';
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
    rtx4060({
      index,
      uuid: `GPU-${index}`,
      usedMB: used,
      freeMB: 8188 - used,
      processes: perProcess ? [{ pid: 1, name: 'other', usedMB: used, pgid: 1 }] : null,
    }),
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
      fc.property(
        nodeArb,
        fc.array(requestArb, { maxLength: 30 }),
        fc.integer({ min: 0, max: 1024 }),
        fc.integer({ min: 0, max: 2048 }),
        fc.constantFrom(null, 0, 10),
        (n, reqs, vramMargin, memMargin, reserveAfterMs) => {
          // With reserveAfterMs 0 the first task held back by resources has what is free kept for
          // it; with 10 only those that have waited (even ids) can.
          const candidates = reqs.map((request, i) => ({
            id: i + 1,
            agent: 'a',
            request,
            notBefore: null,
            priority: i % 3,
            since: i % 2 === 0 ? 0 : -10,
            seq: i + 1,
            array: null,
            throttle: null,
            project: 'default',
          }));
          const queue = new QueueIndex();
          queue.addAll(candidates);
          const r = runCycle({
            now: 0,
            paused: false,
            maxConcurrency: 1000,
            reserveAfterMs,
            agentLimit: () => null,
            queue,
            node: n,
            running: [],
            vramMarginMB: vramMargin,
            memoryMarginMB: memMargin,
          });
          const placed = r.starts.map((s) => ({ taskId: s.taskId, agent: 'a', request: reqs[s.taskId - 1]!, gpus: s.gpus, pgid: null }));
          for (const p of placed) if (p.request.gpu) expect(p.gpus).toHaveLength(p.request.gpu.count);
          assertNotOversubscribed(n, [], placed, vramMargin, memMargin);
          // Every task either starts or can say why it waits.
          const started = new Set(r.starts.map((x) => x.taskId));
          for (const c of candidates) if (!started.has(c.id)) expect(describeStatus(explain(r, c, 0))).toEqual(expect.any(String));
        },
      ),
      { numRuns: 400 },
    );
  });

  type Op =
    | { kind: 'submit'; request: ResourceRequest; flaky: boolean }
    | { kind: 'exit'; pick: number; code: number }
    | { kind: 'cancel'; pick: number }
    | { kind: 'foreign'; usedMB: number; listed: boolean }
    | { kind: 'use'; pick: number; mb: number }
    | { kind: 'tick'; ms: number };

  const opArb: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('submit' as const),
        request: requestArb.map((r) => (r.gpu ? { ...r, gpu: { count: 1, vramMB: r.gpu.vramMB } } : r)),
        flaky: fc.boolean(),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('exit' as const), pick: fc.nat(), code: fc.constantFrom(0, 0, 1) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('foreign' as const), usedMB: fc.integer({ min: 0, max: 4000 }), listed: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('use' as const), pick: fc.nat(), mb: fc.integer({ min: 0, max: 5000 }) }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.oneof(fc.constantFrom(500, 1000, 2000, 3000), fc.integer({ min: 0, max: 20_000 })) }),
    },
  );

  it('interleaved submits, exits, cancels and telemetry (foreign growth, our own use above or below what we reserved, the two nvidia-smi readings up to 2 s apart): admission never oversubscribes, and every task ends exactly once', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(opArb, fc.constantFrom(0, 1000, 2000), fc.constantFrom(0, 1000, 2000)), { minLength: 1, maxLength: 60 }),
        fc.constantFrom(0, 3000),
        fc.constantFrom(null, 0, 10_000),
        (steps, readingWindowMs, reserveAfterMs) => {
          const runner = new FakeRunner();
          const agents = [agent({ name: 'a' }), agent({ name: 'flaky', retry: { maxAttempts: 3, backoffSec: 1 } })];
          const h = harness(agents, { maxConcurrency: 6, vramMarginMB: 256, memoryMarginMB: 0, readingWindowMs, reserveAfterMs }, { runner });
          const host = { cpuCores: 4, memoryTotalMB: 16_000, memoryAvailableMB: 16_000 };
          // The truth, as it changes: what the game holds and what each of our process groups holds.
          type State = { at: number; foreignMB: number; listed: boolean; use: Map<number, number> };
          const history: State[] = [{ at: h.clock.now(), foreignMB: 0, listed: false, use: new Map() }];
          const truth = () => history.at(-1)!;
          const stateAt = (t: number) => [...history].reverse().find((x) => x.at <= t) ?? history[0]!;
          const change = (f: (s: State) => void) => {
            const next = { ...truth(), at: h.clock.now(), use: new Map(truth().use) };
            f(next);
            for (const pgid of next.use.keys()) if (!runner.live().some((r) => r.pgid === pgid)) next.use.delete(pgid);
            history.push(next);
          };
          // The GPU-wide reading is the truth `gpuLag` ms ago, the per-process one `appsLag` ms ago
          // (without a window to reconcile them over, both are of the same moment).
          let seenAt = h.clock.now();
          const publish = (gpuLag: number, appsLag: number) => {
            change(() => {});
            const now = h.clock.now();
            const [lagA, lagB] = readingWindowMs > 0 ? [gpuLag, appsLag] : [0, 0];
            const wide = stateAt(now - lagA);
            const apps = stateAt(now - lagB);
            seenAt = now - lagA;
            const ours = [...wide.use.values()].reduce((x, y) => x + y, 0);
            // Desktop graphics are not listed per process (only compute apps are); a game may be.
            const procs = [
              ...(apps.listed ? [{ pid: 3, name: 'game', usedMB: apps.foreignMB, pgid: 3 }] : []),
              ...[...apps.use].map(([pgid, mb]) => ({ pid: pgid, name: 'agent', usedMB: mb, pgid })),
            ];
            h.telemetry.set(node({ ...host, gpus: [rtx4060({ usedMB: Math.min(8188, wide.foreignMB + ours), processes: procs })] }));
          };
          publish(0, 0);
          // Check every admission independently against the truth at the moment the GPU-wide
          // reading shows: what other programs held then, and each of our running tasks at the
          // larger of its reservation and what it held then.
          const start = runner.start.bind(runner);
          const violations: string[] = [];
          runner.start = (spec: LaunchSpec, listener: RunListener): RunHandle => {
            const g = h.telemetry.current().gpus[0]!;
            const then = stateAt(seenAt);
            const live = runner.live();
            const reserved = (taskId: number) => h.store.getTask(taskId)!.request.gpu?.vramMB ?? 0;
            const held = live.reduce((a, r) => a + Math.max(r.spec.gpus.includes(0) ? reserved(r.spec.taskId) : 0, then.use.get(r.pgid) ?? 0), 0);
            const me = h.store.getTask(spec.taskId)!.request;
            // Recorded, not thrown: the Manager would take a throw here for a failed spawn.
            if (me.gpu && then.foreignMB + held + me.gpu.vramMB + 256 > g.totalMB)
              violations.push(`task ${spec.taskId}: ${then.foreignMB} foreign + ${held} ours + ${me.gpu.vramMB} > ${g.totalMB - 256}`);
            const cpu = live.reduce((a, r) => a + h.store.getTask(r.spec.taskId)!.request.cpu, 0);
            if (cpu + me.cpu > host.cpuCores + 1e-9) violations.push(`task ${spec.taskId}: ${cpu + me.cpu} cores`);
            return start(spec, listener);
          };
          try {
            for (const [op, gpuLag, appsLag] of steps) {
              if (op.kind === 'submit') {
                try {
                  h.manager.submit([
                    { agent: op.flaky ? 'flaky' : 'a', resources: { cpu: op.request.cpu, memoryMB: op.request.memoryMB, gpu: op.request.gpu ?? null } },
                  ]);
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
                change((s) => {
                  s.foreignMB = op.usedMB;
                  s.listed = op.listed;
                });
              } else if (op.kind === 'use') {
                const live = runner.live();
                if (live.length) change((s) => s.use.set(live[op.pick % live.length]!.pgid, op.mb));
              } else h.clock.advance(op.ms);
              publish(gpuLag, appsLag);
              h.clock.flush();
            }
            // Drain: clear every use, let everything run and finish.
            change((s) => {
              s.foreignMB = 0;
              s.use.clear();
            });
            h.clock.advance(10_000);
            publish(0, 0);
            for (let i = 0; i < 500 && h.store.listTasks({ limit: 1000 }).some((t) => !TERMINAL_STATES.includes(t.state)); i++) {
              for (const r of runner.live()) r.exit({ exitCode: 0 });
              h.clock.advance(60_000);
              publish(0, 0); // telemetry goes on, so the readings from before the drain leave the window
            }
            expect(violations).toEqual([]);
            const tasks = h.store.listTasks({ limit: 1000 });
            for (const t of tasks) {
              expect(TERMINAL_STATES).toContain(t.state);
              const attempts = h.store.attempts(t.id);
              expect(attempts.map((a) => a.number)).toEqual(attempts.map((_, i) => i + 1));
              expect(attempts.every((a) => a.outcome !== 'running' && a.endedAt !== null)).toBe(true);
              const counts = new Map<number | null, number>();
              for (const e of h.store.events(t.id)) if (e.type === 'attempt-ended') counts.set(e.attempt, (counts.get(e.attempt) ?? 0) + 1);
              const ends = [...counts].map(([attempt, n]) => ({ attempt, n }));
              expect(ends.every((e) => e.n === 1)).toBe(true);
              expect(ends.length).toBe(attempts.length);
            }
          } finally {
            h.close();
          }
        },
      ),
      {
        numRuns: 150,
        // A model load the per-process reading shows 2 s before the GPU-wide one, with the desktop
        // (never listed per process) at 1500 MB: a 4800 MB task must wait.
        examples: [
          [
            [
              [{ kind: 'foreign', usedMB: 1500, listed: false }, 0, 0],
              [{ kind: 'tick', ms: 5000 }, 0, 0],
              [{ kind: 'submit', request: { cpu: 0, memoryMB: 0, gpu: { count: 1, vramMB: 3000 } }, flaky: false }, 0, 0],
              [{ kind: 'tick', ms: 5000 }, 0, 0],
              [{ kind: 'use', pick: 0, mb: 2500 }, 2000, 0],
              [{ kind: 'submit', request: { cpu: 0, memoryMB: 0, gpu: { count: 1, vramMB: 4800 } }, flaky: false }, 2000, 0],
            ],
            3000,
            null,
          ],
        ],
      },
    );
  });
});

describe('properties: projects', () => {
  const projectOp = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('submit' as const),
        project: fc.constantFrom('a', 'b', 'c'),
        vramMB: fc.constantFrom(0, 1000, 2500, 4000),
        priority: fc.constantFrom(0, 0, 5),
      }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('exit' as const), pick: fc.nat() }) },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('quota' as const),
        project: fc.constantFrom('a', 'b', 'c'),
        maxRunning: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
        maxVramMB: fc.option(fc.constantFrom(0, 2500, 5000), { nil: null }),
        weight: fc.constantFrom(0.5, 1, 3),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 600_000 }) }) },
  );

  it('quotas are never exceeded by a start (a lowered one stops nothing, holds new starts), and every task ends exactly once', () => {
    fc.assert(
      fc.property(fc.array(projectOp, { minLength: 1, maxLength: 50 }), (ops) => {
        const runner = new FakeRunner();
        const h = harness([agent({ name: 'a', resources: { cpu: 0.5, memoryMB: 10 } })], { maxConcurrency: 8 }, { runner });
        h.telemetry.set(node({ cpuCores: 16, gpus: [rtx4060(), rtx4060({ index: 1, uuid: 'GPU-1' })] }));
        const violations: string[] = [];
        const start = runner.start.bind(runner);
        runner.start = (spec: LaunchSpec, listener: RunListener): RunHandle => {
          const me = h.store.getTask(spec.taskId)!;
          const p = h.manager.projects.get(me.project);
          const mine = runner.live().filter((r) => h.store.getTask(r.spec.taskId)!.project === me.project);
          if (p.maxRunning !== null && mine.length + 1 > p.maxRunning) violations.push(`${me.project}: ${mine.length + 1} running, quota ${p.maxRunning}`);
          const vram = mine.reduce((a, r) => a + (h.store.getTask(r.spec.taskId)!.request.gpu?.vramMB ?? 0), 0) + (me.request.gpu?.vramMB ?? 0);
          if (p.maxVramMB !== null && me.request.gpu && vram > p.maxVramMB) violations.push(`${me.project}: ${vram} MB VRAM, quota ${p.maxVramMB}`);
          return start(spec, listener);
        };
        try {
          for (const op of ops) {
            if (op.kind === 'submit') {
              h.manager.submit([{ agent: 'a', project: op.project, priority: op.priority, resources: { gpu: op.vramMB > 0 ? { vramMB: op.vramMB } : null } }]);
            } else if (op.kind === 'exit') {
              const live = runner.live();
              if (live.length) live[op.pick % live.length]!.exit({ exitCode: 0 });
            } else if (op.kind === 'quota') {
              h.manager.setProject(op.project, { maxRunning: op.maxRunning, maxVramMB: op.maxVramMB, weight: op.weight });
            } else h.clock.advance(op.ms);
            h.clock.flush();
          }
          expect(violations).toEqual([]);
          for (const p of ['a', 'b', 'c']) h.manager.setProject(p, { maxRunning: null, maxVramMB: null });
          for (let i = 0; i < 200 && h.store.listTasks({ limit: 1000 }).some((t) => !TERMINAL_STATES.includes(t.state)); i++) {
            for (const r of runner.live()) r.exit({ exitCode: 0 });
            h.clock.advance(1000);
            h.clock.flush();
          }
          for (const t of h.store.listTasks({ limit: 1000 })) {
            expect(t.state).toBe('succeeded');
            expect(h.store.events(t.id).filter((e) => e.type === 'attempt-ended')).toHaveLength(1);
          }
        } finally {
          h.close();
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('properties: preemption', () => {
  const op = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('submit' as const),
        vramMB: fc.constantFrom(1000, 2500, 4000, 6000),
        priority: fc.constantFrom(0, 0, 5, 10),
        preemptible: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('exit' as const), pick: fc.nat() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('stopped' as const), pick: fc.nat() }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.constantFrom(1000, 30_000, 61_000, 61_000, 300_000) }) },
  );

  it('a non-preemptible task is never preempted; VRAM is never oversubscribed with preemption in flight (a victim counts until it is gone); every task ends exactly once', () => {
    let preempted = 0;
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 60 }), (ops) => {
        const runner = new FakeRunner();
        runner.lingerOnCancel = true; // a victim checkpoints until the test ends it
        const h = harness(
          [agent({ name: 'a', preemptGraceSec: 5, resources: { cpu: 0.1, memoryMB: 10 } })],
          { maxConcurrency: 10, vramMarginMB: 256, preemptMinRunMs: 60_000 },
          { runner },
        );
        h.telemetry.set(node({ cpuCores: 16, gpus: [rtx4060()] }));
        const violations: string[] = [];
        const start = runner.start.bind(runner);
        runner.start = (spec: LaunchSpec, listener: RunListener): RunHandle => {
          // Every live run holds its reservation, a victim still stopping included.
          const held = runner.live().reduce((a, r) => a + (h.store.getTask(r.spec.taskId)!.request.gpu?.vramMB ?? 0), 0);
          const me = h.store.getTask(spec.taskId)!.request.gpu?.vramMB ?? 0;
          if (held + me + 256 > 8188) violations.push(`task ${spec.taskId}: ${held} held + ${me} > ${8188 - 256}`);
          return start(spec, listener);
        };
        try {
          for (const o of ops) {
            if (o.kind === 'submit') {
              h.manager.submit([{ agent: 'a', priority: o.priority, preemptible: o.preemptible, resources: { gpu: { vramMB: o.vramMB } } }]);
            } else if (o.kind === 'exit') {
              const live = runner.live().filter((r) => !r.cancelled);
              if (live.length) live[o.pick % live.length]!.exit({ exitCode: 0 });
            } else if (o.kind === 'stopped') {
              const stopping = runner.live().filter((r) => r.cancelled);
              if (stopping.length) stopping[o.pick % stopping.length]!.exit({ exitCode: null, signal: 'SIGTERM' });
            } else h.clock.advance(o.ms);
            h.clock.flush();
            for (const r of runner.runs) {
              if (r.cancelled && !h.store.getTask(r.spec.taskId)!.preemptible) violations.push(`task ${r.spec.taskId} was preempted but is not preemptible`);
              if (r.cancelled && r.stop === null) violations.push(`task ${r.spec.taskId} was stopped without a preemption's grace`);
            }
          }
          expect(violations).toEqual([]);
          for (let i = 0; i < 500 && h.store.listTasks({ limit: 1000 }).some((t) => !TERMINAL_STATES.includes(t.state)); i++) {
            for (const r of runner.live()) r.exit(r.cancelled ? { exitCode: null, signal: 'SIGTERM' } : { exitCode: 0 });
            h.clock.advance(10_000);
            h.clock.flush();
          }
          expect(violations).toEqual([]);
          for (const t of h.store.listTasks({ limit: 1000 })) {
            expect(t.state).toBe('succeeded');
            const attempts = h.store.attempts(t.id);
            expect(attempts.filter((a) => a.outcome === 'succeeded')).toHaveLength(1);
            expect(attempts.slice(0, -1).every((a) => a.outcome === 'preempted')).toBe(true);
            preempted += attempts.length - 1;
            expect(h.store.events(t.id).filter((e) => e.type === 'attempt-ended')).toHaveLength(attempts.length);
          }
        } finally {
          h.close();
        }
      }),
      {
        numRuns: 150,
        examples: [
          [
            [
              { kind: 'submit', vramMB: 6000, priority: 0, preemptible: true },
              { kind: 'tick', ms: 61_000 },
              { kind: 'submit', vramMB: 6000, priority: 10, preemptible: false },
              { kind: 'submit', vramMB: 1000, priority: 0, preemptible: false },
              { kind: 'tick', ms: 1000 },
              { kind: 'stopped', pick: 0 },
            ],
          ],
        ],
      },
    );
    // Not vacuous: the runs did preempt.
    expect(preempted).toBeGreaterThan(0);
  });
});
