import type { DependencyType } from '../../../contracts/task.js';
import type { NodeSnapshot, RunningUsage } from '../model/node.js';
import { runCycle, type CycleInput } from '../scheduler/cycle.js';
import { describeStatus } from '../scheduler/describe.js';
import { Heap } from '../scheduler/heap.js';
import { entryShape, QueueIndex, type QueueEntry } from '../scheduler/queue.js';

/** A task running now, as the simulation starts from it. */
export interface SimRunning extends RunningUsage {
  startedAt: number;
  /** What it last reported (0..1), or null. */
  progress: number | null;
}

/** A task waiting for its dependencies: it joins the simulated queue once they are met. */
export interface SimBlocked {
  entry: QueueEntry;
  mode: 'all' | 'any';
  deps: readonly { type: DependencyType; id: number }[];
}

export interface SimInput extends Omit<CycleInput, 'queue' | 'running' | 'node' | 'now'> {
  now: number;
  node: NodeSnapshot;
  running: readonly SimRunning[];
  queued: readonly QueueEntry[];
  blocked: readonly SimBlocked[];
  /** How long a task of this agent takes (its learned median, its manifest's, or the default). */
  durationMs(agent: string): number;
  /** No estimate past this far ahead. */
  horizonMs: number;
  /** At most this many simulated starts (the cost bound); the rest get no estimate, saying so. */
  maxStarts: number;
}

export interface Eta {
  startAt: number;
  endAt: number;
}

export interface SimResult {
  etas: Map<number, Eta>;
  /** Queued tasks with no estimate, and why (in words): past the horizon, or waiting on something with no end in sight. */
  none: Map<number, string>;
  /** When the last estimated task ends; null when none was estimated. */
  drainsAt: number | null;
  /** Simulated starts, and whether the bound on them cut the simulation short. */
  starts: number;
  truncated: boolean;
}

/** The least a running task is given to go, so an overdue one ends "any moment", not in the past. */
const MIN_LEFT_MS = 1000;

/** When a running task is expected to end: scaled by its progress where it reports one, else by its expected duration. */
export function expectedEnd(r: SimRunning, durationMs: number, now: number): number {
  const elapsed = Math.max(0, now - r.startedAt);
  const p = r.progress;
  const left = p !== null && p > 0.01 && p < 1 ? (elapsed * (1 - p)) / p : durationMs - elapsed;
  return now + Math.max(MIN_LEFT_MS, left);
}

/**
 * The queue played forward on a virtual clock: the core's own scheduling cycle (runCycle), from
 * the live state, with each task taking its expected duration and succeeding. Other programs keep
 * what they hold now. Bounded by a horizon and a number of starts; a task that never starts in
 * it says why (past the horizon, or held back by something no end of ours frees, like a game
 * holding the GPU). Pure.
 */
export function simulate(input: SimInput): SimResult {
  const steps = simulation(input);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * The same simulation, one step (one simulated scheduling cycle) at a time: what lets a long one
 * be spread over several turns of the Manager's thread (the Estimator does).
 */
export function* simulation(input: SimInput): Generator<void, SimResult, void> {
  const start = input.now;
  const until = start + input.horizonMs;
  const node = withoutOurUse(input.node, input.running);
  const queue = new QueueIndex();
  queue.addAll(input.queued, start);
  const etas = new Map<number, Eta>();
  const none = new Map<number, string>();
  // What is running in the simulation, and when each ends.
  type Live = RunningUsage & { endAt: number };
  const ends = new Heap<Live>((a, b) => a.endAt < b.endAt);
  let live: Live[] = [];
  for (const r of input.running) {
    const request = {
      ...r.request,
      cpu: Math.max(r.request.cpu, 0),
      memoryMB: Math.max(r.request.memoryMB, r.measuredMemoryMB ?? 0),
    };
    const l: Live = {
      taskId: r.taskId,
      agent: r.agent,
      request,
      gpus: r.gpus,
      array: r.array ?? null,
      pgid: null,
      endAt: expectedEnd(r, input.durationMs(r.agent), start),
    };
    etas.set(r.taskId, { startAt: r.startedAt, endAt: l.endAt });
    live.push(l);
    ends.push(l);
  }
  // Dependencies, as the simulation sees them: every task succeeds.
  const started = new Set<number>(input.running.map((r) => r.taskId));
  const ended = new Set<number>();
  const waiting = new Map<number, SimBlocked>(input.blocked.map((b) => [b.entry.id, b]));
  const byDep = new Map<number, number[]>();
  for (const b of input.blocked) for (const d of b.deps) byDep.set(d.id, [...(byDep.get(d.id) ?? []), b.entry.id]);
  const met = (type: DependencyType, id: number): boolean | null => {
    if (type === 'after') return started.has(id) || ended.has(id) ? true : null;
    if (type === 'afternotok') return null; // it is predicted to succeed: no estimate
    return ended.has(id) ? true : null;
  };
  const release = (id: number, at: number): void => {
    for (const w of byDep.get(id) ?? []) {
      const b = waiting.get(w);
      if (!b) continue;
      const verdicts = b.deps.map((d) => met(d.type, d.id));
      if (b.mode === 'all' ? verdicts.every((v) => v === true) : verdicts.some((v) => v === true)) {
        waiting.delete(w);
        queue.add({ ...b.entry, since: at }, at);
      }
    }
  };
  let t = start;
  let starts = 0;
  let lastReasons: ReturnType<typeof runCycle>['reasons'] = new Map();
  let lastHeld: string | null = null;
  // Why it stopped: all estimated, past the horizon, the bound on starts, or nothing left to wait for.
  let stop: 'done' | 'horizon' | 'bound' | 'stuck' = 'done';
  for (let guard = 0; ; guard++) {
    if (guard > 0) yield;
    if (guard > input.maxStarts * 4 + 1000) {
      stop = 'bound';
      break;
    }
    const result = runCycle({ ...input, now: t, queue, node, running: live });
    lastReasons = result.reasons;
    lastHeld = describeStatus(result.held);
    for (const p of result.starts) {
      queue.remove(p.entry);
      const endAt = t + input.durationMs(p.entry.agent);
      etas.set(p.taskId, { startAt: t, endAt });
      const l: Live = { taskId: p.taskId, agent: p.entry.agent, request: p.entry.request, gpus: p.gpus, array: p.entry.array, pgid: null, endAt };
      live.push(l);
      ends.push(l);
      started.add(p.taskId);
      release(p.taskId, t);
      starts += 1;
    }
    if (starts >= input.maxStarts) {
      stop = 'bound';
      break;
    }
    // Someone new may have joined the queue at this same moment (an `after` dependency).
    if (result.starts.length > 0 && queue.size > 0) continue;
    const nextEnd = ends.peek()?.endAt ?? null;
    const wake = result.wakeAt;
    const next = nextEnd === null ? wake : wake === null ? nextEnd : Math.min(nextEnd, wake);
    if (queue.size + waiting.size === 0) break;
    if (next === null || next > until) {
      stop = next === null ? 'stuck' : 'horizon';
      break;
    }
    t = Math.max(t, next);
    const gone = new Set<number>();
    for (let e = ends.peek(); e && e.endAt <= t; e = ends.peek()) {
      ends.pop();
      gone.add(e.taskId);
    }
    if (gone.size > 0) {
      live = live.filter((l) => !gone.has(l.taskId));
      for (const id of gone) {
        ended.add(id);
        release(id, t);
      }
    }
  }
  // What did not start: past the horizon, or held back by something our tasks ending never frees.
  const stuck = stop === 'stuck';
  const truncated = stop === 'bound';
  const horizon =
    stop === 'bound'
      ? `no estimate: more than ${input.maxStarts.toLocaleString('en')} tasks start before it`
      : `no estimate: it starts more than ${hours(input.horizonMs)} from now`;
  for (const e of queue.toArray()) {
    if (stuck) {
      if (lastHeld) none.set(e.id, `no estimate while ${lastHeld}`);
      else {
        const why = describeStatus(lastReasons.get(entryShape(e)) ?? null) ?? 'it is held back';
        none.set(e.id, `no estimate: it ${why}, and no task of ours ending frees that`);
      }
    } else none.set(e.id, horizon);
  }
  for (const [id, b] of waiting) {
    const afterFailure = b.deps.some((d) => d.type === 'afternotok');
    none.set(id, afterFailure ? 'no estimate: it waits for a task to fail' : stuck ? 'no estimate: what it waits for has no estimate' : horizon);
  }
  let drainsAt: number | null = null;
  for (const e of etas.values()) drainsAt = drainsAt === null ? e.endAt : Math.max(drainsAt, e.endAt);
  return { etas, none, drainsAt, starts, truncated };
}

function hours(ms: number): string {
  const h = ms / 3_600_000;
  return h >= 1 ? `${Math.round(h * 10) / 10} h` : `${Math.round(ms / 60_000)} min`;
}

/**
 * The machine with our running tasks' use taken out: in the simulation they end, and what they
 * free must not stay counted as other programs' (each holds its request, or what it was measured
 * at, while it runs there).
 */
function withoutOurUse(node: NodeSnapshot, running: readonly SimRunning[]): NodeSnapshot {
  const ours = new Set(running.map((r) => r.pgid).filter((p): p is number => p !== null));
  const measured = running.reduce((sum, r) => sum + (r.measuredMemoryMB ?? 0), 0);
  return {
    ...node,
    memoryAvailableMB: Math.min(node.memoryTotalMB, node.memoryAvailableMB + measured),
    gpus: node.gpus.map((g) => {
      const mine = (g.processes ?? []).filter((p) => p.pgid != null && ours.has(p.pgid));
      const mineMB = mine.reduce((sum, p) => sum + (p.usedMB ?? 0), 0);
      return { ...g, usedMB: Math.max(0, g.usedMB - mineMB), processes: g.processes?.filter((p) => !(p.pgid != null && ours.has(p.pgid))) ?? null };
    }),
  };
}
