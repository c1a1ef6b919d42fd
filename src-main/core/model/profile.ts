import type { ResourceRequest } from '../../../contracts/resources.js';
import type { AgentCatalog, TaskStore } from '../ports.js';

/** What one attempt really used at its peak (null where it was not measured). */
export interface PeakSample {
  vramMB: number | null;
  memoryMB: number | null;
  cpu: number | null;
}

export interface LearnedProfile {
  /** How many attempts it was learned from. */
  samples: number;
  /** The 95th percentile of those peaks. */
  p95: PeakSample;
  /** What a new task of this agent asks for. */
  request: ResourceRequest;
}

export const PROFILE = {
  minSamples: 3,
  window: 20,
  /** Headroom on top of the 95th percentile: a fraction, plus a fixed amount. */
  memory: { factor: 1.15, plusMB: 32 },
  /**
   * At most 512 MB of the fraction: 15 % of a 6.2 GB model is 930 MB, and with it an 8 GB card
   * beside a desktop would never have room for a model it has run many times (found by the day
   * trace, bench/trace.mjs).
   */
  vram: { factor: 1.15, plusMB: 128, maxExtraMB: 512 },
  cpu: { factor: 1.1, min: 0.1 },
} as const;

/** Nearest-rank percentile; null for no values. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const known = (xs: readonly (number | null)[]): number[] => xs.filter((x): x is number => x !== null && Number.isFinite(x));

/**
 * An agent's request learned from what its recent successful attempts really used: the 95th
 * percentile of their peaks plus headroom, per resource that was measured often enough; the
 * declared figure stays for the rest. VRAM is learned only for an agent that declares a GPU (an
 * agent without one is not given any). Null until there are enough samples.
 */
export function learnProfile(declared: ResourceRequest, samples: readonly PeakSample[]): LearnedProfile | null {
  const mem = known(samples.map((s) => s.memoryMB));
  if (mem.length < PROFILE.minSamples) return null;
  const vram = known(samples.map((s) => s.vramMB));
  const cpu = known(samples.map((s) => s.cpu));
  const p95: PeakSample = { memoryMB: percentile(mem, 95), vramMB: percentile(vram, 95), cpu: percentile(cpu, 95) };
  const request: ResourceRequest = {
    cpu: cpu.length >= PROFILE.minSamples ? Math.max(PROFILE.cpu.min, Math.ceil(p95.cpu! * PROFILE.cpu.factor * 10) / 10) : declared.cpu,
    memoryMB: Math.ceil(p95.memoryMB! * PROFILE.memory.factor + PROFILE.memory.plusMB),
  };
  if (declared.gpu) {
    request.gpu = {
      count: declared.gpu.count,
      vramMB:
        vram.length >= PROFILE.minSamples
          ? Math.ceil(p95.vramMB! + Math.min(p95.vramMB! * (PROFILE.vram.factor - 1), PROFILE.vram.maxExtraMB) + PROFILE.vram.plusMB)
          : declared.gpu.vramMB,
    };
  }
  return { samples: samples.length, p95, request };
}

/**
 * Each agent's learned profile, worked out once from its recent successful attempts and kept
 * until another attempt of it succeeds.
 */
export class ProfileCache {
  /** By agent, then by where it was measured ('' for this machine). */
  private readonly cache = new Map<string, Map<string, LearnedProfile | null>>();

  constructor(
    private readonly agents: Pick<AgentCatalog, 'get'>,
    private readonly store: Pick<TaskStore, 'recentPeaks'>,
  ) {}

  /**
   * Learned from the attempts measured at `where`: null for this machine (what its scheduler
   * sizes tasks by), "slurm" for the cluster (a cluster's GPUs and batch sizes say nothing of what
   * fits here, so each place learns apart).
   */
  get(agent: string, where: string | null = null): LearnedProfile | null {
    let byPlace = this.cache.get(agent);
    if (!byPlace) this.cache.set(agent, (byPlace = new Map()));
    const key = where ?? '';
    if (!byPlace.has(key)) {
      const spec = this.agents.get(agent);
      byPlace.set(key, spec ? learnProfile(spec.resources, this.store.recentPeaks(agent, PROFILE.window, where)) : null);
    }
    return byPlace.get(key) ?? null;
  }

  forget(agent: string): void {
    this.cache.delete(agent);
  }
}
