import type { ResourceView } from '../../../contracts/resources.js';
import type { RunOutcome } from '../lifecycle/attempt-end.js';
import type { NodeSnapshot, RunningUsage } from '../model/node.js';
import type { PeakSample } from '../model/profile.js';
import type { RunHandle } from '../ports.js';
import { applyKept, buildPool, type KeptResources, type Pool, type PoolConfig } from './pool.js';

/** A task that holds resources: being started, or running. */
export interface ActiveRun extends RunningUsage {
  attempt: number;
  handle: RunHandle | null;
  startedAt: number;
  /** The most it was seen to use (null until measured). */
  peak: PeakSample;
  /** How it ended, kept until the end is recorded (the store may refuse the write for a while). */
  pendingEnd?: RunOutcome;
}

export interface LedgerConfig extends PoolConfig {
  /** How long after its start a task's memory is taken as still changing (see RunningUsage.settling). */
  settleMs: number;
}

export const noPeak = (): PeakSample => ({ vramMB: null, memoryMB: null, cpu: null });
const higher = (a: number | null, b: number | null | undefined): number | null => (b == null ? a : a === null ? b : Math.max(a, b));

/**
 * What we promised and what telemetry saw. The promises: the active runs, what each reserved,
 * and what the last cycle kept for a task that waited too long. The observations: each run's
 * measured use and peaks, whether it is still settling, and the process groups to watch. From
 * both it makes the one ResourceView everything outside core reads.
 */
export class Ledger {
  private readonly runs = new Map<number, ActiveRun>();
  private kept: KeptResources | null = null;

  /** `config` is read live: a settings change applies at the next look. */
  constructor(private readonly config: Readonly<LedgerConfig>) {}

  add(run: ActiveRun): void {
    this.runs.set(run.taskId, run);
  }

  get(taskId: number): ActiveRun | undefined {
    return this.runs.get(taskId);
  }

  delete(taskId: number): void {
    this.runs.delete(taskId);
  }

  get size(): number {
    return this.runs.size;
  }

  all(): ActiveRun[] {
    return [...this.runs.values()];
  }

  /** Our tasks holding resources, each marked settling or not as of `now`. */
  running(now: number): RunningUsage[] {
    const out: RunningUsage[] = [];
    for (const r of this.runs.values()) {
      r.settling = now - r.startedAt < this.config.settleMs;
      out.push(r);
    }
    return out;
  }

  /** Folds the latest telemetry into each running task's measured use and peaks. */
  observe(node: NodeSnapshot): void {
    for (const run of this.runs.values()) {
      if (run.pgid === null) continue;
      let vram: number | null = null;
      for (const g of node.gpus) {
        for (const p of g.processes ?? []) if (p.pgid === run.pgid && p.usedMB !== null) vram = (vram ?? 0) + p.usedMB;
      }
      const group = node.groups?.get(run.pgid);
      run.measuredMemoryMB = group?.rssMB ?? null;
      run.peak = {
        vramMB: higher(run.peak.vramMB, vram),
        memoryMB: higher(run.peak.memoryMB, group?.rssMB),
        cpu: higher(run.peak.cpu, group?.cpuCores),
      };
    }
  }

  /** The process groups telemetry should report on: our spawned runs. */
  watchList(): number[] {
    return [...this.runs.values()].map((r) => r.pgid).filter((p): p is number => p !== null);
  }

  /** What the last cycle kept, and for whom (null when nothing). */
  setKept(kept: KeptResources | null): void {
    this.kept = kept;
  }

  keptFor(): number | null {
    return this.kept?.taskId ?? null;
  }

  /** The pool a scheduling cycle starts from: what is free now, before anything is kept. */
  pool(node: NodeSnapshot, now: number): Pool {
    return buildPool(node, this.running(now), this.config);
  }

  /** The one published account of the machine (see ResourceViewSchema). */
  view(node: NodeSnapshot, now: number): ResourceView {
    const pool = this.pool(node, now);
    if (this.kept) applyKept(pool, this.kept);
    return toView(pool, now);
  }
}

const atLeast0 = (n: number): number => Math.max(0, n);

function toView(p: Pool, at: number): ResourceView {
  return {
    at,
    cpu: {
      totalCores: p.cpuTotal,
      foreignCores: 0,
      oursCores: p.cpuHeld,
      keptCores: p.cpuKept,
      marginCores: 0,
      freeCores: atLeast0(p.cpuTotal - p.cpuHeld - p.cpuKept),
    },
    memory: {
      totalMB: p.memTotalMB,
      foreignMB: p.memForeignMB,
      oursMB: p.memOursMB,
      keptMB: p.memKeptMB,
      marginMB: p.memMarginMB,
      freeMB: atLeast0(p.memFreeMB),
    },
    gpus: p.gpus.map((g) => ({
      index: g.index,
      name: g.name,
      totalMB: g.totalMB,
      foreignMB: g.foreignMB,
      oursMB: g.oursMB,
      oursTasks: g.oursTasks,
      keptMB: g.keptMB,
      marginMB: g.marginMB,
      freeMB: atLeast0(g.freeMB),
      foreignTop: g.foreignTop,
      unusable: g.unusable,
    })),
    gpuStatus: p.gpuStatus,
    running: p.running,
    keptFor: p.keptFor,
  };
}
