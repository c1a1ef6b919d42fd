import type { LoopDelaySummary } from '../loop-delay.js';
import type { Settings, SettingsPatch } from '../../contracts/settings.js';
import type { TokenView } from '../../contracts/project.js';
import type { HistoryRange, TelemetrySample, TelemetrySnapshot } from '../../contracts/telemetry.js';
import type { Manager } from '../core/manager.js';
import type { ArtifactRecord } from '../core/model/task.js';
import type { AgentCatalog, AppEvent } from '../core/ports.js';

/** A dropped path, as checked where it is (see adapters/files/inspect.ts). */
export type InspectedPath =
  { path: string; ok: true; realPath: string; name: string; sizeBytes: number; viaSymlink: boolean } | { path: string; ok: false; error: string };

/**
 * What the API needs, and nothing more: the Manager (its commands and its queries; the store is
 * read only through `manager.queries`), the agent catalog, live events, and a few read-outs. The
 * composition roots (app.ts) build it from the adapters; the API never imports an adapter (the
 * lint enforces it).
 */
export interface ApiServices {
  manager: Manager;
  agents: Pick<AgentCatalog, 'list' | 'problems'>;
  /** Reads the agents folders again (what the folder watcher does on a change). */
  reloadAgents(): void;
  /** Deletes the run folders (logs, artifacts) of tasks removed for good. */
  removeRuns(ids: readonly number[]): void;
  /** Live events as an async iterable of what `pick` maps them to, until `signal` aborts. */
  events: { stream<T>(pick: (e: AppEvent) => T | undefined, signal: AbortSignal | undefined): AsyncGenerator<T> };
  telemetry: {
    snapshot(): TelemetrySnapshot;
    /** How often the nvidia-smi loop had to be restarted. */
    collectorRestarts(): number;
  };
  history: { get(range: HistoryRange): TelemetrySample[] };
  /** The whole log of one attempt ('' when there is none). */
  readLog(taskId: number, attempt: number): string;
  /**
   * The first `maxBytes` of an artifact's file, checked as a download is (the regular file the
   * store lists, still inside its attempt's artifacts folder), or why it cannot be read.
   */
  readArtifact(a: ArtifactRecord, maxBytes: number): { bytes: Uint8Array; sizeBytes: number } | { error: string };
  /** Dropped files, checked where they are. */
  inspectPath(path: string): InspectedPath;
  settings: { get(): Settings; update(patch: SettingsPatch): Promise<Settings> };
  /** Tokens for scripts, each bound to one project (the secret is shown once, at creation). */
  tokens: {
    create(project: string, label: string | null): { token: string; view: TokenView };
    list(): TokenView[];
    revoke(id: number): boolean;
    /** The project a live token is bound to; null for an unknown or revoked one. */
    resolve(token: string): string | null;
  };
  dataDir: string;
  startedAt: number;
  /** Whether the Slurm cluster answers, as of its last look; absent or null: no cluster is set up. */
  slurm?: () => { reachable: boolean; message: string | null; since: number; watched: number } | null;
  /** How late this thread's timers run, since the Manager started (perf_hooks.monitorEventLoopDelay). */
  eventLoop?: (windowSec?: number) => LoopDelaySummary;
  /** The spawner (ADR 22): whether agents are started through it, or directly and why. */
  spawner?: () => { mode: 'spawner' | 'direct' | 'starting'; pid: number | null; restarts: number; problem: string | null; badLines: number } | null;
}
