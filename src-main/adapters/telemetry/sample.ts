import type { ResourceView } from '../../../contracts/resources.js';
import type { TelemetrySample } from '../../../contracts/telemetry.js';
import type { NodeSnapshot } from '../../core/model/node.js';

/** One history point from what telemetry saw and the ledger's account of it (ours / others / free). */
export function toSample(node: NodeSnapshot, view: ResourceView, loadPct: number | null, at: number): TelemetrySample {
  // Our tasks' process groups, as the last host sample measured them.
  const groups = [...(node.groups?.values() ?? [])];
  const cores = groups.reduce((n, g) => n + (g.cpuCores ?? 0), 0);
  return {
    at,
    cpuLoadPct: loadPct,
    memoryUsedMB: node.memoryTotalMB - node.memoryAvailableMB,
    memoryTotalMB: node.memoryTotalMB,
    oursCpuPct: node.cpuCores > 0 ? Math.min(100, Math.round((cores / node.cpuCores) * 1000) / 10) : null,
    oursMemoryMB: Math.round(groups.reduce((n, g) => n + g.rssMB, 0)),
    gpus: node.gpus.map((g) => {
      const v = view.gpus.find((x) => x.index === g.index);
      return {
        index: g.index,
        utilizationPct: g.utilizationPct,
        totalMB: g.totalMB,
        oursMB: v?.oursMB ?? 0,
        foreignMB: v?.foreignMB ?? g.usedMB,
        // The ledger's one meaning of free: after other programs, ours, what is kept, and the margin.
        freeMB: v?.freeMB ?? Math.max(0, g.totalMB - g.usedMB),
        temperatureC: g.temperatureC,
        powerW: g.powerW,
      };
    }),
  };
}
