import { execFile } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { basename } from 'node:path';
import si from 'systeminformation';
import type { GpuStatus, TelemetrySnapshot } from '../../../contracts/telemetry.js';
import type { GpuView, NodeSnapshot } from '../../core/model/node.js';
import type { TelemetrySource } from '../../core/ports.js';
import { readProcStat } from '../process/proc-stat.js';
import { APP_QUERY_ARGS, GPU_QUERY_ARGS, parseAppsCsv, parseGpuCsv } from './nvidia-smi-parser.js';

export interface TelemetryConfig {
  intervalMs: number;
  /** GPU queries run every this many ms (each spawns nvidia-smi). */
  gpuIntervalMs: number;
  nvidiaSmi: string;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string; error: NodeJS.ErrnoException | null; code: number | null }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error && typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : error ? null : 0;
      resolve({ stdout, stderr, error: error as NodeJS.ErrnoException | null, code });
    });
  });
}

/**
 * CPU and RAM from the OS (systeminformation), GPUs from nvidia-smi queried asynchronously. A
 * missing or failing nvidia-smi is a status, never an exception: GPU tasks then wait.
 */
export class SystemTelemetry implements TelemetrySource {
  private node: NodeSnapshot;
  private loadPct: number | null = null;
  private listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private gpuTimer: NodeJS.Timeout | null = null;
  private at = new Date();

  constructor(private readonly cfg: TelemetryConfig) {
    const mb = Math.round(totalmem() / 1048576);
    this.node = {
      cpuCores: cpus().length,
      memoryTotalMB: mb,
      memoryAvailableMB: mb,
      gpus: [],
      gpuStatus: { state: 'absent', message: 'GPU not queried yet' },
    };
  }

  /** Takes the first sample (so capacity is known) and starts sampling. */
  async start(): Promise<void> {
    await Promise.all([this.sampleHost(), this.sampleGpus()]);
    this.timer = setInterval(() => void this.sampleHost().then(() => this.notify()), this.cfg.intervalMs);
    this.gpuTimer = setInterval(() => void this.sampleGpus().then(() => this.notify()), this.cfg.gpuIntervalMs);
    this.timer.unref();
    this.gpuTimer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.gpuTimer) clearInterval(this.gpuTimer);
    this.timer = null;
    this.gpuTimer = null;
  }

  current(): NodeSnapshot {
    return this.node;
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

  private async sampleHost(): Promise<void> {
    try {
      const [mem, load] = await Promise.all([si.mem(), si.currentLoad()]);
      this.node = {
        ...this.node,
        memoryTotalMB: Math.round(mem.total / 1048576),
        memoryAvailableMB: Math.round(mem.available / 1048576),
      };
      this.loadPct = Math.round(load.currentLoad * 10) / 10;
      this.at = new Date();
    } catch {
      // keep the last reading
    }
  }

  private async sampleGpus(): Promise<void> {
    const { gpus, status } = await queryGpus(this.cfg.nvidiaSmi);
    this.node = { ...this.node, gpus, gpuStatus: status };
  }
}

/** One query of nvidia-smi: GPUs and their compute processes, each process with its group. */
export async function queryGpus(nvidiaSmi: string): Promise<{ gpus: GpuView[]; status: GpuStatus }> {
  const g = await run(nvidiaSmi, GPU_QUERY_ARGS, 10_000);
  if (g.error?.code === 'ENOENT') return { gpus: [], status: { state: 'absent', message: `${basename(nvidiaSmi)} not found: no NVIDIA driver on this machine` } };
  const parsed = parseGpuCsv(g.stdout);
  if (parsed.rows.length === 0) {
    const said = (parsed.problems[0] ?? g.stderr.trim().split('\n')[0] ?? '').trim();
    if (/no devices were found/i.test(said)) return { gpus: [], status: { state: 'absent', message: 'nvidia-smi found no NVIDIA GPU' } };
    return { gpus: [], status: { state: 'error', message: `nvidia-smi failed: ${said || `exit code ${g.code}`}` } };
  }
  const a = await run(nvidiaSmi, APP_QUERY_ARGS, 10_000);
  const apps = a.error ? null : parseAppsCsv(a.stdout).rows;
  const gpus: GpuView[] = parsed.rows.map((row) => ({
    ...row,
    processes: apps
      ? apps
          .filter((p) => p.gpuUuid === row.uuid)
          .map((p) => ({ pid: p.pid, name: basename(p.name), usedMB: p.usedMB, pgid: readProcStat(p.pid)?.pgrp ?? null }))
      : null,
  }));
  return { gpus, status: { state: 'ok', message: null } };
}
