import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { ManagerError } from '../../src-main/core/errors.js';
import { STARTS_PER_TURN } from '../../src-main/core/scheduler/loop.js';
import { ADMIT_PER_STEP } from '../../src-main/core/admission/admit.js';
import { agent, node, rtx4060 } from '../helpers/fakes.js';
import { harness, type Harness } from '../helpers/harness.js';

const agents = [
  agent({ name: 'cpu', resources: { cpu: 1, memoryMB: 100 } }),
  agent({ name: 'gpu', resources: { cpu: 1, memoryMB: 100, gpu: { count: 1, vramMB: 3000 } } }),
  agent({ name: 'flaky', retry: { maxAttempts: 3, backoffSec: 10 } }),
  agent({ name: 'solo', concurrency: 1 }),
];

let h: Harness;
afterEach(() => h?.close());
const why = (id: number) => h.manager.waitingReason(h.store.getTask(id)!);
const firstQueued = () => h.store.listTasks({ states: ['queued'], limit: 1 })[0]!;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof ManagerError ? e.code : 'not a ManagerError';
  }
  return undefined;
}

describe('Manager: submit', () => {
  it('acknowledges only what is committed: another connection sees it at once', () => {
    h = harness(agents, {}, { store: 'sqlite' });
    const [t] = h.manager.submit([{ agent: 'cpu', input: { x: 1 }, priority: 3 }]);
    const other = new Database(h.dbFile!, { readonly: true });
    const row = other.prepare('SELECT agent, priority, input FROM tasks WHERE id = ?').get(t!.id);
    other.close();
    expect(row).toEqual({ agent: 'cpu', priority: 3, input: '{"x":1}' });
  });

  it.each([
    ['unknown agent', { agent: 'nope' }, 'UNKNOWN_AGENT'],
    ['more VRAM than the GPU has', { agent: 'gpu', resources: { gpu: { vramMB: 9000 } } }, 'UNSATISFIABLE'],
    ['more RAM than the machine has', { agent: 'cpu', resources: { memoryMB: 64_000 } }, 'UNSATISFIABLE'],
  ])('refuses %s and stores nothing', (_n, sub, code) => {
    h = harness(agents);
    expect(codeOf(() => h.manager.submit([sub]))).toBe(code);
    expect(h.store.listTasks({ limit: 10 })).toEqual([]);
  });

  it('refuses input that fails the agent schema, naming what is wrong', () => {
    h = harness(agents);
    h.catalog.validateInput = (_a, input) => (typeof input.seconds === 'number' ? null : 'seconds must be number');
    expect(() => h.manager.submit([{ agent: 'cpu', input: { seconds: 'x' } }])).toThrow(/input for agent cpu is invalid: seconds must be number/);
  });

  it('a batch is all or nothing, and the error names the bad item', () => {
    h = harness(agents);
    let err: ManagerError | undefined;
    try {
      h.manager.submit([{ agent: 'cpu' }, { agent: 'cpu' }, { agent: 'nope' }]);
    } catch (e) {
      err = e as ManagerError;
    }
    expect(err?.index).toBe(2);
    expect(err?.message).toMatch(/task 3 of 3/);
    expect(h.store.listTasks({ limit: 10 })).toEqual([]);
  });

  it('a large batch is admitted a few hundred at a time, with turns between; all or nothing as before', async () => {
    h = harness(agents);
    let turns = 0;
    const nextTurn = async (): Promise<void> => {
      turns++;
      // Meanwhile, nothing of the batch is stored.
      expect(h.store.listTasks({ limit: 1 })).toEqual([]);
    };
    const bad = [...Array.from({ length: 600 }, () => ({ agent: 'cpu' })), { agent: 'nope' }];
    await expect(h.manager.submitInTurns(bad, nextTurn)).rejects.toMatchObject({ code: 'UNKNOWN_AGENT', index: 600 });
    expect(turns).toBe(Math.floor(600 / ADMIT_PER_STEP));
    expect(h.store.listTasks({ limit: 1 })).toEqual([]);
    turns = 0;
    const stored = await h.manager.submitInTurns(
      Array.from({ length: 600 }, (_, i) => ({ agent: 'cpu', name: `t${i}` })),
      nextTurn,
    );
    expect(turns).toBeGreaterThanOrEqual(Math.floor((2 * 600) / ADMIT_PER_STEP) - 1);
    expect(stored.map((t) => t.name)).toEqual(Array.from({ length: 600 }, (_, i) => `t${i}`));
    expect(h.store.listTasks({ states: ['queued'], limit: 1000 })).toHaveLength(600);
  });

  it('with no GPU visible, a GPU task is refused unless it may wait for one; then it waits while the others run', () => {
    h = harness(agents);
    h.telemetry.set(node({ gpus: [], gpuStatus: { state: 'absent', message: 'nvidia-smi not found' } }));
    expect(() => h.manager.submit([{ agent: 'gpu' }])).toThrow(/no GPU can be seen on this machine \(nvidia-smi not found\)/);
    const [g, c] = h.manager.submit([{ agent: 'gpu', waitForGpu: true }, { agent: 'cpu' }]);
    h.clock.flush();
    expect(h.store.getTask(c!.id)!.state).toBe('running');
    expect(h.store.getTask(g!.id)!.state).toBe('queued');
    expect(why(g!.id)).toMatch(/no GPU is visible: nvidia-smi not found/);
  });
});

describe('Manager: running tasks', () => {
  it('a cycle starts a few tasks a turn, and asks for another turn for the rest: a freed machine fills up without holding up the thread', () => {
    h = harness(agents, { maxConcurrency: 7 });
    h.manager.submit(Array.from({ length: 7 }, () => ({ agent: 'cpu' })));
    // One cycle: STARTS_PER_TURN of them, and the next cycle asked for.
    expect(h.clock.step()).toBe(true);
    expect(h.runner.live()).toHaveLength(STARTS_PER_TURN);
    expect(h.clock.pending()).toBeGreaterThan(0);
    h.clock.flush();
    expect(h.runner.live()).toHaveLength(7);
    expect(h.store.listTasks({ states: ['queued'], limit: 10 })).toHaveLength(0);
  });

  it('runs a task to success with progress, result and artifact', () => {
    h = harness(agents);
    const [t] = h.manager.submit([{ agent: 'cpu' }]);
    h.clock.flush();
    const run = h.runner.live()[0]!;
    expect(run.spec.taskId).toBe(t!.id);
    run.listener({ type: 'progress', progress: 0.5, message: 'half' });
    run.listener({ type: 'progress', progress: 0.6, message: 'more' });
    expect(h.store.getTask(t!.id)!.progress).toBeNull(); // throttled
    h.clock.advance(100);
    expect(h.store.getTask(t!.id)!.progressMessage).toBe('more');
    run.listener({ type: 'result', data: { answer: 42 } });
    run.listener({ type: 'artifact', path: '/tmp/a.txt', name: 'a.txt', sizeBytes: 3 });
    run.exit({ exitCode: 0 });
    const done = h.store.getTask(t!.id)!;
    expect(done.state).toBe('succeeded');
    expect(done.progress).toBe(1);
    expect(done.result).toEqual({ answer: 42 });
    expect(h.store.artifacts(t!.id)).toMatchObject([{ name: 'a.txt', sizeBytes: 3 }]);
    expect(h.store.attempts(t!.id)).toMatchObject([{ number: 1, outcome: 'succeeded', exitCode: 0 }]);
  });

  it('retries with exponential backoff up to the attempt limit, keeping every attempt', () => {
    h = harness(agents);
    const [t] = h.manager.submit([{ agent: 'flaky' }]);
    h.clock.flush();
    h.runner.live()[0]!.exit({ exitCode: 1 });
    let task = h.store.getTask(t!.id)!;
    expect(task.state).toBe('queued');
    expect(task.notBefore! - h.clock.now()).toBe(7500); // 10 s base: 5 s fixed + 0.5 × 5 s jitter
    h.clock.advance(7499);
    expect(h.runner.live()).toHaveLength(0);
    expect(why(t!.id)).toMatch(/waiting to retry/);
    h.clock.advance(1);
    h.runner.live()[0]!.exit({ exitCode: null, signal: 'SIGSEGV' });
    task = h.store.getTask(t!.id)!;
    expect(task.notBefore! - h.clock.now()).toBe(15000); // doubled
    h.clock.advance(15000);
    h.runner.live()[0]!.exit({ exitCode: 2 });
    task = h.store.getTask(t!.id)!;
    expect(task.state).toBe('failed');
    expect(task.error).toBe('attempt 3: exit code 2');
    expect(h.store.attempts(t!.id).map((a) => [a.number, a.outcome, a.reason])).toEqual([
      [1, 'failed', 'exit code 1'],
      [2, 'failed', 'killed by signal SIGSEGV'],
      [3, 'failed', 'exit code 2'],
    ]);
  });

  it('does not retry an agent that cannot start', () => {
    h = harness(agents);
    const [t] = h.manager.submit([{ agent: 'flaky' }]);
    h.clock.flush();
    h.runner.live()[0]!.exit({ exitCode: null, startError: 'agent command not found: ./x' });
    expect(h.store.getTask(t!.id)).toMatchObject({ state: 'failed', error: 'attempt 1: agent command not found: ./x' });
  });

  it('cancels queued and running tasks; an ended one cannot be cancelled', () => {
    h = harness(agents, { maxConcurrency: 1 });
    const [a, b] = h.manager.submit([{ agent: 'cpu' }, { agent: 'cpu' }]);
    h.clock.flush();
    expect(h.manager.cancel(b!.id).state).toBe('cancelled');
    h.manager.cancel(a!.id);
    expect(h.runner.runs[0]!.cancelled).toBe(true);
    expect(h.store.getTask(a!.id)!.state).toBe('cancelled');
    expect(codeOf(() => h.manager.cancel(a!.id))).toBe('INVALID_STATE');
    expect(codeOf(() => h.manager.cancel(999))).toBe('NOT_FOUND');
  });

  it('a cancelled run is not retried even with attempts left', () => {
    h = harness(agents);
    const [t] = h.manager.submit([{ agent: 'flaky' }]);
    h.clock.flush();
    h.manager.cancel(t!.id);
    expect(h.store.getTask(t!.id)!.state).toBe('cancelled');
    h.clock.advance(60_000);
    expect(h.runner.runs).toHaveLength(1);
  });

  it('retry runs an ended task again with one more attempt', () => {
    h = harness(agents);
    const [t] = h.manager.submit([{ agent: 'cpu' }]);
    h.clock.flush();
    h.runner.live()[0]!.exit({ exitCode: 9 });
    expect(h.store.getTask(t!.id)!.state).toBe('failed');
    expect(h.manager.retry(t!.id).state).toBe('queued');
    h.clock.flush();
    h.runner.live()[0]!.exit({ exitCode: 0 });
    expect(h.store.getTask(t!.id)).toMatchObject({ state: 'succeeded', attempts: 2, maxAttempts: 2, error: null });
    expect(codeOf(() => h.manager.retry(t!.id + 100))).toBe('NOT_FOUND');
  });

  it('priority: higher first; changeable only while queued', () => {
    h = harness(agents, { maxConcurrency: 1 });
    const [a, b, c, d] = h.manager.submit([{ agent: 'cpu', priority: 2 }, { agent: 'cpu' }, { agent: 'cpu' }, { agent: 'cpu', priority: -1 }]);
    h.clock.flush();
    expect(h.runner.runs[0]!.spec.taskId).toBe(a!.id);
    h.manager.setPriority(c!.id, 5);
    expect(codeOf(() => h.manager.setPriority(a!.id, 9))).toBe('INVALID_STATE');
    for (let i = 0; i < 3; i++) {
      h.runner.live()[0]!.exit();
      h.clock.flush();
    }
    expect(h.runner.runs.map((r) => r.spec.taskId)).toEqual([a!.id, c!.id, b!.id, d!.id]);
  });

  it('per-agent concurrency', () => {
    h = harness(agents);
    h.manager.submit([{ agent: 'solo' }, { agent: 'solo' }]);
    h.clock.flush();
    expect(h.runner.live()).toHaveLength(1);
  });

  it('pause stops new starts and survives a restart; resume starts again', () => {
    h = harness(agents);
    h.manager.setPaused(true);
    h.manager.submit([{ agent: 'cpu' }]);
    h.clock.flush();
    expect(h.runner.live()).toHaveLength(0);
    h = h.restart();
    expect(h.manager.isPaused()).toBe(true);
    h.manager.setPaused(false);
    h.clock.flush();
    expect(h.runner.live()).toHaveLength(1);
  });

  it('a foreign program taking VRAM makes it start fewer GPU tasks', () => {
    h = harness(agents);
    h.manager.submit([{ agent: 'gpu' }, { agent: 'gpu' }]);
    h.telemetry.snapshot = node({ gpus: [rtx4060({ usedMB: 3000, processes: [{ pid: 5, name: 'game', usedMB: 3000, pgid: 5 }] })] });
    h.clock.flush();
    expect(h.runner.live()).toHaveLength(1);
    const waiting = firstQueued();
    expect(why(waiting.id)).toMatch(/needs 3000 MB VRAM on GPU 0, 2188 MB free of 8188 MB: 3000 MB held by other programs \(game 3000 MB\)/);
    h.telemetry.set(node({ gpus: [rtx4060({ usedMB: 0, processes: [] })] }));
    h.clock.flush();
    expect(h.runner.live()).toHaveLength(2);
  });
});

describe('Manager: a big task is not starved by a stream of small ones', () => {
  const mixed = [
    agent({ name: 'small', resources: { cpu: 1, memoryMB: 100, gpu: { count: 1, vramMB: 2000 } } }),
    agent({ name: 'big', resources: { cpu: 1, memoryMB: 100, gpu: { count: 1, vramMB: 6000 } } }),
  ];

  /** Keeps three small tasks running, one ending every 10 s, for `seconds`; returns whether big started. */
  function stream(seconds: number, bigId: number): boolean {
    for (let s = 0; s < seconds; s += 10) {
      h.manager.submit([{ agent: 'small' }]);
      h.clock.flush();
      if (h.store.getTask(bigId)!.state === 'running') return true;
      const live = h.runner.live().filter((r) => h.store.getTask(r.spec.taskId)!.agent === 'small');
      live[0]?.exit({ exitCode: 0 });
      h.clock.advance(10_000);
    }
    return h.store.getTask(bigId)!.state === 'running';
  }

  function setUp(reserveAfterMs: number | null): number {
    h = harness(mixed, { reserveAfterMs });
    h.manager.submit([{ agent: 'small' }, { agent: 'small' }, { agent: 'small' }]);
    h.clock.flush();
    expect(h.runner.live()).toHaveLength(3); // 6000 MB of 8188 held
    const [big] = h.manager.submit([{ agent: 'big' }]);
    h.clock.flush();
    return big!.id;
  }

  it('without a reservation it waits as long as small ones keep coming (backfill)', () => {
    const big = setUp(null);
    expect(stream(600, big)).toBe(false);
    expect(why(big)).toMatch(/needs 6000 MB VRAM/);
  });

  it('after waiting reserveAfterMs, what finishing tasks free is kept for it, and it starts', () => {
    const big = setUp(60_000);
    const submittedAt = h.clock.now();
    expect(stream(600, big)).toBe(true);
    // Kept from 60 s on; then each small one that ends leaves its 2000 MB to it.
    expect(h.clock.now() - submittedAt).toBeLessThanOrEqual(60_000 + 3 * 10_000);
    expect(h.clock.now() - submittedAt).toBeGreaterThanOrEqual(60_000);
    // The small ones queued meanwhile say why they wait.
    const waiting = h.store.listTasks({ states: ['queued'], limit: 100 }).filter((t) => t.agent === 'small');
    expect(waiting.length).toBeGreaterThan(0);
  });

  it('says what it waits for while resources are kept for it, and the small ones say for whom', () => {
    const big = setUp(60_000);
    h.clock.advance(61_000);
    h.clock.flush();
    const [small] = h.manager.submit([{ agent: 'small' }]);
    h.runner.live()[0]!.exit({ exitCode: 0 });
    h.clock.flush();
    expect(h.store.getTask(small!.id)!.state).toBe('queued');
    expect(why(big)).toMatch(new RegExp(`task ${big} has waited longer than 60 s, so what our tasks free is kept for it until it fits`));
    expect(why(small!.id)).toMatch(new RegExp(`kept for task ${big}`));
  });

  it('how long it has waited survives a restart', () => {
    const big = setUp(60_000);
    h.clock.advance(50_000);
    h.manager.setPriority(big, 1);
    for (const r of h.runner.live()) h.runner.alive.add(r.pgid); // the small ones run on
    h = h.restart();
    expect(h.runner.live()).toHaveLength(3);
    expect(why(big)).not.toMatch(/kept for it/);
    h.clock.advance(11_000);
    h.clock.flush();
    expect(why(big)).toMatch(/kept for it/);
  });

  it('a priority change keeps how long it has waited', () => {
    const big = setUp(60_000);
    h.clock.advance(50_000);
    h.manager.setPriority(big, 1);
    h.clock.advance(11_000);
    h.clock.flush();
    expect(why(big)).toMatch(/kept for it/);
  });
});

describe('Manager: restart', () => {
  it('re-adopts a live run instead of starting it again', () => {
    h = harness(agents);
    const [t] = h.manager.submit([{ agent: 'cpu' }]);
    h.clock.flush();
    const first = h.runner.live()[0]!;
    h.runner.alive.add(first.pgid);
    h = h.restart();
    expect(first.detached).toBe(true);
    const adopted = h.runner.live();
    expect(adopted).toHaveLength(1);
    expect(adopted[0]!.spec.taskId).toBe(t!.id);
    adopted[0]!.exit({ exitCode: 0 });
    expect(h.store.getTask(t!.id)).toMatchObject({ state: 'succeeded', attempts: 1 });
  });

  it.each([
    ['with attempts left it is queued again', 'flaky', 'queued'],
    ['without, it ends interrupted', 'cpu', 'interrupted'],
  ])('a run that ended unseen: %s', (_n, agentName, state) => {
    h = harness(agents);
    const [t] = h.manager.submit([{ agent: agentName }]);
    h.clock.flush();
    h = h.restart();
    const task = h.store.getTask(t!.id)!;
    expect(task.state).toBe(state);
    expect(h.manager.queueLength()).toBe(state === 'queued' ? 1 : 0); // queued once, not twice
    expect(h.store.attempts(t!.id)[0]).toMatchObject({ outcome: 'interrupted', reason: expect.stringMatching(/Manager was not running/) });
  });
});

describe('Manager: events', () => {
  it('announces a waiting task when the reason it waits changes', () => {
    h = harness(agents);
    h.telemetry.snapshot = node({ gpus: [rtx4060({ usedMB: 6000, processes: [{ pid: 5, name: 'game', usedMB: 6000, pgid: 5 }] })] });
    const [t] = h.manager.submit([{ agent: 'gpu' }]);
    h.clock.flush();
    const seen = () => h.sink.events.filter((e) => e.type === 'task' && e.task.id === t!.id).length;
    const n = seen();
    h.telemetry.set(node({ gpus: [rtx4060({ usedMB: 5500, processes: [{ pid: 5, name: 'game', usedMB: 5500, pgid: 5 }] })] }));
    h.clock.flush();
    expect(seen()).toBe(n + 1);
    expect(why(t!.id)).toMatch(/2688 MB free/);
    h.telemetry.set(h.telemetry.snapshot); // same reading: nothing new to say
    h.clock.flush();
    expect(seen()).toBe(n + 1);
  });
});

describe('Manager: measured use, learned profiles, out of memory', () => {
  const learner = agent({ name: 'learner', resources: { cpu: 2, memoryMB: 4000, gpu: { count: 1, vramMB: 6000 } }, retry: { maxAttempts: 3, backoffSec: 1 } });

  /** Telemetry in which the given run's process group uses this much. */
  function uses(hh: Harness, pgid: number, use: { vramMB: number; rssMB: number; cpu: number }): void {
    hh.telemetry.set(
      node({
        gpus: [rtx4060({ usedMB: use.vramMB, processes: [{ pid: pgid, name: 'python', usedMB: use.vramMB, pgid }] })],
        groups: new Map([[pgid, { rssMB: use.rssMB, cpuCores: use.cpu }]]),
      }),
    );
  }

  it("records each attempt's peaks, and sizes later tasks from the 95th percentile of them", () => {
    h = harness([learner]);
    for (const peak of [1000, 1200, 1100]) {
      h.manager.submit([{ agent: 'learner' }]);
      h.clock.flush();
      const run = h.runner.live()[0]!;
      expect(h.telemetry.watched).toEqual([run.pgid]);
      uses(h, run.pgid, { vramMB: peak, rssMB: peak / 2, cpu: 0.9 });
      uses(h, run.pgid, { vramMB: peak / 2, rssMB: peak / 4, cpu: 0.2 });
      run.exit();
      h.clock.flush();
      expect(h.telemetry.watched).toEqual([]);
    }
    const attempts = h.store.listTasks({ limit: 5 }).flatMap((t) => h.store.attempts(t.id));
    expect(attempts.map((a) => a.peakVramMB).sort()).toEqual([1000, 1100, 1200]);
    expect(attempts.every((a) => a.peakMemoryMB! > 0 && a.peakCpu === 0.9)).toBe(true);
    const profile = h.manager.profile('learner')!;
    expect(profile).toMatchObject({ samples: 3, p95: { vramMB: 1200, memoryMB: 600, cpu: 0.9 } });
    expect(profile.request).toEqual({ cpu: 1, memoryMB: Math.ceil(600 * 1.15 + 32), gpu: { count: 1, vramMB: Math.ceil(1200 * 1.15 + 128) } });
    const [t] = h.manager.submit([{ agent: 'learner' }]);
    expect(t!.request).toEqual(profile.request);
    // A task that sets its own request keeps it.
    const [own] = h.manager.submit([{ agent: 'learner', resources: { gpu: { vramMB: 5000 } } }]);
    expect(own!.request.gpu!.vramMB).toBe(5000);
  });

  it("a big model's learned VRAM has at most 512 MB of headroom: a 6.2 GB model still fits an 8 GB card beside the desktop", () => {
    h = harness([learner]);
    for (let i = 0; i < 3; i++) {
      h.manager.submit([{ agent: 'learner' }]);
      h.clock.flush();
      const run = h.runner.live()[0]!;
      uses(h, run.pgid, { vramMB: 6200, rssMB: 500, cpu: 1 });
      run.exit();
      h.telemetry.set(node({ gpus: [rtx4060()] })); // its memory is free again
      h.clock.flush();
    }
    // 6200 + 15 % would be 7258 MB: more than an 8188 MB card has beside a 900 MB desktop.
    expect(h.manager.profile('learner')!.request.gpu!.vramMB).toBe(6200 + 512 + 128);
    h.telemetry.set(node({ gpus: [rtx4060({ usedMB: 900 })] }));
    const [t] = h.manager.submit([{ agent: 'learner' }]);
    h.clock.flush();
    expect(h.store.getTask(t!.id)!.state).toBe('running');
  });

  it('a CUDA out-of-memory is marked so, and the retry asks for what was really needed', () => {
    h = harness([learner]);
    const [t] = h.manager.submit([{ agent: 'learner', resources: { gpu: { vramMB: 3000 } } }]);
    h.clock.flush();
    const run = h.runner.live()[0]!;
    uses(h, run.pgid, { vramMB: 4000, rssMB: 100, cpu: 1 });
    run.exit({ exitCode: 1, oom: 'gpu', oomEvidence: 'torch.OutOfMemoryError: CUDA out of memory' });
    const after = h.store.getTask(t!.id)!;
    expect(h.store.attempts(t!.id)[0]!.reason).toBe('out of GPU memory (torch.OutOfMemoryError: CUDA out of memory; exit code 1)');
    expect(after.state).toBe('queued');
    expect(after.request.gpu!.vramMB).toBe(Math.ceil(4000 * 1.15 + 128));
    // It waits until that much is really free.
    h.telemetry.set(node({ gpus: [rtx4060({ usedMB: 4000, processes: [{ pid: 1, name: 'game', usedMB: 4000, pgid: 1 }] })] }));
    h.clock.advance(10_000);
    expect(h.runner.live()).toHaveLength(0);
    expect(why(t!.id)).toMatch(/needs 4728 MB VRAM on GPU 0, 4188 MB free/);
  });

  // nvidia-smi's GPU-wide and per-process readings come from two loops (see ledger/readings.ts).
  const desktop = (usedMB = 1500, processes: { pid: number; name: string; usedMB: number; pgid: number }[] = []) =>
    node({ gpus: [rtx4060({ usedMB, processes })] });

  it('two tasks that fit run together from the start: a task whose readings agree is not counted twice', () => {
    h = harness([learner], { readingWindowMs: 3000 });
    h.telemetry.set(desktop()); // the desktop's graphics: in the GPU-wide reading only
    const [a] = h.manager.submit([{ agent: 'learner', resources: { gpu: { vramMB: 2500 } } }]);
    h.clock.flush();
    const ra = h.runner.live()[0]!;
    // Its model is loaded, and both readings show it.
    h.clock.advance(1000);
    h.telemetry.set(desktop(4000, [{ pid: ra.pgid, name: 'python', usedMB: 2500, pgid: ra.pgid }]));
    const [b] = h.manager.submit([{ agent: 'learner', resources: { gpu: { vramMB: 2500 } } }]);
    h.clock.flush();
    expect(h.store.getTask(a!.id)!.state).toBe('running');
    expect(h.store.getTask(b!.id)!.state).toBe('running');
    expect(h.manager.resources().gpus[0]).toMatchObject({ foreignMB: 1500, oursMB: 5000, freeMB: 8188 - 1500 - 5000 });
  });

  it('a per-process reading ahead of the GPU-wide one never hides what other programs hold', () => {
    h = harness([learner], { readingWindowMs: 3000 });
    h.telemetry.set(desktop());
    h.manager.submit([
      { agent: 'learner', resources: { gpu: { vramMB: 3000 } } },
      { agent: 'learner', resources: { gpu: { vramMB: 3000 } } },
    ]);
    h.clock.flush();
    expect(h.runner.live()).toHaveLength(2);
    const [a] = h.runner.live();
    // The model load already shows 2500 MB per process, but the GPU-wide sample predates it:
    // this snapshot alone would put the desktop at 0.
    h.clock.advance(1000);
    h.telemetry.set(desktop(1500, [{ pid: a!.pgid, name: 'python', usedMB: 2500, pgid: a!.pgid }]));
    h.manager.submit([{ agent: 'learner', resources: { gpu: { vramMB: 1500 } } }]);
    h.clock.flush();
    expect(h.runner.live()).toHaveLength(2); // 8188 - 1500 (desktop) - 3000 - 3000 < 1500
    expect(why(firstQueued().id)).toMatch(/688 MB free of 8188 MB: 1500 MB held by other programs/);
    // Long after, with the readings agreeing, the account is the same.
    for (let i = 0; i < 5; i++) {
      h.clock.advance(1000);
      h.telemetry.set(desktop(4000, [{ pid: a!.pgid, name: 'python', usedMB: 2500, pgid: a!.pgid }]));
    }
    h.clock.flush();
    expect(why(firstQueued().id)).toMatch(/688 MB free of 8188 MB: 1500 MB held by other programs/);
  });

  it('runs adopted before any reading are not subtracted until a whole window has been seen', () => {
    h = harness([learner], { readingWindowMs: 3000 });
    h.manager.submit([{ agent: 'learner', resources: { gpu: { vramMB: 2500 } } }]);
    h.clock.flush();
    const [a] = h.runner.live();
    // The first snapshot the ledger ever sees: it cannot tell yet whether the two readings agree.
    h.telemetry.set(desktop(4000, [{ pid: a!.pgid, name: 'python', usedMB: 2500, pgid: a!.pgid }]));
    expect(h.manager.resources().gpus[0]).toMatchObject({ foreignMB: 4000, oursMB: 2500 });
    h.clock.advance(3000);
    h.telemetry.set(desktop(4000, [{ pid: a!.pgid, name: 'python', usedMB: 2500, pgid: a!.pgid }]));
    h.clock.advance(3001);
    h.telemetry.set(desktop(4000, [{ pid: a!.pgid, name: 'python', usedMB: 2500, pgid: a!.pgid }]));
    expect(h.manager.resources().gpus[0]).toMatchObject({ foreignMB: 1500, oursMB: 2500 });
  });
});

describe('Manager: GPU limits', () => {
  const gpuAgent = agent({ name: 'render', resources: { cpu: 1, memoryMB: 100, gpu: { count: 1, vramMB: 2000 } } });
  const reading = (utilizationPct: number) => node({ gpus: [rtx4060({ utilizationPct })] });

  it('a new GPU task waits while the GPU is over its limit, saying so, and starts once it is back under (with hysteresis)', () => {
    h = harness([gpuAgent], { gpuLimits: { all: { maxUtilPct: 90 }, perGpu: {} } });
    for (let i = 0; i < 3; i++) {
      h.clock.advance(1000);
      h.telemetry.set(reading(97));
    }
    const [t] = h.manager.submit([{ agent: 'render' }]);
    h.clock.flush();
    expect(h.store.getTask(t!.id)!.state).toBe('queued');
    expect(why(t!.id)).toBe('waits for a GPU under its limits: GPU 0 at 97 % utilisation, limit 90 %');
    expect(h.manager.resources().gpus[0]!.limited).toBe('GPU 0 at 97 % utilisation, limit 90 %');
    // Cooling down. The 10 s average is (3 × 97 + 60) / 4 = 87.75 %: under the limit, but not
    // 5 points under it, so it still waits (no flapping at the limit).
    h.clock.advance(1000);
    h.telemetry.set(reading(60));
    h.clock.flush();
    expect(h.store.getTask(t!.id)!.state).toBe('queued');
    expect(why(t!.id)).toBe('waits for a GPU under its limits: GPU 0 at 88 % utilisation, limit 90 % (new tasks again at 85 % or less)');
    // (3 × 97 + 2 × 60) / 5 = 82.2 %: it starts.
    h.clock.advance(1000);
    h.telemetry.set(reading(60));
    h.clock.flush();
    expect(h.store.getTask(t!.id)!.state).toBe('running');
    expect(h.manager.resources().gpus[0]!.limited).toBeNull();
  });

  it('a limit changed while it runs applies at once; a CPU task is never held back by one', () => {
    h = harness([gpuAgent, agent({ name: 'cpu' })], { gpuLimits: { all: {}, perGpu: {} } });
    h.telemetry.set(reading(99));
    h.manager.updateConfig({ gpuLimits: { all: {}, perGpu: { 0: { maxUtilPct: 50 } } } });
    h.clock.advance(1000);
    h.telemetry.set(reading(99));
    const [g, c] = h.manager.submit([{ agent: 'render' }, { agent: 'cpu' }]);
    h.clock.flush();
    expect(h.store.getTask(g!.id)!.state).toBe('queued');
    expect(h.store.getTask(c!.id)!.state).toBe('running');
    h.manager.updateConfig({ gpuLimits: { all: {}, perGpu: {} } });
    h.clock.flush();
    expect(h.store.getTask(g!.id)!.state).toBe('running');
  });
});

describe('Manager: quitting with "stop them"', () => {
  it('cancelAll cancels every running task and resolves once each has been recorded', async () => {
    h = harness(agents);
    const [a, b] = h.manager.submit([{ agent: 'cpu' }, { agent: 'flaky' }]);
    h.clock.flush();
    expect(h.runner.live()).toHaveLength(2);
    await h.manager.cancelAll(10_000);
    expect(h.store.getTask(a!.id)!.state).toBe('cancelled');
    expect(h.store.getTask(b!.id)!.state).toBe('cancelled'); // not retried
  });
});

describe('Manager: GPUs it cannot use', () => {
  it('a VRAM task on a machine whose only GPU does not report its memory waits, saying why, rather than being refused', () => {
    h = harness(agents);
    h.telemetry.set(node({ gpus: [rtx4060({ name: 'NVIDIA GB10', memoryUnknown: true, totalMB: 0, usedMB: 0, freeMB: 0 })] }));
    const [t] = h.manager.submit([{ agent: 'gpu' }]);
    h.clock.flush();
    expect(h.store.getTask(t!.id)!.state).toBe('queued');
    expect(why(t!.id)).toMatch(/no GPU can be used: GPU 0 does not report its memory/);
    expect(h.manager.resources().gpus[0]).toMatchObject({ unusable: 'does not report its memory ([N/A])', freeMB: 0 });
  });
});

describe('Manager: begin (start after)', () => {
  it('a task given begin waits until then, saying until when, and starts then', () => {
    h = harness(agents);
    const [t] = h.manager.submit([{ agent: 'cpu', begin: '+2h' }]);
    h.clock.flush();
    const at = h.clock.now() + 2 * 3_600_000;
    expect(h.store.getTask(t!.id)).toMatchObject({ state: 'queued', notBefore: at });
    expect(why(t!.id)).toBe(`waits to start until ${new Date(at).toISOString()} (it was submitted to begin then)`);
    expect(h.manager.schedulingStatus(h.store.getTask(t!.id)!)).toMatchObject({ code: 'wait', step: 'begin', until: at });
    h.clock.advance(2 * 3_600_000 - 1000);
    expect(h.store.getTask(t!.id)!.state).toBe('queued');
    h.clock.advance(1000);
    expect(h.store.getTask(t!.id)!.state).toBe('running');
  });

  it('a bad begin is refused with what to give, naming the task of a batch, and nothing is stored', () => {
    h = harness(agents);
    expect(() => h.manager.submit([{ agent: 'cpu' }, { agent: 'cpu', begin: 'soon' }])).toThrow(/begin "soon" is not a time.* \(task 2 of 2\)/);
    expect(codeOf(() => h.manager.submit([{ agent: 'cpu', begin: '2020-01-01T00:00Z' }]))).toBe('INVALID_INPUT');
    expect(h.store.listTasks({ limit: 10 })).toEqual([]);
  });

  it('begin survives a restart', () => {
    h = harness(agents);
    const [t] = h.manager.submit([{ agent: 'cpu', begin: '+1h' }]);
    h = h.restart();
    expect(why(t!.id)).toMatch(/^waits to start until/);
    h.clock.advance(3_600_000);
    expect(h.store.getTask(t!.id)!.state).toBe('running');
  });
});

describe('Manager: hold and release', () => {
  it('a held task does not start and says why; released, it starts; both are events of its timeline', () => {
    h = harness(agents);
    const [t] = h.manager.submit([{ agent: 'cpu' }]);
    h.manager.setPaused(true);
    h.clock.flush();
    expect(h.manager.hold(t!.id)).toMatchObject({ state: 'queued', held: true });
    h.manager.setPaused(false);
    h.clock.flush();
    expect(h.store.getTask(t!.id)!.state).toBe('queued');
    expect(why(t!.id)).toBe('held: it starts once released (agentmgr release)');
    expect(h.manager.actions(h.store.getTask(t!.id)!)).toMatchObject({ hold: false, release: true });
    expect(h.manager.queueLength()).toBe(0);
    h.manager.release(t!.id);
    h.clock.flush();
    expect(h.store.getTask(t!.id)).toMatchObject({ state: 'running', held: false });
    expect(h.store.events(t!.id).map((e) => e.type)).toEqual(['held', 'released']);
  });

  it('submit --hold; held survives a restart; a priority change leaves it held; retry of a cancelled held task is not held', () => {
    h = harness(agents);
    const [t] = h.manager.submit([{ agent: 'cpu', hold: true }]);
    h.clock.flush();
    h = h.restart();
    expect(h.store.getTask(t!.id)).toMatchObject({ state: 'queued', held: true });
    h.manager.setPriority(t!.id, 5);
    h.clock.flush();
    expect(h.store.getTask(t!.id)).toMatchObject({ state: 'queued', held: true, priority: 5 });
    h.manager.cancel(t!.id);
    h.manager.retry(t!.id);
    h.clock.flush();
    expect(h.store.getTask(t!.id)).toMatchObject({ state: 'running', held: false });
  });

  it('hold and release on a task that is not queued (or not held) explain why, and change nothing', () => {
    h = harness(agents);
    const [t] = h.manager.submit([{ agent: 'cpu' }]);
    h.clock.flush();
    expect(() => h.manager.hold(t!.id)).toThrow(`task ${t!.id} is running; only a queued task can be held`);
    expect(codeOf(() => h.manager.hold(t!.id))).toBe('INVALID_STATE');
    h.manager.setPaused(true);
    const [q] = h.manager.submit([{ agent: 'cpu' }]);
    expect(() => h.manager.release(q!.id)).toThrow(`task ${q!.id} is not held; only a held task can be released`);
    expect(h.store.getTask(q!.id)!.held).toBe(false);
    expect(h.store.getTask(t!.id)!.state).toBe('running');
  });
});

describe('Manager: projects, quotas and fair share', () => {
  const cpu = agent({ name: 'job', resources: { cpu: 1, memoryMB: 100 } });

  it('maxQueued: a submit that would queue more than the quota is refused whole, saying so; nothing is stored', () => {
    h = harness([cpu], { maxConcurrency: 1 });
    h.manager.setProject('batch', { maxQueued: 3 });
    h.manager.submit([
      { agent: 'job', project: 'batch' },
      { agent: 'job', project: 'batch' },
    ]);
    h.clock.flush(); // one starts: 1 queued
    expect(() =>
      h.manager.submit([
        { agent: 'job', project: 'batch' },
        { agent: 'job', project: 'batch' },
        { agent: 'job', project: 'batch' },
      ]),
    ).toThrow(/project batch: 1 of 3 queued, and this adds 3; at most 3 of its tasks may wait at once .*maxQueued=N.*nothing was submitted/);
    expect(h.store.listTasks({ limit: 100 })).toHaveLength(2);
    // Other projects are not held to it.
    expect(h.manager.submit([{ agent: 'job' }, { agent: 'job' }, { agent: 'job' }])).toHaveLength(3);
  });

  it('a quota lowered below what runs stops nothing: it only holds new starts, and says why', () => {
    h = harness([cpu]);
    const tasks = h.manager.submit(Array.from({ length: 5 }, () => ({ agent: 'job', project: 'batch' })));
    h.clock.flush();
    expect(h.runner.live()).toHaveLength(5);
    h.manager.setProject('batch', { maxRunning: 2 });
    const more = h.manager.submit([{ agent: 'job', project: 'batch' }]);
    h.clock.flush();
    expect(h.runner.live()).toHaveLength(5);
    expect(tasks.every((t) => h.store.getTask(t.id)!.state === 'running')).toBe(true);
    expect(why(more[0]!.id)).toBe('project batch: 5 of 2 running');
    for (const r of h.runner.live().slice(0, 3)) r.exit({ exitCode: 0 });
    h.clock.flush();
    expect(h.store.getTask(more[0]!.id)!.state).toBe('queued'); // 2 still running: at the quota
    h.runner.live()[0]!.exit({ exitCode: 0 });
    h.clock.flush();
    expect(h.store.getTask(more[0]!.id)!.state).toBe('running');
  });

  it('projects are listed with weight, quotas, usage and share; usage survives a restart', () => {
    h = harness([cpu], {}, { store: 'sqlite' });
    h.manager.setProject('batch', { weight: 2, maxRunning: 4, maxVramMB: 6000 });
    h.manager.submit([{ agent: 'job', project: 'batch' }]);
    h.clock.flush();
    h.clock.advance(600_000);
    const before = h.manager.projectViews().find((p) => p.name === 'batch')!;
    expect(before).toMatchObject({
      name: 'batch',
      weight: 2,
      maxRunning: 4,
      maxVramMB: 6000,
      maxQueued: null,
      running: 1,
      queued: 0,
      usageShare: 1,
      targetShare: 1,
    });
    expect(before.usage).toBeGreaterThan(100); // 0.25 a second for about 600 s, a little decayed
    h = h.restart();
    const after = h.manager.projectViews().find((p) => p.name === 'batch')!;
    expect(after.weight).toBe(2);
    expect(after.usage).toBeGreaterThan(before.usage * 0.9);
  });

  it('fair share: two saturated projects with weights 2 and 1 share the machine 2:1 (within 10 %)', () => {
    h = harness([cpu], { maxConcurrency: 3, usageHalfLifeMs: 3_600_000 });
    h.manager.setProject('a', { weight: 2 });
    h.manager.setProject('b', { weight: 1 });
    h.manager.submit(Array.from({ length: 400 }, (_, i) => ({ agent: 'job', project: i % 2 === 0 ? 'b' : 'a' })));
    h.clock.flush();
    const startedAt = new Map<number, number>();
    const runSec = { a: 0, b: 0 };
    const MIN = 60_000;
    for (let minute = 0; minute < 6 * 60; minute++) {
      for (const r of h.runner.live()) if (!startedAt.has(r.pgid)) startedAt.set(r.pgid, h.clock.now());
      h.clock.advance(MIN);
      // Each task runs 5 minutes; after the first two hours, count who held the slots.
      for (const r of h.runner.live()) {
        const project = h.store.getTask(r.spec.taskId)!.project as 'a' | 'b';
        if (minute >= 120) runSec[project] += 60;
        if (h.clock.now() - startedAt.get(r.pgid)! >= 5 * MIN) r.exit({ exitCode: 0 });
      }
      h.clock.flush();
    }
    const share = runSec.a / (runSec.a + runSec.b);
    expect(share).toBeGreaterThan((2 / 3) * 0.9);
    expect(share).toBeLessThan((2 / 3) * 1.1);
  });
});

describe('Manager: preemption', () => {
  const batch = agent({ name: 'batch', preemptible: true, preemptGraceSec: 30, resources: { cpu: 1, memoryMB: 100, gpu: { count: 1, vramMB: 5000 } } });
  const render = agent({ name: 'render', resources: { cpu: 1, memoryMB: 100, gpu: { count: 1, vramMB: 6000 } } });
  const MIN = 60_000;

  it('a high-priority GPU task preempts a preemptible batch task: SIGTERM with its grace, its memory counts until it is gone, then it is queued again in its place', () => {
    h = harness([batch, render], { preemptMinRunMs: MIN });
    h.runner.lingerOnCancel = true;
    h.telemetry.set(node({ gpus: [rtx4060()] }));
    const [b, later] = h.manager.submit([{ agent: 'batch' }, { agent: 'batch' }]);
    h.clock.flush();
    const victim = h.runner.live()[0]!;
    expect(victim.spec.preemptible).toBe(true);
    // Too young to be preempted: the render waits.
    h.clock.advance(30_000);
    const [r] = h.manager.submit([{ agent: 'render', priority: 10 }]);
    h.clock.flush();
    expect(victim.cancelled).toBe(false);
    expect(why(r!.id)).toMatch(/needs 6000 MB VRAM on GPU 0, 3188 MB free/);
    // Old enough: preempted, with its agent's grace and a line for its log.
    h.clock.advance(31_000);
    h.clock.flush();
    expect(victim.cancelled).toBe(true);
    expect(victim.stop).toEqual({ graceMs: 30_000, note: `preempted for task ${r!.id} (priority 10; this one has 0)` });
    expect(h.store.getTask(b!.id)!.desired).toBe('preempt');
    // While it checkpoints, its memory still counts: the render waits, saying room is being made.
    expect(h.store.getTask(r!.id)!.state).toBe('queued');
    expect(why(r!.id)).toMatch(new RegExp(`room is being made: task ${b!.id} of lower priority is being preempted`));
    victim.exit({ exitCode: null, signal: 'SIGTERM' });
    h.clock.flush();
    expect(h.store.getTask(r!.id)!.state).toBe('running');
    const again = h.store.getTask(b!.id)!;
    expect(again).toMatchObject({ state: 'queued', desired: 'run', attempts: 1, maxAttempts: 2, seq: b!.seq, notBefore: null });
    const [a1] = h.store.attempts(b!.id);
    expect(a1).toMatchObject({ outcome: 'preempted', reason: `preempted for task ${r!.id} (priority 10; this one has 0); queued again` });
    expect(h.store.events(b!.id).find((e) => e.type === 'preempted')?.data).toMatchObject({ by: r!.id, priority: 10 });
    expect(h.store.events(r!.id).find((e) => e.type === 'preempting')?.data).toMatchObject({ victim: b!.id });
    // It keeps its place: ahead of the later batch task once the render is done.
    expect(h.store.getTask(later!.id)!.state).toBe('queued');
    h.runner
      .live()
      .find((x) => x.spec.taskId === r!.id)!
      .exit({ exitCode: 0 });
    h.clock.flush();
    expect(h.store.getTask(b!.id)!.state).toBe('running');
    expect(h.store.getTask(later!.id)!.state).toBe('queued');
  });

  it('a non-preemptible task is never preempted, and a preemptible one submitted as not preemptible is not either', () => {
    h = harness([batch, render], { preemptMinRunMs: MIN });
    h.telemetry.set(node({ gpus: [rtx4060()] }));
    const [b] = h.manager.submit([{ agent: 'batch', preemptible: false }]);
    h.clock.flush();
    h.clock.advance(10 * MIN);
    const [r] = h.manager.submit([{ agent: 'render', priority: 10 }]);
    h.clock.flush();
    h.clock.advance(10 * MIN);
    expect(h.runner.live().every((x) => !x.cancelled)).toBe(true);
    expect(h.store.getTask(b!.id)!.state).toBe('running');
    expect(h.store.getTask(r!.id)!.state).toBe('queued');
  });

  it('nothing is preempted for a task that would still not fit (a game holds the GPU), nor for one of equal priority', () => {
    h = harness([batch, render], { preemptMinRunMs: MIN });
    h.telemetry.set(node({ gpus: [rtx4060({ usedMB: 3000, processes: [{ pid: 5, name: 'game', usedMB: 3000, pgid: 5 }] })] }));
    h.manager.submit([{ agent: 'batch' }]);
    h.clock.flush();
    h.clock.advance(10 * MIN);
    h.manager.submit([{ agent: 'render', priority: 10, resources: { gpu: { vramMB: 7000 } } }, { agent: 'render' }]);
    h.clock.flush();
    h.clock.advance(MIN);
    expect(h.runner.live().some((x) => x.cancelled)).toBe(false);
  });

  it('a preempted task that finishes in its grace period (exit 0 with a result) has succeeded', () => {
    h = harness([batch, render], { preemptMinRunMs: MIN });
    h.runner.lingerOnCancel = true;
    h.telemetry.set(node({ gpus: [rtx4060()] }));
    const [b] = h.manager.submit([{ agent: 'batch' }]);
    h.clock.flush();
    const victim = h.runner.live()[0]!;
    h.clock.advance(2 * MIN);
    h.manager.submit([{ agent: 'render', priority: 10 }]);
    h.clock.flush();
    expect(victim.cancelled).toBe(true);
    victim.listener({ type: 'result', data: { done: true } });
    victim.exit({ exitCode: 0 });
    h.clock.flush();
    expect(h.store.getTask(b!.id)).toMatchObject({ state: 'succeeded', result: { done: true } });
  });

  it('with preemption off, nothing is preempted', () => {
    h = harness([batch, render], { preemptMinRunMs: MIN, preemption: false });
    h.telemetry.set(node({ gpus: [rtx4060()] }));
    h.manager.submit([{ agent: 'batch' }]);
    h.clock.flush();
    h.clock.advance(10 * MIN);
    h.manager.submit([{ agent: 'render', priority: 10 }]);
    h.clock.flush();
    expect(h.runner.live().some((x) => x.cancelled)).toBe(false);
  });
});
