import { GPU_NOT_QUERIED } from '../../../contracts/telemetry.js';
import { basename } from 'node:path';
import type { GpuStatus } from '../../../contracts/telemetry.js';
import type { GpuView } from '../../core/model/node.js';
import { readProcStat } from '../process/proc-stat.js';
import { LoopProcess, type LoopExit } from './loop-process.js';
import { APP_QUERY_ARGS, GPU_QUERY_ARGS, parseAppsCsv, parseGpuCsv, type AppRow, type GpuRow } from './nvidia-smi-parser.js';

export interface CollectorConfig {
  binary: string;
  intervalMs: number;
  /** First restart delay after a failure; doubles up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** With no GPU sample for this long, nvidia-smi is taken as stuck and restarted. */
  staleMs?: number;
}

/** Lines of one sample arrive in one burst; a quiet gap this long closes the sample. */
const SAMPLE_GAP_MS = 25;

/**
 * A loop of nvidia-smi that restarts itself with backoff, and groups its lines into samples:
 * a sample ends when a line starts a new one (`isNewSample`) or after a short quiet gap.
 */
class SampledLoop<Row> {
  private proc: LoopProcess;
  private pending: Row[] = [];
  private problems: string[] = [];
  private gapTimer: NodeJS.Timeout | null = null;
  private restartTimer: NodeJS.Timeout | null = null;
  private backoff: number;
  private active = false;
  lastSampleAt = 0;
  restarts = 0;

  constructor(
    binary: string,
    args: string[],
    private readonly cfg: Required<Pick<CollectorConfig, 'backoffMs' | 'maxBackoffMs'>>,
    private readonly parse: (line: string) => { rows: Row[]; problems: string[] },
    private readonly isNewSample: (row: Row, pending: readonly Row[]) => boolean,
    private readonly onSample: (rows: Row[], problems: string[]) => void,
    private readonly onFailure: (exit: LoopExit, willRetryInMs: number) => void,
  ) {
    this.backoff = cfg.backoffMs;
    this.proc = new LoopProcess(
      binary,
      args,
      (l) => this.line(l),
      (e) => this.exited(e),
    );
  }

  get running(): boolean {
    return this.proc.running;
  }

  start(): void {
    this.active = true;
    this.proc.start();
  }

  stop(): void {
    this.active = false;
    if (this.gapTimer) clearTimeout(this.gapTimer);
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.gapTimer = null;
    this.restartTimer = null;
    this.proc.stop();
  }

  /** Kills a stuck process; it is restarted like one that failed. */
  restart(): void {
    this.proc.stop();
    this.scheduleRestart();
  }

  private line(line: string): void {
    const { rows, problems } = this.parse(line);
    for (const row of rows) {
      if (this.pending.length > 0 && this.isNewSample(row, this.pending)) this.flush();
      this.pending.push(row);
    }
    this.problems.push(...problems);
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = setTimeout(() => this.flush(), SAMPLE_GAP_MS);
  }

  private flush(): void {
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = null;
    const rows = this.pending;
    const problems = this.problems;
    this.pending = [];
    this.problems = [];
    if (rows.length > 0) {
      this.lastSampleAt = Date.now();
      this.backoff = this.cfg.backoffMs;
    }
    this.onSample(rows, problems);
  }

  private exited(exit: LoopExit): void {
    if (this.pending.length > 0 || this.problems.length > 0) this.flush();
    if (!this.active) return;
    // Not installed: it will not appear within seconds, so look again at the longest backoff
    // (each try forks the Manager).
    if (exit.errorCode === 'ENOENT') this.backoff = this.cfg.maxBackoffMs;
    this.onFailure(exit, this.backoff);
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (!this.active || this.restartTimer) return;
    const wait = this.backoff;
    this.backoff = Math.min(this.cfg.maxBackoffMs, this.backoff * 2);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.active) return;
      this.restarts += 1;
      this.proc.start();
    }, wait);
    this.restartTimer.unref();
  }
}

/** What nvidia-smi said, every line of it (a multi-line error keeps all its lines). */
const allSaid = (lines: readonly string[]): string =>
  lines
    .flatMap((s) => s.split('\n'))
    .map((s) => s.trim())
    .filter(Boolean)
    .join('; ');

const NO_GPU = /no devices were found|no supported gpus were found/i;

function describeExit(binary: string, exit: LoopExit, said: string[]): GpuStatus {
  if (exit.errorCode === 'ENOENT') return { state: 'absent', message: `${basename(binary)} not found: no NVIDIA driver on this machine` };
  const text = allSaid([...said, exit.said]);
  if (NO_GPU.test(text)) return { state: 'absent', message: 'nvidia-smi found no NVIDIA GPU' };
  const how = exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code ?? exit.errorCode ?? '?'}`;
  return { state: 'error', message: `nvidia-smi failed (${how})${text ? `: ${text}` : ''}` };
}

/** "2026/11/29 10:00:00.123" as ms (local time; only differences matter); null if unreadable. */
function stampMs(ts: string): number | null {
  const m = /^(\d{4})\/(\d{2})\/(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/.exec(ts.trim());
  if (!m) return null;
  return new Date(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +(m[7] ?? '0').padEnd(3, '0')).getTime();
}

/** Whether `next` starts a later sample than `first`: half an interval or more on (or, unreadable, different). */
export function isLaterSample(first: string, next: string, intervalMs: number): boolean {
  const a = stampMs(first);
  const b = stampMs(next);
  if (a === null || b === null) return first !== next;
  return Math.abs(b - a) >= Math.max(50, intervalMs / 2);
}

/**
 * GPUs and their compute processes from two long-lived nvidia-smi loops (one per query). Never
 * throws: a missing or failing nvidia-smi is a status, GPUs it cannot see are not reported (so
 * nothing is scheduled on them), and it restarts itself with backoff.
 *
 * Per-process rows only ever move VRAM from "other programs" to "ours"; when they are stale or
 * missing, the processes list is empty or null and everything counts as foreign (conservative).
 */
export class NvidiaSmiCollector {
  private gpuRows: GpuRow[] = [];
  /** Each GPU as last seen healthy, by index: one missing later is marked lost, not forgotten. */
  private readonly known = new Map<number, GpuRow>();
  private apps: AppRow[] = [];
  /** Each GPU's rows of its newest sample (see foldApps). */
  private readonly appsByGpu = new Map<string, { ts: string; rows: AppRow[] }>();
  private appsAt = 0;
  private appsBroken = false;
  private status: GpuStatus = { state: 'absent', message: GPU_NOT_QUERIED };
  private lastSaid: string[] = [];
  private gpuLoop!: SampledLoop<GpuRow>;
  private appLoop!: SampledLoop<AppRow>;
  private watchdog: NodeJS.Timeout | null = null;
  private staleMs = 0;
  private restartsBefore = 0;
  private listeners = new Set<() => void>();
  private firstSample: Promise<void>;
  private resolveFirst!: () => void;

  constructor(private readonly cfg: CollectorConfig) {
    this.firstSample = new Promise((r) => (this.resolveFirst = r));
    this.build();
  }

  private build(): void {
    const cfg = this.cfg;
    const loopCfg = { backoffMs: cfg.backoffMs ?? 1000, maxBackoffMs: cfg.maxBackoffMs ?? 60_000 };
    const lms = ['-lms', String(Math.max(100, Math.round(cfg.intervalMs)))];
    this.staleMs = cfg.staleMs ?? Math.max(5000, cfg.intervalMs * 5);
    this.gpuLoop = new SampledLoop<GpuRow>(
      cfg.binary,
      [...GPU_QUERY_ARGS, ...lms],
      loopCfg,
      parseGpuCsv,
      (row, pending) => pending.some((p) => p.index === row.index),
      (rows, problems) => this.onGpuSample(rows, problems),
      (exit, retryMs) => this.onGpuFailure(exit, retryMs),
    );
    this.appLoop = new SampledLoop<AppRow>(
      cfg.binary,
      [...APP_QUERY_ARGS, ...lms],
      loopCfg,
      parseAppsCsv,
      // One sample is one burst of lines (the loop's own boundary), not one timestamp: drivers
      // that stamp each GPU's rows a few ms apart would split it. Only a stamp half an interval
      // on starts a new one.
      (row, pending) => isLaterSample(pending[0]!.timestamp, row.timestamp, cfg.intervalMs),
      (rows) => {
        this.foldApps(rows);
        this.appsAt = Date.now();
        this.appsBroken = false;
      },
      () => {
        this.appsBroken = true;
      },
    );
  }

  /** Starts both loops; resolves after the first GPU sample or failure (or after 3 s). */
  async start(): Promise<void> {
    this.gpuLoop.start();
    this.appLoop.start();
    this.watchdog = setInterval(() => this.checkStale(), Math.max(500, this.cfg.intervalMs));
    this.watchdog.unref();
    await Promise.race([this.firstSample, new Promise((r) => setTimeout(r, 3000).unref())]);
  }

  stop(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
    this.gpuLoop.stop();
    this.appLoop.stop();
  }

  /** Samples at a new interval from now on: the loops are restarted with it. */
  async setInterval(ms: number): Promise<void> {
    if (ms === this.cfg.intervalMs) return;
    this.restartsBefore = this.restarts;
    this.stop();
    this.cfg.intervalMs = ms;
    this.build();
    await this.start();
  }

  subscribe(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** How many times the loops were restarted (for health). */
  get restarts(): number {
    return this.restartsBefore + this.gpuLoop.restarts + this.appLoop.restarts;
  }

  current(): { gpus: GpuView[]; status: GpuStatus } {
    if (this.status.state !== 'ok') return { gpus: [], status: this.status };
    // Quiet apps loop: no compute processes now (or a stuck loop): nothing is taken as ours.
    const appsFresh = Date.now() - this.appsAt <= Math.max(2.5 * this.cfg.intervalMs, 1000);
    const gpus = this.gpuRows.map((row): GpuView => ({
      ...row,
      processes:
        this.appsBroken || row.lost
          ? null
          : (appsFresh ? this.apps : [])
              .filter((p) => p.gpuUuid === row.uuid)
              .map((p) => ({ pid: p.pid, name: basename(p.name), usedMB: p.usedMB, pgid: readProcStat(p.pid)?.pgrp ?? null })),
    }));
    return { gpus, status: this.status };
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  /**
   * Folds a burst of compute-app rows in, GPU by GPU. A quiet gap in the middle of one sample (a
   * loaded machine, a slow driver) splits its burst: rows stamped within half an interval of a
   * GPU's current ones are more of the same sample; later ones replace them. A GPU that has had
   * no rows for a sample and a half while others did has no processes any more.
   */
  private foldApps(rows: AppRow[]): void {
    const interval = this.cfg.intervalMs;
    const byGpu = new Map<string, AppRow[]>();
    for (const r of rows) byGpu.set(r.gpuUuid, [...(byGpu.get(r.gpuUuid) ?? []), r]);
    for (const [uuid, list] of byGpu) {
      const cur = this.appsByGpu.get(uuid);
      if (cur && !isLaterSample(cur.ts, list[0]!.timestamp, interval)) cur.rows.push(...list);
      else this.appsByGpu.set(uuid, { ts: list[0]!.timestamp, rows: list });
    }
    const newest = rows[0]?.timestamp;
    if (newest !== undefined) {
      for (const [uuid, e] of this.appsByGpu) if (!byGpu.has(uuid) && isLaterSample(e.ts, newest, interval * 3)) this.appsByGpu.delete(uuid);
    }
    this.apps = [...this.appsByGpu.values()].flatMap((e) => e.rows);
  }

  private onGpuSample(rows: GpuRow[], problems: string[]): void {
    if (rows.length > 0) {
      // Healthy rows are kept whatever else was said. A GPU seen before that is missing now, while
      // nvidia-smi reports a problem ("GPU is lost", "Unable to determine the device handle"), is
      // marked lost and shown full, so nothing is scheduled on it; the others go on.
      const lost = problems.length === 0 ? [] : [...this.known.values()].filter((k) => !rows.some((r) => r.index === k.index));
      for (const r of rows) this.known.set(r.index, r);
      this.gpuRows = [...rows, ...lost.map((k): GpuRow => ({ ...k, usedMB: k.totalMB, freeMB: 0, lost: true }))].sort((a, b) => a.index - b.index);
      const notes = rows
        .filter((r) => r.memoryUnknown)
        .map((r) => `GPU ${r.index} (${r.name}) does not report its memory ([N/A]): nothing is scheduled on its VRAM`);
      if (problems.length > 0) notes.unshift(`nvidia-smi reported: ${allSaid(problems)}`);
      this.status = { state: 'ok', message: notes.length > 0 ? notes.join('; ') : null };
    } else if (problems.length > 0) {
      // Only error text ("Failed to initialize NVML", garbage): trust nothing from this sample.
      this.lastSaid = problems;
      this.gpuRows = [];
      this.status = describeExit(this.cfg.binary, { errorCode: null, code: null, signal: null, said: '' }, problems);
      if (this.status.state === 'error') this.status = { state: 'error', message: `nvidia-smi reported: ${allSaid(problems)}` };
    }
    this.resolveFirst();
    this.notify();
  }

  private onGpuFailure(exit: LoopExit, retryMs: number): void {
    const status = describeExit(this.cfg.binary, exit, this.lastSaid);
    this.lastSaid = [];
    this.gpuRows = [];
    this.status = { ...status, message: `${status.message}; retrying in ${Math.round(retryMs / 1000)} s` };
    this.resolveFirst();
    this.notify();
  }

  private checkStale(): void {
    if (this.status.state !== 'ok' || !this.gpuLoop.running) return;
    if (Date.now() - this.gpuLoop.lastSampleAt <= this.staleMs) return;
    this.gpuRows = [];
    this.status = { state: 'error', message: `nvidia-smi stopped answering (no sample for ${Math.round(this.staleMs / 1000)} s); restarting it` };
    this.gpuLoop.restart();
    this.notify();
  }
}
