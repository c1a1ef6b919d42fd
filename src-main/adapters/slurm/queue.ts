import type { SlurmCli } from './cli.js';
import { parseSacctLine, parseSacctUsage, parseScontrolLine, parseSqueueJson, SACCT_FIELDS, USAGE_FIELDS, type SlurmJob, type SlurmUsage } from './jobs.js';

export interface SlurmQueueConfig {
  /** Between looks while jobs are watched and the controller answers. */
  pollMs: number;
  /** The longest wait between looks while the controller does not answer (doubling up to it). */
  maxPollMs: number;
}

export const DEFAULT_SLURM_QUEUE: SlurmQueueConfig = { pollMs: 3000, maxPollMs: 60_000 };

/** Whether Slurm answers, as of the last look: what Settings and `agentmgr status` show. */
export interface SlurmStatus {
  reachable: boolean;
  /** What went wrong (the controller's answer, or none); null when it answers. */
  message: string | null;
  /** Since when (epoch ms) it has been as it is. */
  since: number;
  /** Jobs being watched. */
  watched: number;
}

/** A watched job as of a look; null once Slurm no longer knows it (ended and purged). */
export type JobWatcher = (job: SlurmJob | null) => void;

/**
 * Every Slurm job the Manager watches, read with one `squeue --json` per look, however many
 * there are (a controller is shared by everyone; one call per job would load it). A job squeue
 * no longer lists is asked about once with `scontrol show job`. While the controller does not
 * answer, looks back off up to maxPollMs, and the status says so; watched jobs stay as they were.
 */
export class SlurmQueue {
  readonly config: SlurmQueueConfig;
  private readonly watchers = new Map<string, Set<JobWatcher>>();
  private readonly statusListeners = new Set<(s: SlurmStatus) => void>();
  private state: SlurmStatus;
  private timer: NodeJS.Timeout | null = null;
  private timerDue = 0;
  private busy = false;
  private delay: number;
  private stopped = false;
  /** squeue calls made (the one-call-per-look promise is tested by it). */
  looks = 0;

  constructor(
    private readonly cli: SlurmCli,
    config: Partial<SlurmQueueConfig> = {},
  ) {
    this.config = { ...DEFAULT_SLURM_QUEUE, ...config };
    this.delay = this.config.pollMs;
    this.state = { reachable: true, message: null, since: Date.now(), watched: 0 };
  }

  /** Calls `w` after each look with the job as it is; the returned function stops that. */
  watch(id: string, w: JobWatcher): () => void {
    let set = this.watchers.get(id);
    if (!set) this.watchers.set(id, (set = new Set()));
    set.add(w);
    this.schedule(this.config.pollMs);
    return () => {
      set.delete(w);
      if (set.size === 0) this.watchers.delete(id);
    };
  }

  status(): SlurmStatus {
    return { ...this.state, watched: this.watchers.size };
  }

  onStatus(listener: (s: SlurmStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** Looks soon (a job was just submitted or cancelled). */
  nudge(): void {
    this.schedule(Math.min(200, this.config.pollMs));
  }

  /**
   * The newest job of that name submitted at `notBefore` or later (epoch ms; an older one of the
   * same name is another Manager's, or an earlier life's), looked up now; 'unreachable' when the
   * controller does not answer.
   */
  async findByName(name: string, notBefore: number): Promise<SlurmJob | null | 'unreachable'> {
    const jobs = await this.list();
    if (jobs === 'unreachable') return jobs;
    const mine = jobs
      .filter((j) => j.name === name && (j.submittedAt === null || j.submittedAt >= notBefore))
      .sort((a, b) => Number.parseInt(b.id, 10) - Number.parseInt(a.id, 10));
    return mine[0] ?? null;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.watchers.clear();
  }

  private schedule(ms: number): void {
    if (this.stopped || this.watchers.size === 0) return;
    const due = Date.now() + ms;
    if (this.timer) {
      // A sooner look replaces a later one.
      if (this.timerDue <= due) return;
      clearTimeout(this.timer);
    }
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.look();
    }, ms);
    this.timer.unref?.();
  }

  private async list(): Promise<SlurmJob[] | 'unreachable'> {
    this.looks++;
    const r = await this.cli.run('squeue', ['--json']);
    try {
      if (!r.ok) throw Object.assign(new Error(r.message), { unreachable: r.unreachable });
      const jobs = parseSqueueJson(r.stdout);
      this.setReachable(true, null);
      return jobs;
    } catch (e) {
      // 22.05's squeue --json says only "Unspecified error" when the controller is down; scontrol ping says which.
      const ping = await this.cli.run('scontrol', ['ping']);
      const down = /is DOWN/i.test(ping.ok ? ping.stdout : ping.stdout || ping.message)
        ? (ping.ok ? ping.stdout : ping.stdout || ping.message).split('\n')[0]!.trim()
        : null;
      this.setReachable(false, down ? `${down} (${(e as Error).message})` : (e as Error).message);
      return 'unreachable';
    }
  }

  private async look(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      const jobs = await this.list();
      if (jobs === 'unreachable') {
        this.delay = Math.min(this.config.maxPollMs, Math.max(this.config.pollMs, this.delay * 2));
        return;
      }
      this.delay = this.config.pollMs;
      const byId = new Map(jobs.map((j) => [j.id, j]));
      for (const id of [...this.watchers.keys()]) {
        const job = byId.get(id) ?? (await this.showJob(id));
        if (job === 'unreachable') continue;
        for (const w of [...(this.watchers.get(id) ?? [])]) w(job);
      }
    } finally {
      this.busy = false;
      this.schedule(this.delay);
    }
  }

  /**
   * A job squeue did not list: scontrol may still know it, and after that Slurm's accounting
   * (sacct, where the cluster keeps it); null when Slurm has forgotten it.
   */
  private async showJob(id: string): Promise<SlurmJob | null | 'unreachable'> {
    const r = await this.cli.run('scontrol', ['show', 'job', '-o', id]);
    if (r.ok) return parseScontrolLine(r.stdout.trim().split('\n')[0] ?? '');
    if (!/invalid job id/i.test(r.message)) return r.unreachable ? 'unreachable' : null;
    return this.accountedJob(id);
  }

  /** Whether sacct can answer here: unknown until asked; a cluster without accounting is not asked again. */
  private accounting: boolean | null = null;

  private async accountedJob(id: string): Promise<SlurmJob | null | 'unreachable'> {
    if (this.accounting === false) return null;
    const r = await this.cli.run('sacct', ['-j', id, '-X', '-P', '-n', '-o', SACCT_FIELDS]);
    if (!r.ok) {
      if (/accounting storage is disabled|not running a supported accounting_storage/i.test(r.message)) this.accounting = false;
      return r.unreachable ? 'unreachable' : null;
    }
    this.accounting = true;
    for (const line of r.stdout.split('\n')) {
      const job = parseSacctLine(line);
      if (job && job.id === id) return job;
    }
    return null;
  }

  /**
   * What an ended job used at its peak, by Slurm's accounting; null where the cluster keeps none,
   * or has not recorded the job's steps yet.
   */
  async usage(id: string): Promise<SlurmUsage | null> {
    if (this.accounting === false) return null;
    const r = await this.cli.run('sacct', ['-j', id, '-P', '-n', '-o', USAGE_FIELDS]);
    if (!r.ok) {
      if (/accounting storage is disabled|not running a supported accounting_storage/i.test(r.message)) this.accounting = false;
      return null;
    }
    this.accounting = true;
    return parseSacctUsage(r.stdout, id);
  }

  /** Whether the cluster keeps accounting (sacct answers); null until a job needed it. */
  hasAccounting(): boolean | null {
    return this.accounting;
  }

  private setReachable(reachable: boolean, message: string | null): void {
    if (reachable === this.state.reachable && message === this.state.message) return;
    const changed = reachable !== this.state.reachable;
    this.state = { reachable, message, since: changed ? Date.now() : this.state.since, watched: this.watchers.size };
    for (const l of this.statusListeners) l(this.status());
  }
}
