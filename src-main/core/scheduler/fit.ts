import type { ResourceRequest } from '../../../contracts/resources.js';
import type { GpuPool, Pool } from '../ledger/pool.js';
import type { Holding, Shortfall } from './status.js';

export type FitResult = { ok: true; gpus: number[] } | { ok: false; shortfalls: Shortfall[] };

function gpuHolders(g: GpuPool, keptFor: number | null): Holding[] {
  const held: Holding[] = [{ by: 'others', amount: g.foreignMB, top: g.foreignTop }];
  if (g.oursMB > 0) held.push({ by: 'ours', amount: g.oursMB, tasks: g.oursTasks });
  if (g.keptMB > 0 && keptFor !== null) held.push({ by: 'kept', amount: g.keptMB, taskId: keptFor });
  if (g.marginMB > 0) held.push({ by: 'margin', amount: g.marginMB });
  return held;
}

/**
 * Best fit: of the GPUs with enough free VRAM, take the ones that leave the least free, so large
 * holes stay open for large tasks.
 */
function pickGpus(request: NonNullable<ResourceRequest['gpu']>, gpus: readonly GpuPool[]): number[] | null {
  const fitting = gpus.filter((g) => g.freeMB >= request.vramMB).sort((a, b) => a.freeMB - b.freeMB || a.index - b.index);
  return fitting.length >= request.count ? fitting.slice(0, request.count).map((g) => g.index) : null;
}

/** Checks every resource and reports every shortfall, not only the first. */
export function fit(request: ResourceRequest, pool: Pool): FitResult {
  const shortfalls: Shortfall[] = [];
  const kept = (amount: number): Holding[] => (amount > 0 && pool.keptFor !== null ? [{ by: 'kept', amount, taskId: pool.keptFor }] : []);
  const cpuFree = pool.cpuTotal - pool.cpuHeld - pool.cpuKept;
  if (request.cpu > cpuFree + 1e-9) {
    shortfalls.push({
      resource: 'cpu',
      requested: request.cpu,
      free: cpuFree,
      capacity: pool.cpuTotal,
      heldBy: [{ by: 'ours', amount: pool.cpuHeld, tasks: pool.running }, ...kept(pool.cpuKept)],
    });
  }
  if (request.memoryMB > pool.memFreeMB) {
    shortfalls.push({
      resource: 'memory',
      requested: request.memoryMB,
      free: pool.memFreeMB,
      capacity: pool.memTotalMB,
      heldBy: [
        { by: 'others', amount: pool.memForeignMB },
        { by: 'ours', amount: pool.memOursMB, tasks: pool.running },
        ...kept(pool.memKeptMB),
        { by: 'margin', amount: pool.memMarginMB },
      ],
    });
  }
  let gpus: number[] = [];
  const gpu = request.gpu;
  if (gpu) {
    const usable = pool.gpus.filter((g) => g.unusable === null && g.limited === null);
    const limited = pool.gpus.filter((g) => g.unusable === null && g.limited !== null);
    if (pool.gpus.length === 0) {
      const note = `no GPU is visible: ${pool.gpuStatus.message ?? 'no NVIDIA GPU was found'}`;
      shortfalls.push({ resource: 'gpus', requested: gpu.count, free: 0, capacity: 0, heldBy: [], vramMB: gpu.vramMB, note });
    } else if (usable.length === 0 && limited.length > 0) {
      const note = limited.map((g) => g.limited).join('; ');
      shortfalls.push({ resource: 'gpus', requested: gpu.count, free: 0, capacity: pool.gpus.length, heldBy: [], vramMB: gpu.vramMB, note, limited: true });
    } else if (usable.length === 0) {
      const note = `no GPU can be used: ${pool.gpus.map((g) => `GPU ${g.index} ${g.unusable}`).join('; ')}`;
      shortfalls.push({ resource: 'gpus', requested: gpu.count, free: 0, capacity: 0, heldBy: [], vramMB: gpu.vramMB, note });
    } else {
      const picked = pickGpus(gpu, usable);
      if (picked) gpus = picked;
      else if (limited.length > 0 && pickGpus(gpu, [...usable, ...limited])) {
        // It would fit, but on a GPU over its limit.
        const note = limited.map((g) => g.limited).join('; ');
        shortfalls.push({ resource: 'gpus', requested: gpu.count, free: 0, capacity: pool.gpus.length, heldBy: [], vramMB: gpu.vramMB, note, limited: true });
      } else if (gpu.count === 1) {
        const best = [...usable].sort((a, b) => b.freeMB - a.freeMB)[0]!;
        shortfalls.push({
          resource: 'vram',
          gpu: best.index,
          requested: gpu.vramMB,
          free: best.freeMB,
          capacity: best.totalMB,
          heldBy: gpuHolders(best, pool.keptFor),
        });
      } else {
        shortfalls.push({
          resource: 'gpus',
          requested: gpu.count,
          free: usable.filter((g) => g.freeMB >= gpu.vramMB).length,
          capacity: usable.length,
          heldBy: [],
          vramMB: gpu.vramMB,
          perGpu: usable.map((g) => ({ gpu: g.index, free: g.freeMB, capacity: g.totalMB, heldBy: gpuHolders(g, pool.keptFor) })),
        });
      }
    }
  }
  return shortfalls.length === 0 ? { ok: true, gpus } : { ok: false, shortfalls };
}

export interface Capacity {
  cpuCores: number;
  memoryTotalMB: number;
  /** Total VRAM of each GPU seen; empty when none is seen (then GPU tasks wait rather than fail). */
  gpuTotalsMB: number[];
  /** Why no GPU can be seen on this machine (nvidia-smi is not there), when that is known; absent or null otherwise. */
  gpuAbsent?: string | null;
  vramMarginMB: number;
  memoryMarginMB: number;
}

/**
 * Whether the request could ever fit this machine, even idle. Returns what makes it impossible
 * (`free` is the most there could ever be free), or null. A machine with no visible GPU is not a
 * reason: the GPU may appear (driver reload, telemetry restart), so such tasks wait instead.
 */
export function neverFits(request: ResourceRequest, cap: Capacity): Shortfall | null {
  if (request.cpu > cap.cpuCores) return { resource: 'cpu', requested: request.cpu, free: cap.cpuCores, capacity: cap.cpuCores, heldBy: [] };
  const mem = cap.memoryTotalMB - cap.memoryMarginMB;
  if (request.memoryMB > mem) {
    return { resource: 'memory', requested: request.memoryMB, free: mem, capacity: cap.memoryTotalMB, heldBy: [{ by: 'margin', amount: cap.memoryMarginMB }] };
  }
  const gpu = request.gpu;
  if (gpu && cap.gpuTotalsMB.length > 0) {
    if (gpu.count > cap.gpuTotalsMB.length)
      return { resource: 'gpus', requested: gpu.count, free: cap.gpuTotalsMB.length, capacity: cap.gpuTotalsMB.length, heldBy: [] };
    const usable = cap.gpuTotalsMB.map((t) => t - cap.vramMarginMB).sort((a, b) => b - a);
    if (gpu.vramMB > usable[gpu.count - 1]!) {
      return {
        resource: 'vram',
        requested: gpu.vramMB,
        count: gpu.count,
        free: usable[0]!,
        capacity: Math.max(...cap.gpuTotalsMB),
        heldBy: [{ by: 'margin', amount: cap.vramMarginMB }],
      };
    }
  }
  return null;
}
