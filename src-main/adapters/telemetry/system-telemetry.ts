import { GPU_NOT_QUERIED } from '../../../contracts/telemetry.js';
import { cpus, totalmem } from 'node:os';
import si from 'systeminformation';
import type { TelemetrySnapshot } from '../../../contracts/telemetry.js';
import type { NodeSnapshot } from '../../core/model/node.js';
import type { TelemetrySource } from '../../core/ports.js';
import type { FamilyLookup } from '../process/family-port.js';
import { CpuLoad } from './cpu-load.js';
import { NvidiaSmiCollector } from './nvidia-smi-collector.js';
import { ProcessGroupSampler } from './process-groups.js';

export interface TelemetryConfig {
  /** How often CPU, RAM, our process groups and (in loop mode) the GPUs are sampled. */
  intervalMs: number;
  nvidiaSmi: string;
  /** The runner's record of processes that left their agent's group: they count as the agent's. */
  families?: FamilyLookup;
}

/**
 * RAM from the OS (systeminformation, asynchronous), CPU load from the kernel's counters, our
 * agents' process groups from
 * /proc, GPUs from long-lived nvidia-smi loops. Nothing here blocks the event loop for long or
 * throws: a failing source is a status, and GPU tasks then wait.
 */
export class SystemTelemetry implements TelemetrySource {
  private node: NodeSnapshot;
  private loadPct: number | null = null;
  private listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private at = new Date();
  private watched = new Set<number>();
  private readonly groups: ProcessGroupSampler;
  private readonly cpuLoad = new CpuLoad();
  readonly gpu: NvidiaSmiCollector;

  constructor(private readonly cfg: TelemetryConfig) {
    this.groups = new ProcessGroupSampler(cfg.families ?? null);
    const mb = Math.round(totalmem() / 1048576);
    this.node = {
      cpuCores: cpus().length,
      memoryTotalMB: mb,
      memoryAvailableMB: mb,
      gpus: [],
      gpuStatus: { state: 'absent', message: GPU_NOT_QUERIED },
    };
    this.gpu = new NvidiaSmiCollector({ binary: cfg.nvidiaSmi, intervalMs: cfg.intervalMs });
    this.gpu.subscribe(() => {
      this.refreshGpu();
      this.notify();
    });
  }

  /** Takes the first samples (so capacity is known at once) and starts sampling. */
  async start(): Promise<void> {
    await Promise.all([this.sampleHost(), this.gpu.start()]);
    this.refreshGpu();
    this.timer = setInterval(() => void this.sampleHost().then(() => this.notify()), this.cfg.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.gpu.stop();
  }

  get intervalMs(): number {
    return this.cfg.intervalMs;
  }

  /** Changes how often everything is sampled, at once. */
  async setInterval(ms: number): Promise<void> {
    if (ms === this.cfg.intervalMs) return;
    this.cfg.intervalMs = ms;
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = setInterval(() => void this.sampleHost().then(() => this.notify()), ms);
      this.timer.unref();
    }
    await this.gpu.setInterval(ms);
  }

  current(): NodeSnapshot {
    return this.node;
  }

  /** New groups are measured from the next host sample on; ones no longer asked for go at once. */
  watch(pgids: readonly number[]): void {
    this.watched = new Set(pgids);
    const groups = this.node.groups;
    if (groups && [...groups.keys()].some((g) => !this.watched.has(g))) {
      this.node = { ...this.node, groups: new Map([...groups].filter(([g]) => this.watched.has(g))) };
    }
  }

  /** How often the nvidia-smi loop had to be restarted. */
  collectorRestarts(): number {
    return this.gpu.restarts;
  }

  snapshot(): TelemetrySnapshot {
    const n = this.node;
    return {
      at: this.at,
      cpu: { cores: n.cpuCores, loadPct: this.loadPct },
      memory: { totalMB: n.memoryTotalMB, availableMB: n.memoryAvailableMB },
      gpus: n.gpus.map((g) => ({ ...g, processes: g.processes?.map(({ pid, name, usedMB }) => ({ pid, name, usedMB })) ?? null })),
      gpuStatus: n.gpuStatus,
    };
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  private refreshGpu(): void {
    const { gpus, status } = this.gpu.current();
    const families = this.cfg.families;
    // A process that left an agent's group is the agent's: its VRAM is attributed to that group.
    const owned =
      families && families.size > 0
        ? gpus.map((g) => ({ ...g, processes: g.processes?.map((p) => ({ ...p, pgid: families.ownerOf(p.pid) ?? p.pgid })) ?? null }))
        : gpus;
    this.node = { ...this.node, gpus: owned, gpuStatus: status };
  }

  private async sampleHost(): Promise<void> {
    try {
      const mem = await si.mem();
      this.loadPct = this.cpuLoad.sample();
      this.node = {
        ...this.node,
        memoryTotalMB: Math.round(mem.total / 1048576),
        memoryAvailableMB: Math.round(mem.available / 1048576),
        groups: this.groups.sample(this.watched),
      };
      this.refreshGpu();
      this.at = new Date();
    } catch {
      // keep the last reading
    }
  }
}
