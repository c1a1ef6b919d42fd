import type { TelemetrySample } from '../../../contracts/telemetry.js';
import type { NodeSnapshot } from '../../core/model/node.js';
import type { Pool } from '../../core/scheduler/pool.js';

/** One history point from what telemetry saw and how the scheduler splits it (ours / others / free). */
export function toSample(node: NodeSnapshot, pool: Pool, loadPct: number | null, at: number): TelemetrySample {
  return {
    at,
    cpuLoadPct: loadPct,
    memoryUsedMB: node.memoryTotalMB - node.memoryAvailableMB,
    memoryTotalMB: node.memoryTotalMB,
    gpus: node.gpus.map((g) => {
      const p = pool.gpus.find((x) => x.index === g.index);
      const ours = p?.oursMB ?? 0;
      const foreign = p?.foreignMB ?? g.usedMB;
      return {
        index: g.index,
        utilizationPct: g.utilizationPct,
        totalMB: g.totalMB,
        oursMB: ours,
        foreignMB: foreign,
        freeMB: Math.max(0, g.totalMB - ours - foreign),
        temperatureC: g.temperatureC,
        powerW: g.powerW,
      };
    }),
  };
}
