import { sameModel, type ResidentKind } from '../../../contracts/residents.js';
import type { Holder, ResourceRequest } from '../../../contracts/resources.js';
import type { NodeSnapshot, RunningUsage } from '../model/node.js';
import { usageRate } from '../projects/projects.js';

export interface PoolConfig {
  /** VRAM kept free on every GPU for the desktop and for allocator slack. */
  vramMarginMB: number;
  /** RAM kept free for the system. */
  memoryMarginMB: number;
}

export interface GpuPool {
  index: number;
  name: string;
  totalMB: number;
  /** Used by processes that are not ours (or not known to be ours: conservative). */
  foreignMB: number;
  /** For each of our tasks, the larger of its reservation and its measured use. */
  oursMB: number;
  oursTasks: number;
  /** Kept free for a task that has waited too long (see reservation.ts); 0 when none. */
  keptMB: number;
  marginMB: number;
  freeMB: number;
  /** The largest foreign processes, largest first (at most three), for explanations. */
  foreignTop: Holder[];
  /** Its memory reads [N/A], or it is lost: nothing is scheduled on it. */
  unusable: string | null;
  /** Over one of its limits ("GPU 0 at 97 % utilisation, limit 90 %"): no new GPU task starts on it. */
  limited: string | null;
}

/** What the ledger adds to a snapshot: readings reconciled over a window (readings.ts), and the GPUs over a limit (gpu-limits.ts). */
export interface Observed {
  /** What other programs hold, reconciled over the window, less what is served (below) sample by sample. */
  foreignMB?: ReadonlyMap<number, number>;
  /** Of what other programs hold, what resident servers hold for our tasks that drive them: counted as those tasks' (see Ledger.served). */
  servedMB?: ReadonlyMap<number, number>;
  /** What each resident server holds on each GPU beyond that: usable by a queued task that drives it (its model may be loaded). */
  residentSpare?: ReadonlyMap<ResidentKind, ResidentSpare>;
  limited?: ReadonlyMap<number, string>;
  /** Who holds a GPU process's memory, by pid, where it is known (a resident: "Ollama: llama3.1:8b", "idle 3 min, can be freed"). */
  holders?: ReadonlyMap<number, { name: string; note: string }>;
}

/**
 * What is free now, after what other programs use and what our tasks hold. Mutated by `reserve`
 * while one scheduling cycle places tasks, so later tasks in the cycle see earlier placements.
 *
 * Invariant: for every GPU, foreignMB + oursMB + keptMB + marginMB + freeMB = totalMB (freeMB may
 * go negative when other programs grow past what is left; then nothing more is admitted there).
 * RAM the same way; CPU: cpuHeld + cpuKept + free = cpuTotal.
 */
export interface Pool {
  cpuTotal: number;
  cpuHeld: number;
  cpuKept: number;
  memTotalMB: number;
  memForeignMB: number;
  memOursMB: number;
  memKeptMB: number;
  memMarginMB: number;
  memFreeMB: number;
  gpus: GpuPool[];
  gpuStatus: NodeSnapshot['gpuStatus'];
  running: number;
  perAgent: Map<string, number>;
  /** Running tasks of each throttled array. */
  perArray: Map<number, number>;
  /** Each project's running tasks, the VRAM they hold (MB), and their usage rate (see projects.ts). */
  perProject: Map<string, ProjectUse>;
  /** The task resources are kept for in this cycle, if any. */
  keptFor: number | null;
}

export interface ProjectUse {
  running: number;
  vramMB: number;
  rate: number;
}

function addUse(pool: Map<string, ProjectUse>, project: string, vramMB: number, rate: number): void {
  const u = pool.get(project);
  if (u) {
    u.running += 1;
    u.vramMB += vramMB;
    u.rate += rate;
  } else pool.set(project, { running: 1, vramMB, rate });
}

/** What a cycle kept for the task that waited too long (see reservation.ts). */
export interface KeptResources {
  taskId: number;
  cpu: number;
  memoryMB: number;
  gpus: { index: number; mb: number }[];
}

/**
 * The pool for this moment: only the ledger (for the view it publishes) and the scheduling cycle
 * build one; everything outside core reads the ResourceView instead (the lint enforces it).
 */
export function buildPool(node: NodeSnapshot, running: readonly RunningUsage[], cfg: PoolConfig, observed: Observed = {}): Pool {
  const perAgent = new Map<string, number>();
  const perArray = new Map<number, number>();
  const perProject = new Map<string, ProjectUse>();
  let cpuHeld = 0;
  let memMeasured = 0;
  let memOurs = 0;
  for (const t of running) {
    perAgent.set(t.agent, (perAgent.get(t.agent) ?? 0) + 1);
    if (t.array != null) perArray.set(t.array, (perArray.get(t.array) ?? 0) + 1);
    addUse(perProject, t.project ?? 'default', t.request.gpu ? t.request.gpu.vramMB * t.request.gpu.count : 0, usageRate(t.request));
    cpuHeld += t.request.cpu;
    const measured = t.measuredMemoryMB ?? 0;
    memMeasured += measured;
    memOurs += Math.max(t.request.memoryMB, measured);
  }
  // Whatever the OS says is in use and we cannot attribute to our tasks belongs to others.
  const memForeign = Math.max(0, node.memoryTotalMB - node.memoryAvailableMB - memMeasured);
  const memFree = node.memoryTotalMB - memForeign - memOurs - cfg.memoryMarginMB;

  const gpus = node.gpus.map((g): GpuPool => {
    const byGroup = new Map<number, number>();
    const foreignProcs: Holder[] = [];
    const ourGroups = new Set(running.map((t) => t.pgid).filter((p): p is number => p !== null));
    for (const p of g.processes ?? []) {
      const mb = p.usedMB ?? 0;
      if (p.pgid != null && ourGroups.has(p.pgid)) byGroup.set(p.pgid, (byGroup.get(p.pgid) ?? 0) + mb);
      else {
        const named = observed.holders?.get(p.pid);
        const same = named ? foreignProcs.find((h) => h.name === named.name) : undefined;
        if (same) same.mb += mb;
        else foreignProcs.push(named ? { name: named.name, mb, note: named.note } : { name: p.name, mb });
      }
    }
    let measuredOurs = 0;
    let held = 0;
    let tasks = 0;
    for (const t of running) {
      const reserved = t.request.gpu && t.gpus.includes(g.index) ? t.request.gpu.vramMB : 0;
      const measured = t.pgid !== null ? (byGroup.get(t.pgid) ?? 0) : 0;
      if (reserved === 0 && measured === 0) continue;
      tasks += 1;
      measuredOurs += measured;
      held += Math.max(reserved, measured);
    }
    // What other programs hold comes reconciled over a window of readings where the ledger has
    // one (see readings.ts), else from this snapshot alone. Without per-process readings all is
    // foreign and ours too: double counting against us, never in our favour. And what other
    // programs are listed as using is foreign whatever the GPU-wide reading says.
    const listedForeign = foreignProcs.reduce((sum, p) => sum + p.mb, 0);
    // What resident servers hold for our tasks is theirs: the reconciled estimate has it taken off already.
    const served = observed.servedMB?.get(g.index) ?? 0;
    const foreign = Math.max(0, observed.foreignMB?.get(g.index) ?? g.usedMB - measuredOurs - served, listedForeign - served);
    foreignProcs.sort((a, b) => b.mb - a.mb);
    return {
      index: g.index,
      name: g.name,
      totalMB: g.totalMB,
      foreignMB: foreign,
      oursMB: held,
      oursTasks: tasks,
      keptMB: 0,
      marginMB: cfg.vramMarginMB,
      freeMB: g.totalMB - foreign - held - cfg.vramMarginMB,
      foreignTop: foreignProcs.slice(0, 3),
      unusable: g.memoryUnknown ? 'does not report its memory ([N/A])' : g.lost ? 'is lost (nvidia-smi says so)' : null,
      limited: observed.limited?.get(g.index) ?? null,
    };
  });

  return {
    cpuTotal: node.cpuCores,
    cpuHeld,
    cpuKept: 0,
    memTotalMB: node.memoryTotalMB,
    memForeignMB: memForeign,
    memOursMB: memOurs,
    memKeptMB: 0,
    memMarginMB: cfg.memoryMarginMB,
    memFreeMB: memFree,
    gpus,
    gpuStatus: node.gpuStatus,
    running: running.length,
    perAgent,
    perArray,
    perProject,
    keptFor: null,
  };
}

/** Records a placement in the pool. */
export function reserve(pool: Pool, agent: string, request: ResourceRequest, gpus: readonly number[], array: number | null = null, project = 'default'): void {
  if (array !== null) pool.perArray.set(array, (pool.perArray.get(array) ?? 0) + 1);
  addUse(pool.perProject, project, request.gpu ? request.gpu.vramMB * request.gpu.count : 0, usageRate(request));
  pool.cpuHeld += request.cpu;
  pool.memOursMB += request.memoryMB;
  pool.memFreeMB -= request.memoryMB;
  pool.running += 1;
  pool.perAgent.set(agent, (pool.perAgent.get(agent) ?? 0) + 1);
  if (!request.gpu) return;
  for (const index of gpus) {
    const g = pool.gpus.find((x) => x.index === index);
    if (!g) continue;
    g.oursMB += request.gpu.vramMB;
    g.oursTasks += 1;
    g.freeMB -= request.gpu.vramMB;
  }
}

/**
 * Applies what an earlier cycle kept, capped at what is free now: the view between cycles shows
 * the same reservation the scheduler honours.
 */
export function applyKept(pool: Pool, kept: KeptResources): void {
  const cpu = Math.min(Math.max(0, pool.cpuTotal - pool.cpuHeld), kept.cpu);
  pool.cpuKept += cpu;
  const mem = Math.min(Math.max(0, pool.memFreeMB), kept.memoryMB);
  pool.memKeptMB += mem;
  pool.memFreeMB -= mem;
  for (const k of kept.gpus) {
    const g = pool.gpus.find((x) => x.index === k.index);
    if (!g) continue;
    const mb = Math.min(Math.max(0, g.freeMB), k.mb);
    g.keptMB += mb;
    g.freeMB -= mb;
  }
  pool.keptFor = kept.taskId;
}

/** A model a resident server has loaded, and what it holds (MB; null where the server does not say). */
export interface ResidentModel {
  name: string;
  vramMB: number | null;
}

/** What a resident holds on each GPU beyond what our running tasks are credited with, and its loaded models. */
export interface ResidentSpare {
  byGpu: ReadonlyMap<number, number>;
  models: readonly ResidentModel[];
}

/**
 * What of a resident's spare memory is the named model's, on each GPU: all of it when that is
 * the one model loaded, else its share by what each model holds; null when the model is not
 * loaded or its share cannot be told (then the task's model would be loaded beside the others).
 */
export function modelSpare(spare: ResidentSpare, model: string): Map<number, number> | null {
  const loaded = spare.models.find((m) => sameModel(m.name, model));
  if (!loaded) return null;
  if (spare.models.length === 1) return new Map(spare.byGpu);
  const sum = spare.models.reduce((a, m) => a + (m.vramMB ?? NaN), 0);
  if (!(sum > 0) || !loaded.vramMB) return null;
  return new Map([...spare.byGpu].map(([g, mb]) => [g, (mb * loaded.vramMB!) / sum]));
}

/**
 * The pool as a queued task that drives a resident server sees it: of what that server holds
 * beyond what our running tasks are credited with, up to the task's own VRAM request, is the
 * task's to use (the model it names may be what is loaded), not another program's.
 */
export function withResidentSpare(pool: Pool, spare: ReadonlyMap<number, number>, request: ResourceRequest): Pool {
  const want = request.gpu?.vramMB ?? 0;
  if (want <= 0) return pool;
  return {
    ...pool,
    gpus: pool.gpus.map((g) => {
      const give = Math.min(spare.get(g.index) ?? 0, want, g.foreignMB);
      return give > 0 ? { ...g, foreignMB: g.foreignMB - give, freeMB: g.freeMB + give } : g;
    }),
  };
}
