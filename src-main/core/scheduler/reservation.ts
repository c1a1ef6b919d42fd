import type { ResourceRequest } from '../../../contracts/resources.js';
import { applyKept, type GpuPool, type KeptResources, type Pool } from '../ledger/pool.js';

/**
 * Backfill lets a small task start ahead of a big one that does not fit. Under a steady stream
 * of small tasks the big one might never start: whenever one of ours ends, a small one takes
 * what it freed. So once a task has waited `reserveAfterMs`, the cycle keeps for it what is free
 * now, up to what it needs, and later tasks in queue order may only use the rest. As our running
 * tasks end, what they free stays with it until it fits (Slurm's backfill reservation, without
 * run-time estimates).
 *
 * Resources are kept only when our own tasks stand in its way: if other programs hold so much
 * that it would not fit even with none of ours running (a game using the GPU), keeping VRAM for
 * it would idle the machine for nothing, and backfill goes on.
 */
export function keepFor(taskId: number, request: ResourceRequest, pool: Pool): KeptResources | null {
  if (!fitsWithoutOurs(request, pool)) return null;
  const gpus = request.gpu ? keptGpus(request.gpu, pool.gpus) : [];
  if (request.gpu && !gpus) return null;
  const kept: KeptResources = {
    taskId,
    cpu: request.cpu,
    memoryMB: request.memoryMB,
    gpus: (gpus ?? []).map((g) => ({ index: g.index, mb: request.gpu!.vramMB })),
  };
  applyKept(pool, kept);
  return kept;
}

/** The pool as it would be without what is kept: what the task it is kept for sees as free. */
export function withoutKept(pool: Pool): Pool {
  return {
    ...pool,
    cpuKept: 0,
    memKeptMB: 0,
    memFreeMB: pool.memFreeMB + pool.memKeptMB,
    gpus: pool.gpus.map((g) => ({ ...g, keptMB: 0, freeMB: g.freeMB + g.keptMB })),
    keptFor: null,
  };
}

/** Room for it once every task of ours has ended: what other programs and the margins leave. */
function roomWithoutOurs(g: GpuPool): number {
  return g.totalMB - g.foreignMB - g.marginMB;
}

function fitsWithoutOurs(request: ResourceRequest, pool: Pool): boolean {
  return request.memoryMB <= pool.memTotalMB - pool.memForeignMB - pool.memMarginMB && request.cpu <= pool.cpuTotal;
}

/** The GPUs it will get: of those where it fits once ours end, the ones with most free now. */
function keptGpus(gpu: NonNullable<ResourceRequest['gpu']>, gpus: readonly GpuPool[]): GpuPool[] | null {
  const able = gpus.filter((g) => roomWithoutOurs(g) >= gpu.vramMB).sort((a, b) => b.freeMB - a.freeMB || a.index - b.index);
  return able.length >= gpu.count ? able.slice(0, gpu.count) : null;
}
