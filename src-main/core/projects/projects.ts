import { DEFAULT_PROJECT_SETTINGS, type ProjectPatch, type ProjectSettings } from '../../../contracts/project.js';
import type { ResourceRequest } from '../../../contracts/resources.js';
import { ManagerError } from '../errors.js';

/** A project as stored: its settings and its usage, decayed as of `usageAt`. */
export interface ProjectRecord extends ProjectSettings {
  name: string;
  usage: number;
  usageAt: number;
}

/**
 * What a task is charged per second it runs, weighted by what is scarce on a one-GPU workstation:
 * each GB of VRAM it holds counts 1, each GPU 2, each CPU core 0.25. A 6 GB model on the GPU costs
 * 8 a second; a 4-core CPU task, 1.
 */
export const USAGE_WEIGHTS = { vramGB: 1, gpu: 2, cpuCore: 0.25 } as const;

export function usageRate(r: ResourceRequest): number {
  const gpu = r.gpu ? r.gpu.count * (USAGE_WEIGHTS.gpu + (USAGE_WEIGHTS.vramGB * r.gpu.vramMB) / 1024) : 0;
  return gpu + USAGE_WEIGHTS.cpuCore * r.cpu;
}

/**
 * In fair share, a project's running tasks count as what they will use over this long, so one
 * cycle does not give every free slot to the project that was furthest below its share.
 */
export const RUNNING_HORIZON_SEC = 600;

export const DEFAULT_HALF_LIFE_MS = 3_600_000;

/** What the scheduler reads of a project: its weight, quotas and usage now. */
export interface ProjectLimits {
  weight: number;
  maxRunning: number | null;
  maxVramMB: number | null;
  usage: number;
}

export interface ProjectsDeps {
  load(): ProjectRecord[];
  save(p: ProjectRecord): void;
  /** Usage is written at most this often (and at stop). */
  saveEveryMs?: number;
}

/**
 * The projects: weights and quotas (kept in the store), and each one's usage in resource-seconds
 * (see usageRate) with exponential decay: half of it is forgotten every half-life (Slurm's
 * PriorityDecayHalfLife).
 */
export class Projects {
  private readonly byName = new Map<string, ProjectRecord>();
  private accruedAt: number | null = null;
  private savedAt = 0;

  constructor(
    private readonly deps: ProjectsDeps,
    private readonly halfLifeMs: () => number,
  ) {
    for (const p of deps.load()) this.byName.set(p.name, { ...p });
  }

  /** Its record; a project never set has the defaults and no usage. */
  get(name: string): ProjectRecord {
    return this.byName.get(name) ?? { name, ...DEFAULT_PROJECT_SETTINGS, usage: 0, usageAt: 0 };
  }

  known(name: string): boolean {
    return this.byName.has(name);
  }

  all(): ProjectRecord[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Sets a project's weight and quotas (creating it). Lowering a quota stops nothing: it only holds new starts. */
  set(name: string, patch: ProjectPatch, now: number): ProjectRecord {
    if (patch.weight !== undefined && !(patch.weight > 0)) throw new ManagerError('INVALID_INPUT', `weight must be more than 0 (got ${patch.weight})`);
    for (const k of ['maxRunning', 'maxVramMB', 'maxQueued'] as const) {
      const v = patch[k];
      if (v !== undefined && v !== null && !(Number.isInteger(v) && v >= 0))
        throw new ManagerError('INVALID_INPUT', `${k} must be a whole number, 0 or more (got ${v})`);
    }
    const cur = this.get(name);
    const next: ProjectRecord = { ...cur, ...patch, name, usageAt: cur.usageAt || now };
    this.deps.save(next);
    this.byName.set(name, next);
    return next;
  }

  /** Makes sure a project exists (a task was submitted to it), with the defaults. */
  ensure(name: string, now: number): void {
    if (!this.byName.has(name)) this.set(name, {}, now);
  }

  /** Its usage as of `now`, decayed. */
  usage(name: string, now: number): number {
    const p = this.byName.get(name);
    if (!p) return 0;
    return p.usage * decay(now - p.usageAt, this.halfLifeMs());
  }

  /**
   * Charges each running task's project for the time since the last call (each at its usage
   * rate), decaying what was there; writes the usage now and then.
   */
  accrue(running: Iterable<{ project?: string; request: ResourceRequest }>, now: number): void {
    const from = this.accruedAt ?? now;
    this.accruedAt = now;
    const dtMs = Math.max(0, now - from);
    const h = this.halfLifeMs();
    const rate = new Map<string, number>();
    for (const r of running) {
      const name = r.project ?? 'default';
      rate.set(name, (rate.get(name) ?? 0) + usageRate(r.request));
    }
    // The integral of a constant rate under decay over dt: rate · h/ln2 · (1 − 2^(−dt/h)).
    const gained = (perSec: number) => (h > 0 ? ((perSec * h) / 1000 / Math.LN2) * (1 - decay(dtMs, h)) : (perSec * dtMs) / 1000);
    for (const name of rate.keys()) {
      if (!this.byName.has(name)) this.byName.set(name, { name, ...DEFAULT_PROJECT_SETTINGS, usage: 0, usageAt: now });
    }
    for (const p of this.byName.values()) {
      const perSec = rate.get(p.name) ?? 0;
      if (p.usage === 0 && perSec === 0) {
        p.usageAt = now;
        continue;
      }
      p.usage = p.usage * decay(now - p.usageAt, h) + gained(perSec);
      p.usageAt = now;
    }
    if (now - this.savedAt >= (this.deps.saveEveryMs ?? 30_000)) this.flush(now);
  }

  /** Writes every project's usage now. */
  flush(now: number): void {
    try {
      for (const p of this.byName.values()) this.deps.save(p);
      this.savedAt = now;
    } catch {
      // Not written (a full disk): usage is kept in memory and written at the next try.
    }
  }

  /** What the scheduler reads of a project now. */
  limits(name: string, now: number): ProjectLimits {
    const p = this.get(name);
    return { weight: p.weight, maxRunning: p.maxRunning, maxVramMB: p.maxVramMB, usage: this.usage(name, now) };
  }
}

const decay = (dtMs: number, halfLifeMs: number): number => (halfLifeMs > 0 ? Math.pow(2, -Math.max(0, dtMs) / halfLifeMs) : 0);
