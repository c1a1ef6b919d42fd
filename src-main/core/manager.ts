import { GPU_NOT_QUERIED } from '../../contracts/telemetry.js';
import type { ResourceView } from '../../contracts/resources.js';
import type { ProjectPatch, ProjectView } from '../../contracts/project.js';
import type { TaskActions, TaskSubmission } from '../../contracts/task.js';
import { Commands, type ArrayActionResult, type MoveTo } from './commands.js';
import type { ManagerConfig, ManagerDeps } from './manager-config.js';
import { Health, type Degraded } from './health.js';
import { Ledger } from './ledger/ledger.js';
import { isTerminal } from './lifecycle/states.js';
import type { RunningUsage } from './model/node.js';
import { ProfileCache, type LearnedProfile, type PeakSample } from './model/profile.js';
import type { TaskRecord } from './model/task.js';
import { Publisher } from './publisher.js';
import { TaskQueries } from './queries.js';
import { recover } from './runs/recovery.js';
import { Supervisor } from './runs/supervisor.js';
import { Offloader } from './runs/offload.js';
import { describeStatus } from './scheduler/describe.js';
import type { Capacity } from './scheduler/fit.js';
import { SchedulerLoop } from './scheduler/loop.js';
import type { StatusInput } from './scheduler/loop.js';
import type { Status } from './scheduler/status.js';
import { Workflow } from './workflow/settle.js';
import { DEFAULT_HALF_LIFE_MS, Projects } from './projects/projects.js';
import { Estimator, type Estimate } from './eta/estimator.js';
import type { Eta } from './eta/simulate.js';
import type { FreeVramResult, ResidentView } from '../../contracts/residents.js';
import { ResidentDesk } from './residents/desk.js';
import { PersonDesk } from './person/desk.js';
import type { YieldingView } from '../../contracts/person.js';

export type { ArrayActionResult, Degraded, ManagerConfig, ManagerDeps, MoveTo };

/**
 * The Manager: a facade over its parts. admission/ turns submissions into tasks; the loop
 * (scheduler/loop.ts) decides what starts; the supervisor (runs/supervisor.ts) starts, watches
 * and ends runs; recovery re-adopts what an earlier Manager left; the ledger (ledger/) keeps the
 * account of resources; health.ts is degraded mode. Single-threaded: every method runs to
 * completion. See docs/manager.md.
 */
export class Manager {
  private readonly ledger: Ledger;
  private readonly health: Health;
  private readonly publisher: Publisher;
  private readonly supervisor: Supervisor;
  private readonly loop: SchedulerLoop;
  private readonly commands: Commands;
  private readonly profiles: ProfileCache;
  private readonly workflow: Workflow;
  private readonly estimator: Estimator;
  /** Projects: weights, quotas and usage (fair share). */
  readonly projects: Projects;
  /** The store, read-only: what the API reads tasks through. */
  readonly queries: TaskQueries;
  private unsubscribe: (() => void) | null = null;
  private unsubscribeResidents: (() => void) | null = null;
  /** The residents (Ollama, ComfyUI, llama-server) as of their last poll, matched to the last telemetry. */
  private readonly desk: ResidentDesk;
  /** Game mode and focus mode: the GPU yielded to the person. */
  private readonly person: PersonDesk;
  /** Backend auto: waiting tasks sent on to the Slurm cluster; null without a cluster. */
  private readonly offloader: Offloader | null;

  constructor(private readonly deps: ManagerDeps) {
    const { config } = deps;
    this.queries = new TaskQueries(deps.store);
    this.ledger = new Ledger(config);
    this.projects = new Projects(
      { load: () => deps.store.projects(), save: (p) => deps.store.putProject(p) },
      () => config.usageHalfLifeMs ?? DEFAULT_HALF_LIFE_MS,
    );
    this.profiles = new ProfileCache(deps.agents, deps.store);
    this.health = new Health(deps);
    this.publisher = new Publisher({ ...deps, ledger: this.ledger }, () => config.resourcesEveryMs ?? 900);
    this.desk = new ResidentDesk({ ...deps, ledger: this.ledger, idleMs: () => config.residentIdleMs });
    this.person = new PersonDesk({
      ...deps,
      config: () => ({
        belowPriority: config.yieldBelowPriority,
        exitMs: config.gameModeExitMs,
        freeVram: config.gameModeFreeVram,
        idleAfterMs: config.idleAfterMs,
      }),
      changed: () => {
        this.estimator.queueChanged();
        this.loop.requestCycle();
      },
      freeVram: (below) => {
        this.freeGpu((r) => (r.priority ?? 0) < below, 'for game mode');
        this.desk.freeAll();
      },
    });
    this.supervisor = new Supervisor({
      ...deps,
      ledger: this.ledger,
      publisher: this.publisher,
      health: this.health,
      capacity: () => this.capacity(),
      progressFlushMs: () => config.progressFlushMs,
      residentUrl: (kind) => this.desk.url(kind),
      succeeded: (agent) => {
        this.profiles.forget(agent);
        this.estimator.forget(agent);
      },
    });
    this.loop = new SchedulerLoop({
      ...deps,
      ledger: this.ledger,
      publisher: this.publisher,
      health: this.health,
      bind: (id, gpus) => this.supervisor.launch(id, gpus),
      paused: () => this.commands.paused,
      projects: this.projects,
      preempt: (victim, plan) => this.supervisor.preempt(victim, plan),
      residents: this.desk.enabled ? { list: () => this.desk.list(), unload: (ask, plan) => this.desk.askUnload(ask, plan) } : undefined,
      person: () => this.person.hold(),
      idle: () => this.person.idle(),
    });
    this.supervisor.connect(this.loop.slots);
    this.workflow = new Workflow({ ...deps, publisher: this.publisher, loop: this.loop });
    this.publisher.watch((t) => this.workflow.changed(t));
    this.estimator = new Estimator({
      ...deps,
      ledger: this.ledger,
      loop: this.loop,
      paused: () => this.commands.paused,
      person: () => this.person.hold(),
      idle: () => this.person.idle(),
    });
    this.commands = new Commands({
      ...deps,
      loop: this.loop,
      ledger: this.ledger,
      publisher: this.publisher,
      capacity: () => this.capacity(),
      profile: (a, where) => this.profile(a, where),
      residentModelMB: (kind, model) => this.desk.modelVramMB(kind, model),
      workflow: this.workflow,
      projects: this.projects,
    });
    this.offloader =
      deps.slurm && deps.cluster
        ? new Offloader({
            ...deps,
            cluster: deps.cluster,
            publisher: this.publisher,
            loop: this.loop,
            estimate: () => this.estimator.current(),
            afterMs: () => config.slurmAutoAfterMs ?? null,
            paused: () => this.commands.paused || this.health.degraded() !== null,
            changed: () => this.estimator.queueChanged(),
            ...(config.slurmAutoEveryMs !== undefined ? { everyMs: config.slurmAutoEveryMs } : {}),
          })
        : null;
    this.health.onRecovered = () => {
      this.supervisor.recordPending();
      this.loop.requestCycle();
    };
  }

  get config(): Readonly<ManagerConfig> {
    return this.deps.config;
  }

  /** Loads the queue, re-adopts runs an earlier Manager left, and starts scheduling. */
  start(): void {
    const { store, telemetry } = this.deps;
    this.commands.load();
    // The queue first: runs found ended below may be queued again, and must be added only once.
    this.loop.addAll(store.queuedEntries());
    recover({ ...this.deps, ledger: this.ledger, supervisor: this.supervisor });
    // Dependencies on what ended while no Manager ran are decided now.
    this.workflow.reconcile();
    this.unsubscribe = telemetry.subscribe(() =>
      this.health.guarded('telemetry', () => {
        this.ledger.observe(telemetry.current(), this.deps.clock.now());
        this.desk.refresh();
        this.publisher.resources();
        this.loop.requestCycle();
      }),
    );
    this.unsubscribeResidents =
      this.deps.residents?.subscribe(() =>
        this.health.guarded('residents', () => {
          this.desk.refresh();
          this.loop.requestCycle();
        }),
      ) ?? null;
    this.desk.refresh();
    telemetry.watch(this.ledger.watchList());
    this.person.start();
    this.loop.start();
    this.offloader?.start();
  }

  /** Stops scheduling. Running agents keep running (a later Manager re-adopts them) unless `stopAgents`. */
  stop(opts: { stopAgents?: boolean } = {}): void {
    this.loop.stop();
    this.offloader?.stop();
    this.estimator.stop();
    this.projects.accrue(this.ledger.running(), this.deps.clock.now());
    this.projects.flush(this.deps.clock.now());
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.unsubscribeResidents?.();
    this.unsubscribeResidents = null;
    this.person.stop();
    this.health.stop();
    this.publisher.stop();
    this.supervisor.stop(opts.stopAgents ?? false);
  }

  /** Cancels every running task; resolves once each has ended and been recorded, or after `timeoutMs`. */
  cancelAll(timeoutMs: number): Promise<void> {
    return this.supervisor.cancelAll(timeoutMs);
  }

  // ---- commands -------------------------------------------------------------------------------

  /** Stores every submission in one transaction, or none: the error names the first bad one. */
  submit(submissions: readonly TaskSubmission[]): TaskRecord[] {
    this.estimator.queueChanged();
    return this.commands.submit(submissions);
  }

  /** The same, a batch of thousands admitted over several turns (`nextTurn` between); stored all at once. */
  async submitInTurns(submissions: readonly TaskSubmission[], nextTurn: () => Promise<void>): Promise<TaskRecord[]> {
    const stored = await this.commands.submitInTurns(submissions, nextTurn);
    this.estimator.queueChanged();
    return stored;
  }

  cancel(id: number): TaskRecord {
    this.estimator.queueChanged();
    return this.commands.cancel(id);
  }

  retry(id: number, opts: { withDependents?: boolean } = {}): TaskRecord {
    return this.commands.retry(id, opts);
  }

  /** Removes ended tasks for good (see Commands.remove). */
  remove(ids: readonly number[]): ReturnType<Commands['remove']> {
    return this.commands.remove(ids);
  }

  /** Removes the ended tasks a filter picks (see Commands.clean). */
  clean(f: Parameters<Commands['clean']>[0]): ReturnType<Commands['clean']> {
    return this.commands.clean(f);
  }

  /** Moves a queued task within the queue (top, bottom, or before another queued task). */
  move(id: number, where: MoveTo): TaskRecord {
    this.estimator.queueChanged();
    return this.commands.move(id, where);
  }

  cancelArray(arrayId: number): ArrayActionResult {
    return this.commands.cancelArray(arrayId);
  }

  retryArray(arrayId: number, failedOnly: boolean): ArrayActionResult {
    return this.commands.retryArray(arrayId, failedOnly);
  }

  setPriority(id: number, priority: number): TaskRecord {
    return this.commands.setPriority(id, priority);
  }

  setPaused(paused: boolean): void {
    this.commands.setPaused(paused);
  }

  /**
   * `pause --free-vram`, for a person who needs the card now (a game, a render of their own):
   * holds the queue, stops preemptible GPU tasks so they are queued again, and asks every resident
   * holding VRAM to unload, except those whose policy is never. Nothing queued is lost.
   */
  pauseAndFreeVram(): FreeVramResult {
    this.setPaused(true);
    const { requeued, kept } = this.freeGpu(() => true, '(pause --free-vram)');
    const residents = this.desk.freeAll();
    this.deps.logger.info('paused the queue and freed the GPU', {
      requeued,
      kept: kept.map((k) => k.id),
      residents: residents.filter((r) => r.asked).map((r) => r.kind),
    });
    return { paused: true, requeued, kept, residents };
  }

  /** Stops the running GPU tasks `which` picks that are preemptible, to be queued again; names those left running. */
  private freeGpu(which: (r: RunningUsage) => boolean, why: string): Pick<FreeVramResult, 'requeued' | 'kept'> {
    const requeued: number[] = [];
    const kept: FreeVramResult['kept'] = [];
    for (const r of this.ledger.running()) {
      if (!r.request.gpu || r.request.gpu.count <= 0 || !which(r)) continue;
      const task = this.deps.store.getTask(r.taskId);
      if (!task || task.desired !== 'run') continue;
      if (!task.preemptible) kept.push({ id: r.taskId, why: 'not preemptible: it runs to its end' });
      else if (this.supervisor.yieldRun(r.taskId, `to free the GPU ${why}`)) requeued.push(r.taskId);
    }
    return { requeued, kept };
  }

  /** Focus mode (`agentmgr focus on|off|for 1h`): GPU tasks below the threshold wait while it is on. */
  setFocus(on: boolean, forMs?: number): YieldingView | null {
    return this.person.setFocus(on, on && forMs !== undefined ? this.deps.clock.now() + forMs : null);
  }

  /** What the GPU is yielded to now (game mode, focus mode); null: nothing. */
  yielding(): YieldingView | null {
    return this.person.view();
  }

  /** The person's idle time: fed through the API headless; the desktop app reads Electron's instead (setIdleSource). */
  reportIdle(sec: number): void {
    this.person.reportIdle(sec);
  }

  setIdleSource(source: () => number | null): void {
    this.person.setIdleSource(source);
  }

  /** How long the person has been away, against how long idle-only work waits for; null: not known (counted as away). */
  idle(): { awaySec: number; needSec: number } | null {
    const g = this.person.idle();
    return g && { awaySec: Math.round(g.awayMs / 1000), needSec: Math.round(g.needMs / 1000) };
  }

  hold(id: number): TaskRecord {
    return this.commands.hold(id);
  }

  release(id: number): TaskRecord {
    return this.commands.release(id);
  }

  updateConfig(patch: Partial<ManagerConfig>): void {
    Object.assign(this.deps.config, patch);
    this.publisher.resources();
    this.loop.requestCycle();
  }

  /** Sets a project's weight and quotas (creating it). Lowering a quota stops nothing: it holds new starts. */
  setProject(name: string, patch: ProjectPatch): ProjectView {
    this.projects.set(name, patch, this.deps.clock.now());
    this.loop.requestCycle();
    return this.projectViews().find((p) => p.name === name)!;
  }

  ensureProject(name: string): void {
    this.projects.ensure(name, this.deps.clock.now());
  }

  // ---- queries --------------------------------------------------------------------------------

  /** The AI servers beside us: what each holds, whether it may be freed now, and whether it is being. */
  residents(): ResidentView[] {
    return this.desk.views(this.loop.unloading());
  }

  /**
   * Each project: weight, quotas, decayed usage and its share of all usage, against the share its
   * weight entitles it to among the projects with work (queued or running).
   */
  projectViews(): ProjectView[] {
    const now = this.deps.clock.now();
    this.projects.accrue(this.ledger.running(), now);
    const running = new Map<string, { n: number; vram: number }>();
    for (const r of this.ledger.running()) {
      const u = running.get(r.project ?? 'default') ?? { n: 0, vram: 0 };
      u.n += 1;
      u.vram += r.request.gpu ? r.request.gpu.vramMB * r.request.gpu.count : 0;
      running.set(r.project ?? 'default', u);
    }
    const rows = this.projects.all().map((p) => ({
      p,
      usage: this.projects.usage(p.name, now),
      running: running.get(p.name) ?? { n: 0, vram: 0 },
      queued: this.deps.store.countQueued(p.name),
    }));
    const totalUsage = rows.reduce((a, r) => a + r.usage, 0);
    const active = rows.filter((r) => r.running.n + r.queued > 0);
    const weights = (active.length > 0 ? active : rows).reduce((a, r) => a + r.p.weight, 0);
    return rows.map((r) => ({
      name: r.p.name,
      weight: r.p.weight,
      maxRunning: r.p.maxRunning,
      maxVramMB: r.p.maxVramMB,
      maxQueued: r.p.maxQueued,
      usage: r.usage,
      usageShare: totalUsage > 0 ? r.usage / totalUsage : 0,
      targetShare: weights > 0 && (active.length === 0 || active.includes(r)) ? r.p.weight / weights : 0,
      running: r.running.n,
      queued: r.queued,
      vramMB: r.running.vram,
    }));
  }

  isPaused(): boolean {
    return this.commands.paused;
  }

  /** Null while all is well; else why nothing new starts (the store cannot be written), since when. */
  degraded(): Degraded | null {
    return this.health.degraded();
  }

  /** What a running task has been seen to use at most so far (null when it is not running). */
  livePeak(id: number): PeakSample | null {
    return this.ledger.get(id)?.peak ?? null;
  }

  /** Where a queued task stands with the scheduler, as data; null when nothing holds it back. */
  schedulingStatus(task: StatusInput): Status | null {
    // Held first: that one waits on the person, whatever else it waits for.
    if (task.state === 'queued' && task.blocked && !task.held) return this.workflow.status(task.id);
    return this.loop.statusOf(task);
  }

  /** The same, in words. */
  waitingReason(task: StatusInput): string | null {
    return describeStatus(this.schedulingStatus(task));
  }

  /** What can be done to the task now. */
  actions(task: Pick<TaskRecord, 'state' | 'held'>): TaskActions {
    const ended = isTerminal(task.state);
    const queued = task.state === 'queued';
    return { cancel: !ended, retry: ended, priority: queued, hold: queued && !task.held, release: queued && task.held, move: queued };
  }

  /** A task's expected start and end (from the queue's simulation), or why there is none. */
  eta(task: Pick<TaskRecord, 'id' | 'state' | 'held' | 'updatedAt'>): { eta: Eta | null; note: string | null } {
    return this.estimator.of(task);
  }

  /** The queue's estimate as a whole: when it was worked out, its horizon, when the queue drains. */
  estimate(): Estimate {
    return this.estimator.current();
  }

  /** The task the last scheduling cycle kept resources for (see reservation.ts); null if none. */
  keptFor(): number | null {
    return this.ledger.keptFor();
  }

  queueLength(): number {
    return this.loop.size;
  }

  /** The machine's resources as the scheduler sees them now (also published as 'resources' events). */
  resources(): ResourceView {
    return this.ledger.view(this.deps.telemetry.current(), this.deps.clock.now());
  }

  /** What the agent's recent successful attempts really used; null until enough were measured. */
  profile(agent: string, where: string | null = null): LearnedProfile | null {
    return this.profiles.get(agent, where);
  }

  running(): readonly RunningUsage[] {
    return this.ledger.running();
  }

  capacity(): Capacity {
    const node = this.deps.telemetry.current();
    const { vramMarginMB, memoryMarginMB } = this.deps.config;
    return {
      cpuCores: node.cpuCores,
      memoryTotalMB: node.memoryTotalMB,
      gpuTotalsMB: node.gpus.filter((g) => !g.memoryUnknown).map((g) => g.totalMB),
      gpuAbsent:
        node.gpus.length === 0 && node.gpuStatus.state === 'absent' && node.gpuStatus.message !== GPU_NOT_QUERIED
          ? (node.gpuStatus.message ?? 'nvidia-smi is not there')
          : null,
      vramMarginMB,
      memoryMarginMB,
    };
  }
}
