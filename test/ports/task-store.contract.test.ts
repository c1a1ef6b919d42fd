import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TASK_STATES, TERMINAL_STATES, type TaskState } from '../../contracts/task.js';
import { MemoryTaskStore } from '../../src-main/adapters/memory/memory-task-store.js';
import { openDb, type OpenDb } from '../../src-main/adapters/sqlite/db.js';
import { SqliteTaskStore } from '../../src-main/adapters/sqlite/task-store.js';
import { TRANSITIONS } from '../../src-main/core/lifecycle/transitions.js';
import type { NewTask, TaskRecord } from '../../src-main/core/model/task.js';
import type { TaskStore } from '../../src-main/core/ports.js';
import { tempDir } from '../helpers/fakes.js';

/**
 * The TaskStore contract (ports.ts), run against every implementation: SQLite (what the app
 * uses) and the in-memory store (what the Manager's unit and property tests use). What only
 * SQLite has (WAL, migrations, checkpoints) is tested in test/adapters/sqlite/.
 */
const T0 = 1_700_000_000_000;
const newTask = (over: Partial<NewTask> = {}): NewTask => ({
  agent: 'a',
  name: null,
  priority: 0,
  input: { k: 'v' },
  request: { cpu: 1, memoryMB: 10 },
  requestPinned: false,
  maxAttempts: 2,
  backoffSec: 1,
  timeoutSec: null,
  createdAt: T0,
  ...over,
});

interface Impl {
  name: string;
  open(): TaskStore;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

const IMPLEMENTATIONS: Impl[] = [
  {
    name: 'SqliteTaskStore',
    open() {
      const tmp = tempDir();
      const conn: OpenDb = openDb(join(tmp.dir, 'x.sqlite'));
      cleanups.push(() => {
        conn.close();
        tmp.cleanup();
      });
      return new SqliteTaskStore(conn);
    },
  },
  { name: 'MemoryTaskStore', open: () => new MemoryTaskStore() },
];

const proc = { pid: 1, pidStartTime: '5', pgid: 1, logDir: '/x' };
const end = { outcome: 'failed' as const, reason: 'exit code 1', exitCode: 1, signal: null, endedAt: T0 + 5 };

/** A task brought to `state` through the port alone. */
function taskIn(store: TaskStore, state: TaskState): TaskRecord {
  const [t] = store.insertTasks([newTask()]);
  if (state === 'queued') return t!;
  store.beginAttempt(t!.id, 0, T0, []);
  if (state === 'starting') return store.getTask(t!.id)!;
  if (state === 'running') return store.markSpawned(t!.id, 1, proc)!;
  return store.endAttempt(t!.id, 1, { ...end, outcome: state as typeof end.outcome }, { state, notBefore: null, error: null, finishedAt: T0 })!;
}

describe.each(IMPLEMENTATIONS)('TaskStore contract: $name', (impl) => {
  it("inputMentions finds text in any stored task's input, as written (quotes and backslashes too), and forgets removed tasks", () => {
    const store = impl.open();
    const dir = '/data/uploads/0a1b "q" \\x';
    const [t] = store.insertTasks([newTask({ input: { file: `${dir}/photo.png`, nested: { n: 1 } } })]);
    expect(store.inputMentions(dir)).toBe(true);
    expect(store.inputMentions('/data/uploads/0a1b "q" \\y')).toBe(false);
    expect(store.inputMentions('/data/uploads/ffff')).toBe(false);
    store.beginAttempt(t!.id, 0, T0, []);
    store.endAttempt(t!.id, 1, { ...end, outcome: 'succeeded' }, { state: 'succeeded', notBefore: null, error: null, finishedAt: T0 });
    expect(store.removeEnded([t!.id])).toEqual([t!.id]);
    expect(store.inputMentions(dir)).toBe(false);
  });

  it('round-trips a task, with GPU request and JSON input', () => {
    const store = impl.open();
    const [t] = store.insertTasks([newTask({ request: { cpu: 0.5, memoryMB: 100, gpu: { count: 1, vramMB: 3000 } }, name: 'n', timeoutSec: 9 })]);
    expect(store.getTask(t!.id)).toEqual(t);
    expect(store.getTask(t!.id + 1000)).toBeNull();
  });

  it('a task to begin later keeps its notBefore, and waits from then', () => {
    const store = impl.open();
    const [t] = store.insertTasks([newTask({ notBefore: T0 + 5000 })]);
    expect(store.getTask(t!.id)).toMatchObject({ notBefore: T0 + 5000, state: 'queued' });
    expect(store.queuedEntries()).toMatchObject([{ id: t!.id, notBefore: T0 + 5000, since: T0 + 5000 }]);
  });

  it('held: guarded while queued, kept out of queuedEntries, cleared by a retry', () => {
    const store = impl.open();
    const [t, u] = store.insertTasks([newTask({ held: true }), newTask()]);
    expect(store.getTask(t!.id)!.held).toBe(true);
    expect(store.queuedEntries().map((e) => e.id)).toEqual([u!.id]);
    expect(store.setHeld(u!.id, true, T0 + 1)).toMatchObject({ held: true, updatedAt: T0 + 1 });
    expect(store.setHeld(t!.id, false, T0 + 2)).toMatchObject({ held: false });
    expect(store.queuedEntries().map((e) => e.id)).toEqual([t!.id]);
    store.cancelQueued(u!.id, T0 + 3);
    expect(store.setHeld(u!.id, false, T0 + 4)).toBeNull(); // not queued: nothing written
    expect(store.requeue(u!.id, 'cancelled', T0 + 5)).toMatchObject({ state: 'queued', held: false });
  });

  it('a batch is one transaction: a failure stores none', () => {
    const store = impl.open();
    expect(() => store.insertTasks([newTask(), newTask({ agent: null as unknown as string })])).toThrow();
    expect(store.listTasks({ limit: 5 })).toEqual([]);
  });

  it('guards every transition by state and attempt, and returns the task as written', () => {
    const store = impl.open();
    const [t] = store.insertTasks([newTask()]);
    const id = t!.id;
    expect(store.beginAttempt(id, 1, T0, [])).toBeNull(); // wrong attempt count
    expect(store.beginAttempt(id, 0, T0, [0])).toMatchObject({ id, state: 'starting', attempts: 1, startedAt: T0 });
    expect(store.beginAttempt(id, 0, T0, [0])).toBeNull(); // not queued any more
    expect(store.markSpawned(id, 2, proc)).toBeNull();
    expect(store.markSpawned(id, 1, proc)).toMatchObject({ id, state: 'running' });
    expect(store.endAttempt(id, 1, end, { state: 'queued', notBefore: T0 + 1000, error: null, finishedAt: null })).toMatchObject({
      state: 'queued',
      notBefore: T0 + 1000,
    });
    expect(store.endAttempt(id, 1, end, { state: 'failed', notBefore: null, error: 'x', finishedAt: T0 })).toBeNull(); // ends once
    expect(store.getTask(id)).toMatchObject({ state: 'queued', attempts: 1, notBefore: T0 + 1000 });
    expect(store.attempts(id)).toMatchObject([{ number: 1, outcome: 'failed', exitCode: 1, pid: 1, pidStartTime: '5', gpus: [0], logDir: '/x' }]);
    expect(store.cancelQueued(id, T0)).toMatchObject({ state: 'cancelled', desired: 'cancel', finishedAt: T0 });
    expect(store.cancelQueued(id, T0)).toBeNull();
    expect(store.setPriority(id, 4)).toBeNull();
    expect(store.requeue(id, 'failed', T0)).toBeNull();
    expect(store.requeue(id, 'cancelled', T0)).toMatchObject({ state: 'queued', desired: 'run', maxAttempts: 2, error: null });
    expect(store.getTask(id)).toMatchObject({ state: 'queued', desired: 'run', maxAttempts: 2, error: null });
    expect(store.setPriority(id, 4)).toMatchObject({ priority: 4 });
    expect(store.events(id).map((e) => e.type)).toEqual(['attempt-ended', 'retried']);
  });

  it('an end carries the next request, limit and progress; an end to an active state is refused', () => {
    const store = impl.open();
    const t = taskIn(store, 'running');
    expect(() => store.endAttempt(t.id, 1, end, { state: 'running', notBefore: null, error: null, finishedAt: null })).toThrow(/cannot leave/);
    expect(store.getTask(t.id)!.state).toBe('running');
    const next = store.endAttempt(
      t.id,
      1,
      { ...end, peakVramMB: 1234.6, peakMemoryMB: 99.4, peakCpu: 0.5 },
      { state: 'queued', notBefore: T0 + 9, error: null, finishedAt: null, request: { cpu: 2, memoryMB: 50, gpu: { count: 1, vramMB: 4000 } }, maxAttempts: 5 },
    );
    expect(next).toMatchObject({ state: 'queued', request: { cpu: 2, memoryMB: 50, gpu: { count: 1, vramMB: 4000 } }, maxAttempts: 5 });
    expect(store.attempts(t.id)[0]).toMatchObject({ peakVramMB: 1235, peakMemoryMB: 99, peakCpu: 0.5 });
    expect(store.events(t.id)).toMatchObject([{ attempt: 1, type: 'attempt-ended', data: { outcome: 'failed', next: 'queued' } }]);
  });

  it('the SQL guards allow exactly the edges of lifecycle/transitions.ts', () => {
    const store = impl.open();
    const seen = new Set<string>();
    const tryEach: ((t: TaskRecord) => TaskRecord | null)[] = [
      (t) => store.beginAttempt(t.id, t.attempts, T0, []),
      (t) => store.markSpawned(t.id, t.attempts, proc),
      (t) => store.cancelQueued(t.id, T0),
      (t) => store.requeue(t.id, t.state, T0),
      ...TASK_STATES.map(
        (to) => (t: TaskRecord) =>
          store.endAttempt(
            t.id,
            t.attempts,
            { ...end, outcome: TERMINAL_STATES.includes(to) ? (to as typeof end.outcome) : 'failed' },
            { state: to, notBefore: null, error: null, finishedAt: null },
          ),
      ),
    ];
    for (const from of TASK_STATES) {
      for (const attempt of tryEach) {
        const t = taskIn(store, from);
        let after: TaskRecord | null = null;
        try {
          after = attempt(t);
        } catch {
          // refused outright: no edge
        }
        if (after && after.state !== from) seen.add(`${from}->${after.state}`);
        if (!after) expect(store.getTask(t.id)!.state).toBe(from); // a refusal changes nothing
      }
    }
    const table = new Set(Object.entries(TRANSITIONS).flatMap(([from, tos]) => tos.map((to) => `${from}->${to}`)));
    expect([...seen].sort()).toEqual([...table].sort());
  });

  it('lists newest first with filters and cursor; pages any window; loads the queue light', () => {
    const store = impl.open();
    const ts = store.insertTasks([newTask(), newTask({ agent: 'b', priority: 5, name: 'Render frames' }), newTask(), newTask({ priority: 5 })]);
    const ids = ts.map((t) => t.id);
    expect(store.listTasks({ limit: 2 }).map((t) => t.id)).toEqual([ids[3], ids[2]]);
    expect(store.listTasks({ limit: 10, beforeId: ids[2] }).map((t) => t.id)).toEqual([ids[1], ids[0]]);
    expect(store.listTasks({ limit: 10, agent: 'b' }).map((t) => t.id)).toEqual([ids[1]]);
    const entries = store.queuedEntries();
    expect(entries.map((e) => e.id).sort()).toEqual([...ids].sort());
    expect(entries.find((e) => e.id === ids[1])).toMatchObject({ agent: 'b', priority: 5, notBefore: null, request: { cpu: 1, memoryMB: 10 }, since: T0 });
    expect(entries[0]!.request).toBe(entries[1]!.request); // one shape, one shared request object
    expect(store.countByState()).toMatchObject({ queued: 4, running: 0 });
    expect(store.pageTasks({}, 'priority', 0, 2)).toEqual({ items: [ts[1], ts[3]], total: 4 });
    expect(store.pageTasks({}, 'oldest', 1, 2).items.map((t) => t.id)).toEqual([ids[1], ids[2]]);
    expect(store.pageTasks({ search: 'render' }, 'newest', 0, 10).items.map((t) => t.id)).toEqual([ids[1]]);
    expect(store.pageTasks({ search: `#${ids[2]}` }, 'newest', 0, 10).items.map((t) => t.id)).toEqual([ids[2]]);
    expect(store.pageTasks({ states: ['running'] }, 'newest', 0, 10)).toEqual({ items: [], total: 0 });
    // The UI's column sorts: agent A to Z, state in lifecycle order; newest first within each.
    expect(store.pageTasks({}, 'agent', 0, 10).items.map((t) => t.id)).toEqual([ids[3], ids[2], ids[0], ids[1]]);
    store.beginAttempt(ids[0]!, 0, T0, []);
    store.beginAttempt(ids[2]!, 0, T0, []);
    store.markSpawned(ids[2]!, 1, proc);
    expect(store.pageTasks({}, 'state', 0, 10).items.map((t) => [t.id, t.state])).toEqual([
      [ids[3], 'queued'],
      [ids[1], 'queued'],
      [ids[0], 'starting'],
      [ids[2], 'running'],
    ]);
  });

  it('active lists starting and running tasks with their current attempt', () => {
    const store = impl.open();
    const s = taskIn(store, 'starting');
    const r = taskIn(store, 'running');
    taskIn(store, 'failed');
    const active = store.active();
    expect(active.map((a) => [a.task.id, a.task.state, a.attempt.number]).sort()).toEqual([
      [s.id, 'starting', 1],
      [r.id, 'running', 1],
    ]);
    expect(active.find((a) => a.task.id === r.id)!.attempt).toMatchObject({ pid: 1, pgid: 1, logDir: '/x' });
  });

  it("recentArtifacts: newest first across tasks, each with its place in its task's list, its agent, and by project", () => {
    const store = impl.open();
    const [a, b] = store.insertTasks([newTask({ agent: 'paint', project: 'art' }), newTask({ agent: 'ocr', project: 'docs' })]);
    const art = (taskId: number, path: string, at: number) =>
      store.addArtifact({ taskId, attempt: 1, name: `label ${path}`, path, sizeBytes: 3, createdAt: at });
    art(a!.id, '/r/a0.png', T0 + 1);
    art(b!.id, '/r/b0.txt', T0 + 2);
    art(a!.id, '/r/a1.png', T0 + 3);
    art(b!.id, '/r/b1.txt', T0 + 3); // same time: the later task first
    const recent = store.recentArtifacts(10);
    expect(recent.map((r) => [r.artifact.path, r.index, r.agent])).toEqual([
      ['/r/b1.txt', 1, 'ocr'],
      ['/r/a1.png', 1, 'paint'],
      ['/r/b0.txt', 0, 'ocr'],
      ['/r/a0.png', 0, 'paint'],
    ]);
    expect(recent[0]!.artifact).toEqual({ taskId: b!.id, attempt: 1, name: 'label /r/b1.txt', path: '/r/b1.txt', sizeBytes: 3, createdAt: T0 + 3 });
    expect(store.recentArtifacts(2).map((r) => r.artifact.path)).toEqual(['/r/b1.txt', '/r/a1.png']);
    expect(store.recentArtifacts(10, 'art').map((r) => [r.artifact.path, r.index])).toEqual([
      ['/r/a1.png', 1],
      ['/r/a0.png', 0],
    ]);
    expect(store.recentArtifacts(10, 'nobody')).toEqual([]);
  });

  it('backend auto: the waiting ones placed here are listed by priority and place, and one can be sent to Slurm once', () => {
    const store = impl.open();
    const [local, auto1, auto2, held, blocked, slurm] = store.insertTasks([
      newTask(),
      { ...newTask(), backendAuto: true },
      { ...newTask({ priority: 5 }), backendAuto: true },
      { ...newTask(), backendAuto: true, held: true },
      { ...newTask(), backendAuto: true, blocked: true },
      { ...newTask(), backendAuto: true, backend: 'slurm' },
    ]);
    expect(local).toMatchObject({ backendAuto: false, backend: 'local' });
    expect(store.getTask(auto1!.id)).toMatchObject({ backendAuto: true, backend: 'local' });
    expect(store.autoQueued(10).map((t) => t.id)).toEqual([auto2!.id, auto1!.id]);
    expect(store.autoQueued(1).map((t) => t.id)).toEqual([auto2!.id]);
    const moved = store.offload(auto1!.id, { reason: 'far' }, T0 + 5);
    expect(moved).toMatchObject({ id: auto1!.id, backend: 'slurm', backendAuto: true, state: 'queued', updatedAt: T0 + 5 });
    expect(store.events(auto1!.id).filter((e) => e.type === 'offloaded')).toEqual([
      { taskId: auto1!.id, attempt: null, at: T0 + 5, type: 'offloaded', data: { reason: 'far' } },
    ]);
    // Once only, and never a task for this machine, a held or waiting one, one already there, or one that started.
    for (const id of [auto1!.id, local!.id, held!.id, blocked!.id, slurm!.id]) expect(store.offload(id, null, T0)).toBeNull();
    store.beginAttempt(auto2!.id, 0, T0, []);
    expect(store.offload(auto2!.id, null, T0)).toBeNull();
    expect(store.autoQueued(10)).toEqual([]);
  });

  it('a remote run is named by its job, and where it waits or runs is kept until its next attempt', () => {
    const store = impl.open();
    const t = store.insertTasks([{ ...newTask(), backend: 'slurm' }])[0]!;
    expect(t).toMatchObject({ backend: 'slurm', remoteJob: null, remoteWhere: null });
    store.beginAttempt(t.id, 0, T0, []);
    store.markSpawned(t.id, 1, { pid: null, pgid: null, pidStartTime: 'slurm:4242', logDir: '/shared/runs/1/1' });
    expect(store.getTask(t.id)).toMatchObject({ state: 'running', remoteJob: 'slurm:4242' });
    expect(store.setPlacement(t.id, 1, 'partition gpu, node n3')).toBe(true);
    expect(store.setPlacement(t.id, 1, 'partition gpu, node n3')).toBe(false);
    expect(store.setPlacement(t.id, 2, 'elsewhere')).toBe(false); // not its attempt
    expect(store.getTask(t.id)!.remoteWhere).toBe('partition gpu, node n3');
    expect(store.attempts(t.id)[0]).toMatchObject({ pid: null, pgid: null, pidStartTime: 'slurm:4242' });
  });

  it('a result is stored once per value; artifacts are kept per path; peaks of successes, newest first', () => {
    const store = impl.open();
    const t = taskIn(store, 'running');
    expect(store.setResult(t.id, 1, { a: 1 })).toBe(true);
    expect(store.setResult(t.id, 1, { a: 1 })).toBe(false);
    expect(store.setResult(t.id, 2, { a: 2 })).toBe(false); // not its attempt
    expect(store.getTask(t.id)!.result).toEqual({ a: 1 });
    store.addArtifact({ taskId: t.id, attempt: 1, name: 'a.png', path: '/o/a.png', sizeBytes: 1, createdAt: T0 });
    store.addArtifact({ taskId: t.id, attempt: 1, name: 'a2.png', path: '/o/a.png', sizeBytes: 2, createdAt: T0 });
    expect(store.artifacts(t.id)).toEqual([{ taskId: t.id, attempt: 1, name: 'a2.png', path: '/o/a.png', sizeBytes: 2, createdAt: T0 }]);
    for (const [i, mem] of [100, 300, 200].entries()) {
      const x = taskIn(store, 'running');
      store.endAttempt(
        x.id,
        1,
        { ...end, outcome: 'succeeded', endedAt: T0 + i, peakMemoryMB: mem, peakVramMB: null, peakCpu: 1 },
        { state: 'succeeded', notBefore: null, error: null, finishedAt: T0 },
      );
    }
    expect(store.recentPeaks('a', 2)).toEqual([
      { vramMB: null, memoryMB: 200, cpu: 1 },
      { vramMB: null, memoryMB: 300, cpu: 1 },
    ]);
    expect(store.recentPeaks('other', 5)).toEqual([]);
  });

  it('progress and desired state are written and returned; unknown tasks give null', () => {
    const store = impl.open();
    const t = taskIn(store, 'running');
    expect(store.setProgress(t.id, 0.5, 'half', T0 + 1)).toMatchObject({ progress: 0.5, progressMessage: 'half', updatedAt: T0 + 1 });
    expect(store.setDesired(t.id, 'cancel')).toMatchObject({ desired: 'cancel', state: 'running' });
    expect(store.setProgress(99_999, 1, null, T0)).toBeNull();
    expect(store.setDesired(99_999, 'cancel')).toBeNull();
  });

  it('settings persist as JSON', () => {
    const store = impl.open();
    expect(store.getSetting('x')).toBeUndefined();
    store.setSetting('x', { a: [1] });
    expect(store.getSetting('x')).toEqual({ a: [1] });
    store.setSetting('x', true);
    expect(store.getSetting('x')).toBe(true);
  });

  it('dependencies: batch refs by index, targets (an array id means all of it), links with states, dependents, settling guarded and in one write', () => {
    const store = impl.open();
    const [dep] = store.insertTasks([newTask()]);
    const made = store.insertTasks([
      newTask({ array: { group: 0, index: 0, throttle: 2 } }),
      newTask({ array: { group: 0, index: 1, throttle: 2 } }),
      newTask({
        dependsOn: [
          { type: 'afterok', taskId: dep!.id },
          { type: 'afterany', index: 0 },
          { type: 'afterany', index: 1 },
        ],
        dependsMode: 'all',
        blocked: true,
      }),
      newTask({ dependsOn: [{ type: 'afterok', index: 2 }], blocked: true }),
    ]);
    const [m0, m1, x, y] = made;
    expect([m0!.arrayId, m1!.arrayId, x!.arrayId]).toEqual([m0!.id, m0!.id, null]);
    expect(made.map((t) => t.blocked)).toEqual([false, false, true, true]);
    expect(x!.dependsMode).toBe('all');
    expect(store.getTask(x!.id)).toEqual(x);
    const targets = store.dependencyTargets([m0!.id, dep!.id, 99_999]);
    expect(targets.get(m0!.id)!.map((t) => t.id)).toEqual([m0!.id, m1!.id]);
    expect(targets.get(dep!.id)).toEqual([{ id: dep!.id, state: 'queued', attempts: 0 }]);
    expect(targets.has(99_999)).toBe(false);
    expect(store.dependencies(x!.id)).toEqual({
      mode: 'all',
      total: 3,
      links: [
        { type: 'afterok', id: dep!.id, state: 'queued', attempts: 0, progress: null },
        { type: 'afterany', id: m0!.id, state: 'queued', attempts: 0, progress: null },
        { type: 'afterany', id: m1!.id, state: 'queued', attempts: 0, progress: null },
      ],
    });
    expect(store.dependencies(x!.id, 1)!.links).toHaveLength(1);
    expect(store.dependencies(dep!.id)).toBeNull();
    expect(store.dependents([dep!.id, m1!.id], true)).toEqual([x!.id]);
    expect(store.queuedEntries().map((e) => e.id)).toEqual([dep!.id, m0!.id, m1!.id]);
    expect(store.queuedEntries()[1]).toMatchObject({ array: m0!.id, throttle: 2, seq: m0!.id });
    const settled = store.settleDependents({ unblock: [x!.id, dep!.id], cancel: [{ id: y!.id, cause: x!.id, reason: 'dependency x ended failed' }] }, T0 + 9);
    // dep was never blocked: the guard leaves it as it was
    expect(settled.map((t) => [t.id, t.state, t.blocked])).toEqual([
      [x!.id, 'queued', false],
      [y!.id, 'cancelled', false],
    ]);
    expect(store.getTask(y!.id)).toMatchObject({ cause: x!.id, error: 'dependency x ended failed', finishedAt: T0 + 9 });
    expect(store.causedBy(x!.id)).toEqual([y!.id]);
    expect(store.events(y!.id).map((e) => e.type)).toEqual(['cancelled']);
    expect(store.settleDependents({ unblock: [x!.id], cancel: [{ id: y!.id, cause: 1, reason: 'again' }] }, T0 + 10)).toEqual([]);
    // a retry waits for its dependencies again, and no longer counts as caused
    expect(store.requeue(y!.id, 'cancelled', T0 + 11, true)).toMatchObject({ state: 'queued', blocked: true, cause: null });
    expect(store.causedBy(x!.id)).toEqual([]);
    expect(store.dependents([x!.id], false)).toEqual([y!.id]);
  });

  it('arrays: listed and summarised by id', () => {
    const store = impl.open();
    const made = store.insertTasks([0, 1, 2].map((i) => newTask({ array: { group: 0, index: i, throttle: null } })));
    const id = made[0]!.id;
    const run = store.beginAttempt(made[0]!.id, 0, T0 + 1, [])!;
    store.endAttempt(
      run.id,
      1,
      { ...end, outcome: 'succeeded', reason: 'exit code 0', exitCode: 0 },
      { state: 'succeeded', notBefore: null, error: null, finishedAt: T0 + 5 },
    );
    store.beginAttempt(made[1]!.id, 0, T0 + 1, []);
    store.setProgress(made[1]!.id, 0.5, null, T0 + 2);
    expect(store.listTasks({ arrayId: id, limit: 10 }).map((t) => t.arrayIndex)).toEqual([2, 1, 0]);
    expect(store.pageTasks({ arrayId: id }, 'oldest', 0, 10).total).toBe(3);
    const [single] = store.insertTasks([newTask()]);
    expect(store.pageTasks({ arrayHeads: true }, 'oldest', 0, 10).items.map((t) => t.id)).toEqual([id, single!.id]);
    const [sum] = store.arraySummaries([id, 99_999]);
    expect(sum).toMatchObject({ arrayId: id, total: 3, throttle: null, counts: { succeeded: 1, starting: 1, queued: 1 } });
    expect(sum!.progress).toBeCloseTo(0.5);
  });

  it('places: setPlace is guarded while queued; seqBounds within a priority; the queue order follows', () => {
    const store = impl.open();
    const [a, b, c] = store.insertTasks([newTask(), newTask(), newTask({ priority: 1 })]);
    expect(a!.seq).toBe(a!.id);
    expect(store.seqBounds({ priority: 0 })).toEqual({ min: a!.id, max: b!.id });
    expect(store.seqBounds({ priority: 0, below: b!.id })).toEqual({ min: a!.id, max: a!.id });
    expect(store.seqBounds({ priority: 7 })).toEqual({ min: null, max: null });
    expect(store.setPlace(b!.id, 0, a!.id - 1, T0 + 1)).toMatchObject({ seq: a!.id - 1, priority: 0 });
    expect(store.pageTasks({}, 'priority', 0, 10).items.map((t) => t.id)).toEqual([c!.id, b!.id, a!.id]);
    store.beginAttempt(a!.id, 0, T0 + 2, []);
    expect(store.setPlace(a!.id, 0, 1, T0 + 3)).toBeNull();
  });
});
