import type { ResourceView } from '../../../contracts/resources.js';
import type { RunOutcome } from '../lifecycle/attempt-end.js';
import type { NodeSnapshot, RunningUsage } from '../model/node.js';
import type { PeakSample } from '../model/profile.js';
import type { ResidentKind } from '../../../contracts/residents.js';
import type { RunHandle } from '../ports.js';
import { GpuLimiter, limitsFor, type GpuLimits } from './gpu-limits.js';
import { Readings } from './readings.js';
import { applyKept, buildPool, type KeptResources, type Observed, type Pool, type PoolConfig, type ResidentModel, type ResidentSpare } from './pool.js';

/** A task that holds resources: being started, or running. */
export interface ActiveRun extends RunningUsage {
  attempt: number;
  handle: RunHandle | null;
  startedAt: number;
  /** The most it was seen to use (null until measured). */
  peak: PeakSample;
  /** How it ended, kept until the end is recorded (the store may refuse the write for a while). */
  pendingEnd?: RunOutcome;
  /** It runs on the Slurm cluster: it holds nothing of this machine's. */
  remote?: boolean;
}

export interface LedgerConfig extends PoolConfig {
  /**
   * The window over which the GPU-wide and per-process readings are reconciled (see
   * Readings): at least the most the two nvidia-smi loops can be apart. 0 trusts each snapshot
   * as one consistent sample.
   */
  readingWindowMs: number;
  /** Limits past which no new GPU task starts on a GPU (see gpu-limits.ts): every GPU's, and one GPU's over them. */
  gpuLimits?: { all: GpuLimits; perGpu: Record<string, GpuLimits> };
}

export const noPeak = (): PeakSample => ({ vramMB: null, memoryMB: null, cpu: null });
const higher = (a: number | null, b: number | null | undefined): number | null => (b == null ? a : a === null ? b : Math.max(a, b));

/**
 * What we promised and what telemetry saw. The promises: the active runs, what each reserved,
 * and what the last cycle kept for a task that waited too long. The observations: each run's
 * measured use and peaks, what other programs hold (reconciled over a short window of readings),
 * and the process groups to watch. From
 * both it makes the one ResourceView everything outside core reads.
 */
export class Ledger {
  private readonly runs = new Map<number, ActiveRun>();
  /** Runs on the Slurm cluster: watched and ended like the others, but holding none of this machine's resources. */
  private readonly remote = new Map<number, ActiveRun>();
  private kept: KeptResources | null = null;
  private readonly readings: Readings;
  private readonly limiter: GpuLimiter;
  private holderNames: ReadonlyMap<number, { name: string; note: string }> = new Map();
  private residentPids = new Map<ResidentKind, ReadonlySet<number>>();
  private residentModels = new Map<ResidentKind, readonly ResidentModel[]>();

  /** `config` is read live: a settings change applies at the next look. */
  constructor(private readonly config: Readonly<LedgerConfig>) {
    this.readings = new Readings(() => this.config.readingWindowMs);
    this.limiter = new GpuLimiter((gpu) => (this.config.gpuLimits ? limitsFor(this.config.gpuLimits.all, this.config.gpuLimits.perGpu, gpu) : {}));
  }

  add(run: ActiveRun): void {
    if (run.remote) {
      this.remote.set(run.taskId, run);
      return;
    }
    this.runs.set(run.taskId, run);
    this.readings.added(run.taskId);
  }

  get(taskId: number): ActiveRun | undefined {
    return this.runs.get(taskId) ?? this.remote.get(taskId);
  }

  delete(taskId: number): void {
    if (this.remote.delete(taskId)) return;
    this.runs.delete(taskId);
    this.readings.deleted(taskId);
  }

  /** Every active run, local and remote. */
  get size(): number {
    return this.runs.size + this.remote.size;
  }

  all(): ActiveRun[] {
    return [...this.runs.values(), ...this.remote.values()];
  }

  /** The runs on the Slurm cluster. */
  remoteRuns(): ActiveRun[] {
    return [...this.remote.values()];
  }

  /** Our tasks holding resources. */
  running(): RunningUsage[] {
    return [...this.runs.values()];
  }

  /**
   * What other programs hold on each GPU, reconciled over the reading window as of `now` (see
   * Readings); a GPU missing from the map has no sample yet.
   */
  foreign(now: number): Map<number, number> {
    return this.readings.foreign(now, this.reservedByResident());
  }

  /** Per GPU, per resident server: what the running tasks that drive it reserve there. */
  private reservedByResident(): Map<number, Map<string, number>> {
    const out = new Map<number, Map<string, number>>();
    for (const r of this.runs.values()) {
      if (!r.drives || !r.request.gpu) continue;
      for (const g of r.gpus) {
        const byKind = out.get(g) ?? new Map<string, number>();
        byKind.set(r.drives, (byKind.get(r.drives) ?? 0) + r.request.gpu.vramMB);
        out.set(g, byKind);
      }
    }
    return out;
  }

  /** Who holds foreign GPU processes' memory, by pid (residents), for the explanations. */
  setHolders(holders: ReadonlyMap<number, { name: string; note: string }>): void {
    this.holderNames = holders;
  }

  holders(): ReadonlyMap<number, { name: string; note: string }> {
    return this.holderNames;
  }

  /** Each resident server's processes, for the tasks that drive one (see served()). */
  setResidents(residents: readonly { kind: ResidentKind; pids: readonly number[]; models: readonly ResidentModel[] }[]): void {
    this.residentPids = new Map(residents.map((r) => [r.kind, new Set(r.pids)]));
    this.residentModels = new Map(residents.map((r) => [r.kind, r.models]));
  }

  /** What a resident's processes hold on each GPU in this snapshot, as nvidia-smi lists them. */
  private residentHeld(node: NodeSnapshot, kind: ResidentKind): Map<number, number> {
    const out = new Map<number, number>();
    const pids = this.residentPids.get(kind);
    if (!pids || pids.size === 0) return out;
    for (const g of node.gpus) for (const p of g.processes ?? []) if (pids.has(p.pid)) out.set(g.index, (out.get(g.index) ?? 0) + (p.usedMB ?? 0));
    return out;
  }

  /**
   * On each GPU, what resident servers hold for our tasks that drive them: what nvidia-smi lists
   * the server's processes with, up to what those tasks reserved there, counts as theirs and not
   * as another program's (`servedMB`). Never more than either, so what is counted never falls
   * below what is really held. What each holds beyond that (`spare`) is there for a queued task
   * that drives it: its model may already be loaded.
   */
  private served(node: NodeSnapshot): { servedMB: Map<number, number>; spare: Map<ResidentKind, ResidentSpare> } {
    const servedMB = new Map<number, number>();
    const spare = new Map<ResidentKind, ResidentSpare>();
    for (const kind of this.residentPids.keys()) {
      const left = new Map<number, number>();
      for (const [g, mb] of this.residentHeld(node, kind)) {
        let reserved = 0;
        for (const r of this.runs.values()) if (r.drives === kind && r.request.gpu && r.gpus.includes(g)) reserved += r.request.gpu.vramMB;
        const credit = Math.min(mb, reserved);
        if (credit > 0) servedMB.set(g, (servedMB.get(g) ?? 0) + credit);
        if (mb - credit > 0) left.set(g, mb - credit);
      }
      // Its loaded models too where nothing is left over: the order prefers tasks for them (cycle.ts).
      const models = this.residentModels.get(kind) ?? [];
      if (left.size > 0 || models.length > 0) spare.set(kind, { byGpu: left, models });
    }
    return { servedMB, spare };
  }

  /** What a scheduling cycle (and the account) reads of the ledger's observations besides the snapshot (see Observed). */
  observed(node: NodeSnapshot, now: number): Observed {
    const { servedMB, spare } = this.served(node);
    return { foreignMB: this.foreign(now), servedMB, residentSpare: spare, limited: this.limited(), holders: this.holderNames };
  }

  /** Why each GPU over one of its limits takes no new GPU task; absent: none. */
  limited(): Map<number, string> {
    return this.limiter.limited();
  }

  /** Folds telemetry taken at `now` into each running task's measured use and peaks, and into the reconciled readings. */
  observe(node: NodeSnapshot, now: number): void {
    const residents = new Map<number, Map<string, number>>();
    for (const kind of this.residentPids.keys())
      for (const [g, mb] of this.residentHeld(node, kind)) {
        const byKind = residents.get(g) ?? new Map<string, number>();
        byKind.set(kind, mb);
        residents.set(g, byKind);
      }
    this.readings.observe(node, this.runs.values(), now, residents);
    this.limiter.observe(node, now);
    for (const run of this.runs.values()) {
      if (run.pgid === null) continue;
      let vram: number | null = null;
      for (const g of node.gpus) {
        for (const p of g.processes ?? []) if (p.pgid === run.pgid && p.usedMB !== null) vram = (vram ?? 0) + p.usedMB;
      }
      // A task that drives a resident server uses that server's memory, not its own.
      if (run.drives) for (const mb of this.residentHeld(node, run.drives).values()) vram = (vram ?? 0) + mb;
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
    return buildPool(node, this.running(), this.config, this.observed(node, now));
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
      limited: g.limited,
    })),
    gpuStatus: p.gpuStatus,
    running: p.running,
    keptFor: p.keptFor,
  };
}
