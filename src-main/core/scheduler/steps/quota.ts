import { OK, waitAt, type Shortfall } from '../status.js';
import type { Filter } from './types.js';

/**
 * A project's quotas: at most `maxRunning` of its tasks at once, and at most `maxVramMB` of VRAM
 * reserved by them at once. A quota lowered below what runs stops nothing: it holds new starts.
 */
export const projectQuota: Filter = {
  name: 'project-quota',
  check: (b, { input, pool }) => {
    const limits = input.projects?.(b.project);
    if (!limits || (limits.maxRunning === null && limits.maxVramMB === null)) return OK;
    const use = pool.perProject.get(b.project) ?? { running: 0, vramMB: 0, rate: 0 };
    const short: Shortfall[] = [];
    if (limits.maxRunning !== null && use.running >= limits.maxRunning) {
      short.push({
        resource: 'project-tasks',
        project: b.project,
        requested: 1,
        free: 0,
        capacity: limits.maxRunning,
        heldBy: [{ by: 'ours', amount: use.running, tasks: use.running }],
      });
    }
    const need = b.request.gpu ? b.request.gpu.vramMB * b.request.gpu.count : 0;
    if (limits.maxVramMB !== null && need > 0 && use.vramMB + need > limits.maxVramMB) {
      short.push({
        resource: 'project-vram',
        project: b.project,
        requested: need,
        free: Math.max(0, limits.maxVramMB - use.vramMB),
        capacity: limits.maxVramMB,
        heldBy: [{ by: 'ours', amount: use.vramMB, tasks: use.running }],
      });
    }
    return short.length > 0 ? waitAt('project-quota', short) : OK;
  },
};
