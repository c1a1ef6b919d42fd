import { LoopDelay } from './loop-delay.js';
import { openDb, type OpenDb } from './adapters/sqlite/db.js';
import { SqliteTokenStore } from './adapters/sqlite/token-store.js';
import { SqliteTaskStore } from './adapters/sqlite/task-store.js';
import { FileAgentCatalog } from './adapters/agents/catalog.js';
import { consoleLogger } from './adapters/console-logger.js';
import { EventBus } from './adapters/events/event-bus.js';
import { SpawnerClient } from './adapters/process/spawner/client.js';
import { ProcessAgentRunner } from './adapters/process/runner.js';
import { systemClock } from './adapters/system-clock.js';
import { Families } from './adapters/process/families.js';
import { SqliteHistoryStore } from './adapters/sqlite/history-store.js';
import { TelemetryHistory } from './adapters/telemetry/history.js';
import { toSample } from './adapters/telemetry/sample.js';
import { SystemTelemetry } from './adapters/telemetry/system-telemetry.js';
import {
  DEFAULT_GAME_PROGRAMS,
  DEFAULT_SLURM_SETTINGS,
  remoteResidentProblem,
  SettingsPatchSchema,
  SLURM_SETTINGS,
  type Settings,
  type SlurmSettings,
} from '../contracts/settings.js';
import { slurmFromSettings } from './adapters/slurm/from-settings.js';
import { GameWatch } from './adapters/person/game-watch.js';
import { ManagerError } from './core/errors.js';
import type { LiveSetting, ServeOptions } from './config.js';
import { Manager } from './core/manager.js';
import type { Logger } from './core/ports.js';
import { acquireLock, ensureDataDir, type DataDirLayout } from './data-dir.js';
import { bundledAgentsDir } from './paths.js';
import type { ApiServices } from './api/services.js';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { inspectPath } from './adapters/files/inspect.js';
import { sweepUploads } from './adapters/files/uploads.js';
import { readArtifactStart } from './server/static-files.js';
import { AgentsWatch } from './adapters/agents/watch.js';
import { readAttemptLog } from './adapters/process/attempt-log.js';
import { attemptDir } from './adapters/process/runner.js';
import { ResidentMonitor, type ResidentConfig } from './adapters/residents/monitor.js';
import { RESIDENT_DEFAULT_URLS, RESIDENT_KINDS } from '../contracts/residents.js';

/**
 * The composition root's services: what the API needs (ApiServices), and what the HTTP server,
 * the CLI's serve and the desktop shell use besides. Shared by the headless and the Electron roots.
 */
export interface AppServices extends ApiServices {
  dirs: DataDirLayout;
  options: ServeOptions;
  manager: Manager;
  store: SqliteTaskStore;
  agents: FileAgentCatalog;
  telemetry: SystemTelemetry;
  history: TelemetryHistory;
  bus: EventBus;
  logger: Logger;
  /** Where an attempt's files are (its log, its artifacts). */
  attemptFolder(taskId: number, attempt: number): string;
  /** Stops scheduling and closes the store; running agents keep running unless asked. */
  close(opts?: { stopAgents?: boolean }): void;
}

/** The Slurm settings a patch sets (undefined ones left out). */
function pickSlurm(p: Partial<Settings>): Partial<SlurmSettings> {
  return Object.fromEntries(SLURM_SETTINGS.filter((k) => p[k] !== undefined).map((k) => [k, p[k]])) as Partial<SlurmSettings>;
}

export async function createAppServices(options: ServeOptions, logger: Logger = consoleLogger()): Promise<AppServices> {
  const dirs = ensureDataDir(options.dataDir);
  const release = acquireLock(dirs);
  let db: OpenDb | null = null;
  try {
    db = openDb(dirs.db);
    const store = new SqliteTaskStore(db);
    const tokenStore = new SqliteTokenStore(db);
    const agentSources = [
      { dir: bundledAgentsDir(), source: 'bundled' as const },
      { dir: dirs.agents, source: 'data-dir' as const },
      ...options.agentsDirs.map((dir) => ({ dir, source: 'extra' as const })),
    ];
    const agents = new FileAgentCatalog(agentSources);
    for (const p of agents.problems()) logger.warn('agent not loaded', { path: p.path, problem: p.message });
    // New and changed agents are picked up as they are written (and by `agentmgr agents --reload`).
    const reloadAgents = (why: string): void => {
      const before = new Set(agents.list().map((a) => a.name));
      agents.reload();
      const now = agents.list().map((a) => a.name);
      const added = now.filter((n) => !before.has(n));
      const removed = [...before].filter((n) => !now.includes(n));
      logger.info('agents reloaded', { why, agents: now.length, ...(added.length ? { added } : {}), ...(removed.length ? { removed } : {}) });
      for (const p of agents.problems()) logger.warn('agent not loaded', { path: p.path, problem: p.message });
    };
    const agentsWatch = new AgentsWatch(agentSources, () => reloadAgents('changed on disk'), {
      onError: (dir, e) => logger.warn('cannot watch an agents folder; `agentmgr agents --reload` picks up changes', { dir, error: e.message }),
    });
    // Settings changed in the UI are kept; a flag or environment variable given at start wins.
    const saved = SettingsPatchSchema.safeParse(store.getSetting('settings') ?? {});
    const pick = <K extends LiveSetting>(key: K, fallback: Settings[K]): Settings[K] =>
      options.explicit.has(key) || !saved.success || saved.data[key] === undefined ? fallback : (saved.data[key] as Settings[K]);
    // Processes that leave an agent's group: found by the telemetry's reading of /proc, stopped by the runner.
    const families = new Families();
    const telemetry = new SystemTelemetry({ intervalMs: pick('telemetryMs', options.telemetryMs), nvidiaSmi: options.nvidiaSmi, families });
    let desktopNotifications = saved.success ? (saved.data.desktopNotifications ?? true) : true;
    const kept = saved.success ? saved.data : {};
    const gpuLimitsAtStart = {
      all: { maxUtilPct: kept.gpuMaxUtilPct ?? null, maxTempC: kept.gpuMaxTempC ?? null, maxPowerW: kept.gpuMaxPowerW ?? null },
      perGpu: kept.gpuLimits ?? {},
    };
    // Residents: a URL from the environment wins over the saved one (tests turn them off that way).
    const residentConfig = (k: Partial<Settings>): ResidentConfig =>
      Object.fromEntries(
        RESIDENT_KINDS.map((kind) => [
          kind,
          {
            url: options.residentUrls[kind] ?? k[`${kind}Url`] ?? RESIDENT_DEFAULT_URLS[kind],
            policy: k[`${kind}Policy`] ?? 'when-idle',
          },
        ]),
      ) as ResidentConfig;
    const residents = new ResidentMonitor(residentConfig(kept), { logger, pollMs: options.residentPollMs });
    let residentSettings = residentConfig(kept);
    let residentRemoteAllowed = kept.residentRemoteAllowed ?? false;
    // Game mode: the person's programs that take the GPU.
    let gamePrograms = options.gamePrograms ?? kept.gameModePrograms ?? DEFAULT_GAME_PROGRAMS;
    const games = new GameWatch(gamePrograms, { intervalMs: options.gameWatchMs });
    await telemetry.start();
    const bus = new EventBus((e) => logger.error('an event subscriber failed', { error: e instanceof Error ? (e.stack ?? e.message) : String(e) }));
    // Agents are forked by a small helper process, not by this (large) one: ADR 22.
    const spawner =
      options.spawner === false
        ? null
        : new SpawnerClient({
            log: (level, message, fields) => logger[level](message, fields),
            ...(options.spawnerCommand ? { command: options.spawnerCommand } : {}),
          });
    // Not waited for: until it is ready (a few hundred ms), agents are forked here.
    void spawner?.start();
    const runner = new ProcessAgentRunner({ runsDir: dirs.runs, graceMs: options.graceMs, families, spawner });
    // The Slurm cluster, as the settings were when the Manager started.
    const slurmSettings: SlurmSettings = { ...DEFAULT_SLURM_SETTINGS, ...pickSlurm(kept) };
    const slurm = slurmFromSettings(slurmSettings);
    if (slurm && 'problem' in slurm) logger.warn('the Slurm cluster is not used', { problem: slurm.problem });
    const slurmExec = slurm && 'runner' in slurm ? slurm : null;
    const manager = new Manager({
      store,
      telemetry,
      runner,
      ...(slurmExec ? { slurm: slurmExec.runner, cluster: slurmExec.capacity } : {}),
      agents,
      clock: systemClock,
      events: bus,
      logger,
      residents,
      person: games,
      config: {
        residentIdleMs: (kept.residentIdleSec ?? 60) * 1000,
        yieldBelowPriority: kept.gameModeBelowPriority ?? 10,
        gameModeExitMs: (kept.gameModeExitSec ?? 30) * 1000,
        gameModeFreeVram: kept.gameModeFreeVram ?? false,
        idleAfterMs: (kept.idleAfterMin ?? 10) * 60_000,
        maxConcurrency: pick('maxConcurrency', options.maxConcurrency ?? Math.max(2, telemetry.current().cpuCores)),
        vramMarginMB: pick('vramMarginMB', options.vramMarginMB),
        memoryMarginMB: options.memoryMarginMB,
        progressFlushMs: 200,
        // As long as the two nvidia-smi loops can be apart: the collector pairs them within 2.5 intervals.
        readingWindowMs: options.readingWindowMs ?? 3 * pick('telemetryMs', options.telemetryMs),
        reserveAfterMs: toReserveMs(pick('reserveAfterSec', options.reserveAfterSec)),
        gpuLimits: gpuLimitsAtStart,
        usageHalfLifeMs: (kept.usageHalfLifeSec ?? 3600) * 1000,
        preemptMinRunMs: (kept.preemptMinRunSec ?? 60) * 1000,
        slurmAutoAfterMs: kept.slurmAutoAfterSec == null ? null : kept.slurmAutoAfterSec * 1000,
        ...(options.slurmAutoEveryMs !== undefined ? { slurmAutoEveryMs: options.slurmAutoEveryMs } : {}),
      },
    });
    manager.start();
    agentsWatch.start();
    residents.start();
    games.start();
    const gpuLimits = () => manager.config.gpuLimits ?? gpuLimitsAtStart;
    // Uploads no task names any more (their task removed, or never submitted) go after an hour.
    const uploadsDir = join(dirs.root, 'uploads');
    const sweep = (): void => {
      const gone = sweepUploads(uploadsDir, (dir) => manager.queries.inputMentions(dir), Date.now());
      if (gone.length > 0) logger.info('uploads no task names any more were removed', { count: gone.length });
    };
    sweep();
    const sweeper = setInterval(sweep, 10 * 60_000);
    // Where an attempt's files are: the folder it recorded (a Slurm one is on the shared folder), else the local one.
    const attemptFolder = (taskId: number, attempt: number): string =>
      store.attempts(taskId).find((a) => a.number === attempt)?.logDir ?? attemptDir(dirs.runs, taskId, attempt);
    sweeper.unref();
    // Resource history and the live stream of samples for the charts.
    const history = new TelemetryHistory({
      persistence: new SqliteHistoryStore(db),
      onError: (e) => logger.warn('resource history could not be saved (it is kept in memory)', { error: String(e) }),
    });
    if (history.skipped > 0) logger.warn('resource history: unreadable points were skipped', { count: history.skipped });
    // One point a published ResourceView (the Manager sends about one per telemetry tick).
    bus.on((e) => {
      if (e.type !== 'resources') return;
      const sample = toSample(telemetry.current(), e.view, telemetry.snapshot().cpu.loadPct, Date.now());
      history.add(sample);
      bus.emit({ type: 'telemetry', sample });
    });
    const opened = db;
    // How late timers run on this thread (what the desktop app's IPC and tray feel), from here on: health.eventLoop.
    const loopDelay = new LoopDelay(LOOP_RESOLUTION_MS);
    loopDelay.start();
    return {
      dirs,
      options,
      manager,
      store,
      agents,
      reloadAgents: () => reloadAgents('asked'),
      removeRuns: (ids) => {
        sweep();
        for (const id of ids)
          rm(join(dirs.runs, String(id)), { recursive: true, force: true }).catch((e: unknown) =>
            logger.warn('the files of a removed task could not all be deleted', { task: id, error: String(e) }),
          );
      },
      telemetry,
      history,
      bus,
      events: bus,
      logger,
      startedAt: Date.now(),
      dataDir: dirs.root,
      readLog: (taskId, attempt) => readAttemptLog(attemptFolder(taskId, attempt)),
      readArtifact: (a, maxBytes) => readArtifactStart(a.path, join(attemptFolder(a.taskId, a.attempt), 'artifacts'), maxBytes),
      attemptFolder,
      slurm: () => slurmExec?.queue.status() ?? null,
      eventLoop: (windowSec) => loopDelay.summary(windowSec),
      spawner: () => spawner?.status() ?? { mode: 'direct', pid: null, restarts: 0, problem: 'turned off (AGENTMGR_SPAWNER=0)', badLines: 0 },
      inspectPath,
      tokens: {
        create: (project, label) => tokenStore.create(project, label, Date.now()),
        list: () => tokenStore.list(),
        revoke: (id) => tokenStore.revoke(id, Date.now()),
        resolve: (token) => tokenStore.resolve(token),
      },
      settings: {
        get: () => ({
          maxConcurrency: manager.config.maxConcurrency,
          vramMarginMB: manager.config.vramMarginMB,
          telemetryMs: telemetry.intervalMs,
          reserveAfterSec: Math.round((manager.config.reserveAfterMs ?? 0) / 1000),
          desktopNotifications,
          gpuMaxUtilPct: gpuLimits().all.maxUtilPct ?? null,
          gpuMaxTempC: gpuLimits().all.maxTempC ?? null,
          gpuMaxPowerW: gpuLimits().all.maxPowerW ?? null,
          gpuLimits: gpuLimits().perGpu,
          usageHalfLifeSec: Math.round((manager.config.usageHalfLifeMs ?? 3_600_000) / 1000),
          preemptMinRunSec: Math.round((manager.config.preemptMinRunMs ?? 60_000) / 1000),
          ollamaUrl: residentSettings.ollama.url,
          ollamaPolicy: residentSettings.ollama.policy,
          comfyuiUrl: residentSettings.comfyui.url,
          comfyuiPolicy: residentSettings.comfyui.policy,
          llamacppUrl: residentSettings.llamacpp.url,
          llamacppPolicy: residentSettings.llamacpp.policy,
          residentIdleSec: Math.round((manager.config.residentIdleMs ?? 60_000) / 1000),
          gameModePrograms: gamePrograms,
          gameModeBelowPriority: manager.config.yieldBelowPriority ?? 10,
          gameModeExitSec: Math.round((manager.config.gameModeExitMs ?? 30_000) / 1000),
          gameModeFreeVram: manager.config.gameModeFreeVram ?? false,
          idleAfterMin: Math.round((manager.config.idleAfterMs ?? 600_000) / 60_000),
          residentRemoteAllowed,
          ...slurmSettings,
          slurmAutoAfterSec: manager.config.slurmAutoAfterMs == null ? null : Math.round(manager.config.slurmAutoAfterMs / 1000),
        }),
        async update(patch) {
          // Written first: a refused write (a full disk) changes nothing, in memory or on disk.
          const next: Settings = { ...this.get(), ...patch };
          const remote = remoteResidentProblem(next);
          if (remote) throw new ManagerError('INVALID_INPUT', remote.message);
          store.setSetting('settings', next);
          const {
            telemetryMs,
            desktopNotifications: notify,
            reserveAfterSec,
            gpuMaxUtilPct,
            gpuMaxTempC,
            gpuMaxPowerW,
            gpuLimits: perGpu,
            usageHalfLifeSec,
            preemptMinRunSec,
            ollamaUrl: _ou,
            ollamaPolicy: _op,
            comfyuiUrl: _cu,
            comfyuiPolicy: _cp,
            llamacppUrl: _lu,
            llamacppPolicy: _lp,
            residentIdleSec,
            gameModePrograms,
            gameModeBelowPriority,
            gameModeExitSec,
            gameModeFreeVram,
            idleAfterMin,
            residentRemoteAllowed: remoteOk,
            slurmEnabled,
            slurmSharedDir,
            slurmBin,
            slurmVia,
            slurmPartition,
            slurmAccount,
            slurmQos,
            slurmExtraArgs,
            slurmAutoAfterSec,
            ...rest
          } = patch;
          // Kept (written above) and shown; the executor is built from them when the Manager next starts.
          const slurmPatch = { slurmEnabled, slurmSharedDir, slurmBin, slurmVia, slurmPartition, slurmAccount, slurmQos, slurmExtraArgs };
          Object.assign(slurmSettings, pickSlurm(slurmPatch));
          if (remoteOk !== undefined) residentRemoteAllowed = remoteOk;
          // A URL or policy changed now applies, even over one the environment gave at start.
          residentSettings = Object.fromEntries(
            RESIDENT_KINDS.map((kind) => [
              kind,
              { url: patch[`${kind}Url`] ?? residentSettings[kind].url, policy: patch[`${kind}Policy`] ?? residentSettings[kind].policy },
            ]),
          ) as ResidentConfig;
          residents.configure(residentSettings);
          if (notify !== undefined) desktopNotifications = notify;
          const all = gpuLimits().all;
          const limits = {
            all: {
              maxUtilPct: gpuMaxUtilPct !== undefined ? gpuMaxUtilPct : (all.maxUtilPct ?? null),
              maxTempC: gpuMaxTempC !== undefined ? gpuMaxTempC : (all.maxTempC ?? null),
              maxPowerW: gpuMaxPowerW !== undefined ? gpuMaxPowerW : (all.maxPowerW ?? null),
            },
            perGpu: perGpu ?? gpuLimits().perGpu,
          };
          manager.updateConfig({
            ...rest,
            gpuLimits: limits,
            ...(usageHalfLifeSec !== undefined ? { usageHalfLifeMs: usageHalfLifeSec * 1000 } : {}),
            ...(preemptMinRunSec !== undefined ? { preemptMinRunMs: preemptMinRunSec * 1000 } : {}),
            ...(residentIdleSec !== undefined ? { residentIdleMs: residentIdleSec * 1000 } : {}),
            ...(gameModeBelowPriority !== undefined ? { yieldBelowPriority: gameModeBelowPriority } : {}),
            ...(gameModeExitSec !== undefined ? { gameModeExitMs: gameModeExitSec * 1000 } : {}),
            ...(gameModeFreeVram !== undefined ? { gameModeFreeVram } : {}),
            ...(idleAfterMin !== undefined ? { idleAfterMs: idleAfterMin * 60_000 } : {}),
            ...(reserveAfterSec !== undefined ? { reserveAfterMs: toReserveMs(reserveAfterSec) } : {}),
            ...(slurmAutoAfterSec !== undefined ? { slurmAutoAfterMs: slurmAutoAfterSec === null ? null : slurmAutoAfterSec * 1000 } : {}),
          });
          if (gameModePrograms !== undefined) games.setPatterns((gamePrograms = gameModePrograms));
          if (telemetryMs !== undefined) await telemetry.setInterval(telemetryMs);
          logger.info('settings changed', patch);
          return this.get();
        },
      },
      close: (opts) => {
        loopDelay.stop();
        clearInterval(sweeper);
        agentsWatch.close();
        games.stop();
        residents.stop();
        manager.stop(opts);
        spawner?.stop();
        slurmExec?.queue.stop();
        telemetry.stop();
        history.flush();
        opened.close();
        release();
      },
    };
  } catch (e) {
    db?.close();
    release();
    throw e;
  }
}

/** Coarse enough that the monitor's own timer costs next to nothing while idle (telemetry's budget is 1 % of a core). */
const LOOP_RESOLUTION_MS = 50;

/** The setting in seconds, 0 meaning never, as the Manager takes it. */
function toReserveMs(sec: number): number | null {
  return sec === 0 ? null : sec * 1000;
}
