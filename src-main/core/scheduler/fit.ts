import type { ResourceRequest } from '../../../contracts/resources.js';
import type { GpuPool, Pool } from './pool.js';
import { cores, mb, plural } from './format.js';

export type FitResult = { ok: true; gpus: number[] } | { ok: false; reasons: string[] };

function describeGpu(g: GpuPool, keptFor: number | null): string {
  const parts = [`${mb(g.foreignMB)} held by other programs`];
  if (g.foreignNames.length > 0) parts[0] += ` (${g.foreignNames.join(', ')})`;
  if (g.oursMB > 0) parts.push(`${mb(g.oursMB)} by ${plural(g.oursTasks, 'running task')}`);
  if (g.keptMB > 0) parts.push(`${mb(g.keptMB)} kept for task ${keptFor}`);
  if (g.marginMB > 0) parts.push(`${mb(g.marginMB)} safety margin`);
  return `${mb(g.freeMB)} free of ${mb(g.totalMB)}: ${parts.join(', ')}`;
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
  const reasons: string[] = [];
  const cpuFree = pool.cpuTotal - pool.cpuHeld - pool.cpuKept;
  if (request.cpu > cpuFree + 1e-9) {
    const kept = pool.cpuKept > 0 ? ` (${cores(pool.cpuKept)} kept for task ${pool.keptFor})` : '';
    reasons.push(`needs ${cores(request.cpu)}, ${cores(cpuFree)} free of ${pool.cpuTotal}${kept}`);
  }
  if (request.memoryMB > pool.memFreeMB) {
    reasons.push(
      `needs ${mb(request.memoryMB)} RAM, ${mb(pool.memFreeMB)} free of ${mb(pool.memTotalMB)}` +
        ` (${mb(pool.memForeignMB)} used by other programs, ${mb(pool.memOursMB)} held by our tasks` +
        (pool.memKeptMB > 0 ? `, ${mb(pool.memKeptMB)} kept for task ${pool.keptFor}` : '') +
        ')',
    );
  }
  let gpus: number[] = [];
  const gpu = request.gpu;
  if (gpu) {
    if (pool.gpus.length === 0) {
      const why = pool.gpuStatus.message ?? 'no NVIDIA GPU was found';
      reasons.push(`needs ${plural(gpu.count, 'GPU')} with ${mb(gpu.vramMB)} VRAM, but no GPU is visible: ${why}`);
    } else {
      const picked = pickGpus(gpu, pool.gpus);
      if (picked) gpus = picked;
      else if (gpu.count === 1) {
        const best = [...pool.gpus].sort((a, b) => b.freeMB - a.freeMB)[0]!;
        reasons.push(`needs ${mb(gpu.vramMB)} VRAM on GPU ${best.index}, ${describeGpu(best, pool.keptFor)}`);
      } else {
        const enough = pool.gpus.filter((g) => g.freeMB >= gpu.vramMB).length;
        const detail = pool.gpus.map((g) => `GPU ${g.index}: ${describeGpu(g, pool.keptFor)}`).join('; ');
        reasons.push(`needs ${gpu.count} GPUs with ${mb(gpu.vramMB)} VRAM each, ${enough} ${enough === 1 ? 'has' : 'have'} enough free (${detail})`);
      }
    }
  }
  return reasons.length === 0 ? { ok: true, gpus } : { ok: false, reasons };
}

export interface Capacity {
  cpuCores: number;
  memoryTotalMB: number;
  /** Total VRAM of each GPU seen; empty when none is seen (then GPU tasks wait rather than fail). */
  gpuTotalsMB: number[];
  vramMarginMB: number;
  memoryMarginMB: number;
}

/**
 * Whether the request could ever fit this machine, even idle. Returns what makes it impossible, or
 * null. A machine with no visible GPU is not a reason: the GPU may appear (driver reload, telemetry
 * restart), so such tasks wait instead.
 */
export function neverFits(request: ResourceRequest, cap: Capacity): string | null {
  if (request.cpu > cap.cpuCores) return `needs ${cores(request.cpu)} but this machine has ${cap.cpuCores}`;
  const mem = cap.memoryTotalMB - cap.memoryMarginMB;
  if (request.memoryMB > mem) {
    return `needs ${mb(request.memoryMB)} RAM but this machine has ${mb(cap.memoryTotalMB)} (${mb(mem)} usable after the ${mb(cap.memoryMarginMB)} margin)`;
  }
  const gpu = request.gpu;
  if (gpu && cap.gpuTotalsMB.length > 0) {
    if (gpu.count > cap.gpuTotalsMB.length) return `needs ${plural(gpu.count, 'GPU')} but this machine has ${cap.gpuTotalsMB.length}`;
    const usable = cap.gpuTotalsMB.map((t) => t - cap.vramMarginMB).sort((a, b) => b - a);
    const nth = usable[gpu.count - 1]!;
    if (gpu.vramMB > nth) {
      return `needs ${mb(gpu.vramMB)} VRAM${gpu.count > 1 ? ' on each GPU' : ''} but the largest GPU has ${mb(Math.max(...cap.gpuTotalsMB))} (${mb(usable[0]!)} usable after the ${mb(cap.vramMarginMB)} safety margin)`;
    }
  }
  return null;
}
