import type { ResourceRequest } from '../../../contracts/resources.js';
import type { Estimate } from '../eta/estimator.js';
import type { TaskRecord } from '../model/task.js';
import type { ClusterNode, ClusterPort, Clock, Logger, TaskStore, TimerHandle } from '../ports.js';
import type { Publisher } from '../publisher.js';
import type { SchedulerLoop } from '../scheduler/loop.js';

export const OFFLOAD = {
  /** How often the queued auto tasks are looked at (one sinfo per look, and only when one is waiting long). */
  everyMs: 15_000,
  /** At most this many queued auto tasks looked at per look (the front of the queue). */
  batch: 200,
} as const;

export interface OffloadCandidate {
  id: number;
  request: ResourceRequest;
  /** How long until it starts here, by the estimate; null: no start in sight (past the horizon, or held back with no end). */
  waitMs: number | null;
}

export interface OffloadPick {
  id: number;
  /** The node that had room for it. */
  node: string;
  waitMs: number | null;
}

/**
 * Which waiting tasks go to the cluster: each one whose start here is further off than `afterMs`
 * (or not in sight at all), in the order given, while a usable node has room for it (its CPUs
 * whole, as sbatch asks, memory and GPUs). What one takes is taken off that node for the next,
 * so one look never sends more than the cluster said it has free.
 */
export function pickOffloads(candidates: readonly OffloadCandidate[], nodes: readonly ClusterNode[], afterMs: number): OffloadPick[] {
  const free = nodes.filter((n) => n.usable).map((n) => ({ ...n }));
  const picks: OffloadPick[] = [];
  for (const c of candidates) {
    if (c.waitMs !== null && c.waitMs <= afterMs) continue;
    const cpus = Math.max(1, Math.ceil(c.request.cpu));
    const gpus = c.request.gpu?.count ?? 0;
    const node = free.find((n) => n.idleCpus >= cpus && n.freeMemoryMB >= c.request.memoryMB && n.freeGpus >= gpus);
    if (!node) continue;
    node.idleCpus -= cpus;
    node.freeMemoryMB -= c.request.memoryMB;
    node.freeGpus -= gpus;
    picks.push({ id: c.id, node: node.name, waitMs: c.waitMs });
  }
  return picks;
}

/** How long until each task starts here, by the estimate: a number, null for none in sight, undefined when it says nothing of it yet. */
export function waitFor(estimate: Pick<Estimate, 'etas' | 'none'>, id: number, now: number): number | null | undefined {
  const eta = estimate.etas.get(id);
  if (eta) return Math.max(0, eta.startAt - now);
  return estimate.none.has(id) ? null : undefined;
}

const minutes = (ms: number): string => (ms < 90_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);

/** The sentence an offloaded task keeps: why it went. */
export function offloadReason(p: OffloadPick, afterMs: number): string {
  const wait = p.waitMs === null ? 'no start here was in sight' : `its start here was about ${minutes(p.waitMs)} away`;
  return `sent to the Slurm cluster (backend auto): ${wait}, over slurmAutoAfterSec (${Math.round(afterMs / 1000)} s), and node ${p.node} had room for it`;
}

export interface OffloadDeps {
  store: TaskStore;
  clock: Clock;
  logger: Logger;
  publisher: Publisher;
  loop: Pick<SchedulerLoop, 'add' | 'remove' | 'requestCycle'>;
  cluster: ClusterPort;
  estimate: () => Estimate;
  /** slurmAutoAfterSec in ms; null: tasks with backend auto are never sent on for waiting. */
  afterMs: () => number | null;
  paused: () => boolean;
  /** The queue changed (for the estimates). */
  changed: () => void;
  everyMs?: number;
}

/**
 * Backend auto, second rule (the first, "can never fit here", is decided at submit): a task
 * queued here whose start is further off than slurmAutoAfterSec is sent to the Slurm cluster when
 * the cluster says it has room for it now (sinfo). It keeps its place by age; nothing else about
 * it changes. Looked at every OFFLOAD.everyMs, never while the queue is paused.
 */
export class Offloader {
  private timer: TimerHandle | null = null;
  private running = false;
  private lastProblem: string | null = null;

  constructor(private readonly deps: OffloadDeps) {}

  start(): void {
    this.running = true;
    this.arm();
  }

  stop(): void {
    this.running = false;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(): void {
    if (!this.running) return;
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = null;
      this.look().then(
        () => this.arm(),
        (e: unknown) => {
          this.deps.logger.warn('sending waiting auto tasks to Slurm failed', { error: String(e) });
          this.arm();
        },
      );
    }, this.deps.everyMs ?? OFFLOAD.everyMs);
  }

  /** One look: the waiting auto tasks, the estimate, and (only if one waits long) the cluster's free nodes. Returns the ids sent. */
  async look(): Promise<number[]> {
    const { store, clock, cluster } = this.deps;
    const afterMs = this.deps.afterMs();
    if (afterMs === null || this.deps.paused()) return [];
    const queued = store.autoQueued(OFFLOAD.batch);
    if (queued.length === 0) return [];
    const estimate = this.deps.estimate();
    const now = clock.now();
    const candidates: OffloadCandidate[] = [];
    for (const t of queued) {
      const waitMs = waitFor(estimate, t.id, now);
      if (waitMs === undefined || (waitMs !== null && waitMs <= afterMs)) continue;
      candidates.push({ id: t.id, request: t.request, waitMs });
    }
    if (candidates.length === 0) return [];
    let nodes: ClusterNode[];
    try {
      nodes = await cluster.freeNodes();
      this.lastProblem = null;
    } catch (e) {
      // Said once per new problem: the tasks stay queued here meanwhile.
      const problem = e instanceof Error ? e.message : String(e);
      if (problem !== this.lastProblem)
        this.deps.logger.warn('the Slurm cluster did not say what it has free; waiting auto tasks stay here', { error: problem });
      this.lastProblem = problem;
      return [];
    }
    if (!this.running || this.deps.paused()) return [];
    const sent: number[] = [];
    for (const p of pickOffloads(candidates, nodes, afterMs)) {
      if (this.send(p, afterMs)) sent.push(p.id);
    }
    if (sent.length > 0) {
      this.deps.changed();
      this.deps.loop.requestCycle();
    }
    return sent;
  }

  /** Moves one task, if it is still waiting here (it may have started while sinfo answered). */
  private send(p: OffloadPick, afterMs: number): boolean {
    const { store, clock, loop, publisher, logger } = this.deps;
    const t: TaskRecord | null = store.getTask(p.id);
    if (!t || t.state !== 'queued' || t.backend !== 'local' || t.held || t.blocked) return false;
    const reason = offloadReason(p, afterMs);
    const moved = store.offload(t.id, { reason, node: p.node, waitSec: p.waitMs === null ? null : Math.round(p.waitMs / 1000) }, clock.now());
    if (!moved) return false;
    const old = loop.remove(t);
    publisher.task(moved);
    loop.add(moved, old?.since);
    logger.info('a waiting task was sent to the Slurm cluster', { task: t.id, node: p.node, waitSec: p.waitMs === null ? null : Math.round(p.waitMs / 1000) });
    return true;
  }
}
