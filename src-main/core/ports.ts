/**
 * Every interface the core needs from the outside world. Each implementation lives in
 * src-main/adapters and is named for what it is (SqliteTaskStore, ProcessAgentRunner, ...).
 * Contracts are stated on each method; the conformance tests in test/ check them.
 */
import type { AgentManifest, AgentProblem } from '../../contracts/agent-manifest.js';
import type { AgentEvent } from '../../contracts/agent-output.js';
import type { TaskSort, TaskState } from '../../contracts/task.js';
import type { RunOutcome } from './lifecycle/attempt-end.js';
import type { NodeSnapshot } from './model/node.js';
import type { PeakSample } from './model/profile.js';
import type { QueueEntry } from './scheduler/queue.js';
import type {
  ArtifactRecord,
  AttemptEndRecord,
  AttemptRecord,
  NewTask,
  TaskAfterAttempt,
  TaskRecord,
} from './model/task.js';

export interface TimerHandle {
  readonly id: unknown;
}

/** Time and randomness. The core never reads the wall clock or Math.random directly. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
  /** Uniform in [0, 1): jitter. */
  random(): number;
}

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface PageFilter {
  states?: readonly TaskState[];
  agent?: string;
  /** A task id, or part of a name. */
  search?: string;
}

export interface TaskFilter {
  states?: readonly TaskState[];
  agent?: string;
  /** Only tasks with a smaller id (pages go newest first). */
  beforeId?: number;
  limit: number;
}

/**
 * Durable task state. Synchronous: every call has committed when it returns, so a caller may
 * acknowledge what it wrote. Guarded methods return false, and change nothing, when the task is
 * not in the state (and attempt) they expect: that is how each attempt ends exactly once.
 */
export interface TaskStore {
  /** All or nothing, in one transaction. Returns the stored tasks in the given order. */
  insertTasks(tasks: readonly NewTask[]): TaskRecord[];
  getTask(id: number): TaskRecord | null;
  listTasks(filter: TaskFilter): TaskRecord[];
  countByState(): Record<TaskState, number>;
  /** Any window of the filtered list in the given order, and how many match in all. */
  pageTasks(filter: PageFilter, sort: TaskSort, offset: number, limit: number): { items: TaskRecord[]; total: number };
  /** Every queued task, with only what the scheduler needs (cheap to load for a long queue). */
  queuedEntries(): QueueEntry[];
  /** Tasks in `starting` or `running`, each with its current attempt. */
  active(): { task: TaskRecord; attempt: AttemptRecord }[];
  /** Guarded queued -> starting; counts the attempt and records it. */
  beginAttempt(taskId: number, expectedAttempts: number, startedAt: number, gpus: readonly number[]): boolean;
  /** Guarded starting -> running; records the process identity. */
  markSpawned(taskId: number, attempt: number, proc: { pid: number; pidStartTime: string; pgid: number; logDir: string }): boolean;
  /** Guarded: ends the attempt if it has not ended yet, and moves the task on. */
  endAttempt(taskId: number, attempt: number, end: AttemptEndRecord, next: TaskAfterAttempt): boolean;
  /** Guarded queued -> cancelled. */
  cancelQueued(taskId: number, at: number): boolean;
  setDesired(taskId: number, desired: TaskRecord['desired']): void;
  /** Guarded: only while queued. */
  setPriority(taskId: number, priority: number): boolean;
  /** Guarded terminal -> queued, with room for one more attempt. */
  requeue(taskId: number, from: TaskState, at: number): boolean;
  setProgress(taskId: number, progress: number, message: string | null, at: number): void;
  /** Stores the attempt's result; false (nothing written) when it already holds exactly that. */
  setResult(taskId: number, attempt: number, data: unknown): boolean;
  addArtifact(artifact: ArtifactRecord): void;
  attempts(taskId: number): AttemptRecord[];
  artifacts(taskId: number): ArtifactRecord[];
  addEvent(taskId: number, attempt: number | null, type: string, data: unknown, at: number): void;
  /** Peaks of the agent's most recent successful attempts, newest first. */
  recentPeaks(agent: string, limit: number): PeakSample[];
  getSetting<T>(key: string): T | undefined;
  setSetting(key: string, value: unknown): void;
}

/** The machine as telemetry last saw it. `subscribe` calls back after each new observation. */
export interface TelemetrySource {
  current(): NodeSnapshot;
  subscribe(listener: () => void): () => void;
  /** The process groups whose RAM and CPU to report in `current().groups` (our running agents). */
  watch(pgids: readonly number[]): void;
}

export interface AgentSpec extends AgentManifest {
  title: string;
  dir: string;
  source: 'bundled' | 'data-dir' | 'extra';
}

export interface AgentCatalog {
  get(name: string): AgentSpec | undefined;
  list(): AgentSpec[];
  /** Manifests that could not be loaded, with their path and what to fix. */
  problems(): AgentProblem[];
  /** null if the input satisfies the agent's inputSchema, else what is wrong with it. */
  validateInput(agent: AgentSpec, input: Record<string, unknown>): string | null;
}

export interface LaunchSpec {
  taskId: number;
  attempt: number;
  agent: AgentSpec;
  input: Record<string, unknown>;
  gpus: readonly number[];
  /** Epoch ms after which the run is stopped as timed out; null for none. */
  deadline: number | null;
}

/**
 * An attempt an earlier Manager left. The process fields are null when that Manager stopped
 * before recording them (between spawning and recording): the executor then finds the run by
 * what it left in the attempt folder, or proves it never started.
 */
export interface AdoptSpec extends LaunchSpec {
  pid: number | null;
  pidStartTime: string | null;
  pgid: number | null;
  logDir: string | null;
}

export type AdoptResult = { alive: true; handle: RunHandle } | { alive: false; outcome: RunOutcome };

/** What a run reports. Events arrive in output order; onExit comes once, last. */
export type RunnerEvent =
  | { type: 'spawned'; pid: number; pidStartTime: string; pgid: number; logDir: string }
  | Exclude<AgentEvent, { type: 'artifact' } | { type: 'log' }>
  | { type: 'artifact'; path: string; name: string; sizeBytes: number }
  /** Log text (one or more whole lines) already written to the attempt's log. */
  | { type: 'log'; text: string }
  | { type: 'exit'; outcome: RunOutcome };

export type RunListener = (event: RunnerEvent) => void;

export interface RunHandle {
  /** SIGTERM to the whole process group, SIGKILL after the grace period. Idempotent. */
  cancel(): void;
  /** Stop watching without touching the process (Manager shutdown; it is re-adopted later). */
  detach(): void;
}

export interface AgentRunner {
  /** Spawns the agent. Never throws: a failure to start is reported as an exit with startError. */
  start(spec: LaunchSpec, listener: RunListener): RunHandle;
  /**
   * Re-attaches to a run started by an earlier Manager, matched by pid and process start time
   * (or, where those were never recorded, by the run's marker; a 'spawned' event then reports
   * them). When it is gone, returns how it ended: from the status it left, `notStarted` when it
   * provably never ran, else unknown. Never signals a process it cannot prove is the run's.
   */
  adopt(spec: AdoptSpec, listener: RunListener): AdoptResult;
}

export type ManagerEvent =
  | { type: 'task'; task: TaskRecord }
  | { type: 'log'; taskId: number; attempt: number; text: string }
  | { type: 'queue'; paused: boolean }
  /** The Manager went degraded (its store cannot be written), or recovered (null). */
  | { type: 'health'; degraded: { since: number; reason: string } | null };

export interface EventSink {
  emit(event: ManagerEvent): void;
}
