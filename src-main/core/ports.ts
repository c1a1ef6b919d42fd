/**
 * Every interface the core needs from the outside world. Each implementation lives in
 * src-main/adapters and is named for what it is (SqliteTaskStore, ProcessAgentRunner, ...).
 * Contracts are stated on each method; the contract suites in test/ports/ run them against every
 * implementation (the real adapter and the in-memory or fake one the Manager's tests use).
 */
import type { AgentManifest, AgentProblem } from '../../contracts/agent-manifest.js';
import type { AgentEvent } from '../../contracts/agent-output.js';
import type { ResourceRequest, ResourceView } from '../../contracts/resources.js';
import type { TelemetrySample } from '../../contracts/telemetry.js';
import type { TaskSort, TaskState } from '../../contracts/task.js';
import type { RunOutcome } from './lifecycle/attempt-end.js';
import type { NodeSnapshot } from './model/node.js';
import type { PeakSample } from './model/profile.js';
import type { QueueEntry } from './scheduler/queue.js';
import type { ArtifactRecord, AttemptEndRecord, AttemptRecord, DependencyLink, NewTask, TaskAfterAttempt, TaskEventRecord, TaskRecord } from './model/task.js';
import type { DepTarget } from './workflow/dependencies.js';
import type { ProjectRecord } from './projects/projects.js';
import type { ResidentKind } from '../../contracts/residents.js';
import type { YieldingView } from '../../contracts/person.js';
import type { GameSighting } from './person/yield.js';
import type { ResidentState } from './residents/ladder.js';

export interface TimerHandle {
  readonly id: unknown;
}

/** Time and randomness. The core never reads the wall clock or Math.random directly. */
export interface Clock {
  /** Epoch ms; never goes backwards within one Manager. */
  now(): number;
  /** Calls `fn` once, `ms` from now (0: on a later turn, never from inside this call). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** A timer cleared before it fires never fires; clearing one that fired does nothing. */
  clearTimeout(handle: TimerHandle): void;
  /** Uniform in [0, 1): jitter. */
  random(): number;
}

export interface Logger {
  /** What a person running the Manager may want to know; never throws. */
  info(message: string, fields?: Record<string, unknown>): void;
  /** Something went wrong and was handled (a bad manifest, a lost GPU). */
  warn(message: string, fields?: Record<string, unknown>): void;
  /** Something went wrong that should not have (a bug, a store that cannot be written). */
  error(message: string, fields?: Record<string, unknown>): void;
}

export interface PageFilter {
  states?: readonly TaskState[];
  agent?: string;
  project?: string;
  /** Only the tasks of this array. */
  arrayId?: number;
  /** Each array as one row: only tasks in no array, and each array's first task. */
  arrayHeads?: boolean;
  /** A task id, or part of a name. */
  search?: string;
}

/** An array at a glance: what its group row in the UI shows. */
export interface ArraySummary {
  arrayId: number;
  total: number;
  counts: Record<TaskState, number>;
  /** 0..1 over all its tasks: an ended one counts 1, a running one its progress, a queued one 0. */
  progress: number;
  throttle: number | null;
}

export interface TaskFilter {
  states?: readonly TaskState[];
  agent?: string;
  project?: string;
  /** Only the tasks of this array. */
  arrayId?: number;
  /** Only those waiting for their dependencies (true), or only the others (false). */
  blocked?: boolean;
  /** Only tasks whose name contains this (any case). */
  name?: string;
  /** Only tasks with a smaller id (pages go newest first). */
  beforeId?: number;
  limit: number;
}

/**
 * Durable task state. Synchronous: every call has committed when it returns, so a caller may
 * acknowledge what it wrote. Guarded methods return the task as it is after the write (one round
 * trip: SQL's RETURNING), or null, having changed nothing, when the task is not in the state (and
 * attempt) they expect: that is how each attempt ends exactly once. Every guard is one edge of
 * lifecycle/transitions.ts; a test checks that the two agree.
 */
export interface TaskStore {
  /** All or nothing, in one transaction. Returns the stored tasks in the given order. */
  insertTasks(tasks: readonly NewTask[]): TaskRecord[];
  /** The task as stored; null for no such id. */
  getTask(id: number): TaskRecord | null;
  /** Newest first, filtered, at most `limit`. */
  listTasks(filter: TaskFilter): TaskRecord[];
  /** How many tasks are in each state (every state present, 0 where none). */
  countByState(): Record<TaskState, number>;
  /** Each project's weight, quotas and usage (see projects/projects.ts). */
  projects(): ProjectRecord[];
  /** Writes one project (creating it). */
  putProject(p: ProjectRecord): void;
  /** How many of a project's tasks are queued. */
  countQueued(project: string): number;
  /** Any window of the filtered list in the given order, and how many match in all. */
  pageTasks(filter: PageFilter, sort: TaskSort, offset: number, limit: number): { items: TaskRecord[]; total: number };
  /** Every queued task that is not held or blocked, with only what the scheduler needs (cheap to load for a long queue). */
  queuedEntries(): QueueEntry[];
  /** Tasks in `starting` or `running`, each with its current attempt. */
  active(): { task: TaskRecord; attempt: AttemptRecord }[];
  /**
   * Guarded queued -> starting, only while it has had `expectedAttempts`: counts the attempt,
   * records it (outcome running, the GPUs given), clears backoff and progress.
   */
  beginAttempt(taskId: number, expectedAttempts: number, startedAt: number, gpus: readonly number[]): TaskRecord | null;
  /**
   * Records the process identity of a running attempt (null if that attempt has ended), and moves
   * the task starting -> running; a task already running is returned as it is.
   */
  markSpawned(taskId: number, attempt: number, proc: { pid: number | null; pidStartTime: string; pgid: number | null; logDir: string }): TaskRecord | null;
  /**
   * Guarded: ends the attempt only if it is still running and the task is on it (starting or
   * running), moves the task to `next`, and logs one attempt-ended event; null (nothing written)
   * when that attempt has already ended. Throws, writing nothing, when `next` is an active state.
   */
  endAttempt(taskId: number, attempt: number, end: AttemptEndRecord, next: TaskAfterAttempt): TaskRecord | null;
  /** Guarded queued -> cancelled (desired cancel, finished at `at`). */
  cancelQueued(taskId: number, at: number): TaskRecord | null;
  /** What the user wants of it, whatever its state; null for no such task. */
  setDesired(taskId: number, desired: TaskRecord['desired']): TaskRecord | null;
  /** Guarded: only while queued. */
  setPriority(taskId: number, priority: number): TaskRecord | null;
  /** Guarded: only while queued. A held task is not in queuedEntries() until released. */
  setHeld(taskId: number, held: boolean, at: number): TaskRecord | null;
  /**
   * Guarded `from` (a terminal state) -> queued, with room for one more attempt; clears the
   * result, error, progress, backoff, hold and cause, sets `blocked` (it waits for its
   * dependencies again), and logs a retried event. Null when `from` is not terminal or the task
   * is not in it.
   */
  requeue(taskId: number, from: TaskState, at: number, blocked?: boolean): TaskRecord | null;
  /** Guarded: only while queued. Its priority and its place within it (see TaskRecord.seq). */
  setPlace(taskId: number, priority: number, seq: number, at: number): TaskRecord | null;
  /**
   * The smallest and largest place among queued tasks (of one priority, when given; only places
   * below or above a place, when given); null where there is none.
   */
  seqBounds(q: { priority?: number; below?: number; above?: number }): { min: number | null; max: number | null };
  /**
   * What dependencies on `ids` mean: each id's task, or, for the id of an array, every task of
   * it; an id that names nothing is absent.
   */
  dependencyTargets(ids: readonly number[]): Map<number, DepTarget[]>;
  /**
   * What the task depends on, with where each of those stands now (at most `limit` links,
   * first given first; `total` counts them all); null when it depends on nothing.
   */
  dependencies(taskId: number, limit?: number): { mode: 'all' | 'any'; links: DependencyLink[]; total: number } | null;
  /**
   * Deletes each of `ids` that has ended, with its attempts, events, artifacts and dependency
   * links, in one transaction; returns the ids deleted (one that has not ended is kept).
   */
  removeEnded(ids: readonly number[]): number[];
  /** Whether any stored task's input holds this text (as it is written in the input's JSON). */
  inputMentions(text: string): boolean;
  /** Ids of ended tasks (in `states`, of `agent`/`project`, ended before `endedBefore`), ascending. */
  endedIds(f: { states: readonly TaskState[]; agent?: string; project?: string; endedBefore?: number }): number[];
  /** Ids of the tasks that depend on any of `ids` (only the queued ones still blocked, when `blockedOnly`), ascending. */
  dependents(ids: readonly number[], blockedOnly: boolean): number[];
  /**
   * One transaction, each change guarded (queued and blocked): unblocks some (they join the
   * queue), cancels the others with their reason and cause; logs an event for each. Returns the
   * tasks changed, in the order given (unblocked first).
   */
  settleDependents(change: { unblock: readonly number[]; cancel: readonly { id: number; cause: number; reason: string }[] }, at: number): TaskRecord[];
  /** Tasks still cancelled because `id` could no longer be met (their cause), ascending. */
  causedBy(id: number): number[];
  /** Each array's size, counts by state and combined progress (ended tasks count as done); unknown ids are left out. */
  arraySummaries(ids: readonly number[]): ArraySummary[];
  /** The latest progress; null for no such task. */
  setProgress(taskId: number, progress: number, message: string | null, at: number): TaskRecord | null;
  /** Stores the attempt's result; false (nothing written) when it already holds exactly that. */
  setResult(taskId: number, attempt: number, data: unknown): boolean;
  /** Queued tasks submitted with backend auto and placed here (not held, not waiting on dependencies), first by their place; at most `limit`. */
  autoQueued(limit: number): TaskRecord[];
  /** Sends a queued auto task to the Slurm cluster instead (backend slurm), with an 'offloaded' event; null when it is no longer such a task. */
  offload(taskId: number, data: unknown, at: number): TaskRecord | null;
  /** Where its remote run (this attempt's) waits or runs; false when that is not its current attempt or nothing changed. */
  setPlacement(taskId: number, attempt: number, where: string): boolean;
  /** Records an artifact; the same path again updates its name, size and attempt. */
  addArtifact(artifact: ArtifactRecord): void;
  /** Every attempt of the task, first to last. */
  attempts(taskId: number): AttemptRecord[];
  /** Every artifact of the task, in the order recorded. */
  artifacts(taskId: number): ArtifactRecord[];
  /**
   * The newest artifacts of all tasks (of one project, when given): newest first, ties by task
   * (higher id first) and then by place; `index` is the artifact's place in its task's list.
   */
  recentArtifacts(limit: number, project?: string): { artifact: ArtifactRecord; index: number; agent: string }[];
  /** Adds to the task's timeline. */
  addEvent(taskId: number, attempt: number | null, type: string, data: unknown, at: number): void;
  /** The task's timeline, oldest first (every attempt-ended, retried and other event written). */
  events(taskId: number): TaskEventRecord[];
  /** The peaks of its latest successful attempts measured at `where` (null: this machine; "slurm": the cluster), newest first. */
  recentPeaks(agent: string, limit: number, where?: string | null): PeakSample[];
  /** How long (ms) the agent's most recent successful attempts ran, newest first. */
  recentDurations(agent: string, limit: number): number[];
  /** A setting as stored (JSON); undefined when never set. */
  getSetting<T>(key: string): T | undefined;
  /** Stores a setting (JSON), replacing what was there. */
  setSetting(key: string, value: unknown): void;
}

/** The machine as telemetry sees it (contract suite: test/ports/telemetry.contract.test.ts). */
export interface TelemetrySource {
  /**
   * The last observation, whole: cores, RAM (0 <= available <= total), each GPU seen with its
   * processes (null where per-process figures are missing), and the GPU status (`ok` when GPUs
   * are listed; `absent` or `error` with a message a person can act on otherwise). Never throws.
   */
  current(): NodeSnapshot;
  /** Calls back after each new observation; the returned function unsubscribes. */
  subscribe(listener: () => void): () => void;
  /**
   * The process groups whose RAM and CPU to report in `current().groups` (our running agents):
   * new ones from the next observation on, and only those (one dropped goes at once).
   */
  watch(pgids: readonly number[]): void;
}

export interface AgentSpec extends AgentManifest {
  title: string;
  dir: string;
  source: 'bundled' | 'data-dir' | 'extra';
}

/** The installed agents (bundled, the data dir's, extra folders; a later one wins by name). */
export interface AgentCatalog {
  /** The agent of that name, as installed now; undefined when there is none. */
  get(name: string): AgentSpec | undefined;
  /** Every agent that loaded, by name. */
  list(): AgentSpec[];
  /** Manifests that could not be loaded, with their path and what to fix. */
  problems(): AgentProblem[];
  /** null if the input satisfies the agent's inputSchema, else what is wrong with it. */
  validateInput(agent: AgentSpec, input: Record<string, unknown>): string | null;
  /** A copy of a valid input with its schema's defaults filled in (what is stored); absent: stored as given. */
  withDefaults?(agent: AgentSpec, input: Record<string, unknown>): Record<string, unknown>;
}

export interface LaunchSpec {
  taskId: number;
  attempt: number;
  agent: AgentSpec;
  input: Record<string, unknown>;
  gpus: readonly number[];
  /** Its array and index there (AGENT_ARRAY_ID, AGENT_ARRAY_INDEX); null or absent for none. */
  array?: { id: number; index: number } | null;
  /** It may be preempted (AGENT_PREEMPTIBLE=1, with AGENT_PREEMPT_GRACE_SEC); absent: no. */
  preemptible?: boolean;
  /**
   * How long from now it may run before it is stopped as timed out; null for none. A duration,
   * not a moment: the executor never compares against the Manager's clock.
   */
  timeoutMs: number | null;
  /** The URL of the resident server its agent drives (AGENT_RESIDENT_URL); absent or null: the agent's default. */
  residentUrl?: string | null;
  /** What it asked for (a remote executor asks its own scheduler for it: Slurm's --mem, --gres); absent: the agent's. */
  request?: ResourceRequest;
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
  /** The run's identity, recorded for re-adoption. pid and pgid are null for a run on another machine (Slurm): pidStartTime then names it ("slurm:<job id>"). */
  | { type: 'spawned'; pid: number | null; pidStartTime: string; pgid: number | null; logDir: string }
  | Exclude<AgentEvent, { type: 'artifact' } | { type: 'log' }>
  | { type: 'artifact'; path: string; name: string; sizeBytes: number }
  /** Log text (one or more whole lines) already written to the attempt's log. */
  | { type: 'log'; text: string }
  /** Where a remote run waits or runs, in words ("partition gpu, node gpu03"): shown with the task. */
  | { type: 'placement'; where: string }
  | { type: 'exit'; outcome: RunOutcome };

export type RunListener = (event: RunnerEvent) => void;

/** A stop that is not a person's cancel: a preemption, with its own grace and the line for the log. */
export interface StopRequest {
  graceMs: number;
  /** Written to the attempt's log ("preempted for task 12 ..."). */
  note: string;
}

export interface RunHandle {
  /**
   * SIGTERM to the whole process group, SIGKILL after the grace period (the runner's, or the
   * request's). Idempotent: the first stop wins.
   */
  cancel(request?: StopRequest): void;
  /** Stop watching without touching the process (Manager shutdown; it is re-adopted later). */
  detach(): void;
}

/**
 * The executor port: where and how an attempt runs (contract suite:
 * test/ports/executor.contract.test.ts). The local process runner is the first implementation;
 * a Slurm executor is the second (issue 15).
 *
 * It takes a LaunchSpec: the agent, its input, the GPUs it was given and how long it may run. It
 * reports RunnerEvents to the listener, in output order: `spawned` first, but for log text (the
 * process or job identity, which the Manager records so a restarted Manager can re-adopt it), then progress, results,
 * artifacts and log text, and `exit` exactly once, last, with how it ended. Nothing is reported
 * from inside start() itself for a start that fails, and nothing at all after `exit` or after
 * `detach()`. The handle cancels (the run then exits `cancelled`, whatever else it was doing,
 * unless it was already being stopped for its time limit) or detaches.
 */
export interface AgentRunner {
  /** Starts the attempt. Never throws: a failure to start is reported as an exit with startError, and no `spawned`. */
  start(spec: LaunchSpec, listener: RunListener): RunHandle;
  /**
   * Re-attaches to a run started by an earlier Manager, matched by pid and process start time
   * (or, where those were never recorded, by the run's marker; a 'spawned' event then reports
   * them). When it is gone, returns how it ended: from the status it left, `notStarted` when it
   * provably never ran, else unknown. Never signals a process it cannot prove is the run's.
   */
  adopt(spec: AdoptSpec, listener: RunListener): AdoptResult;
}

/** One node of the Slurm cluster, and what it has free now (sinfo). */
export interface ClusterNode {
  name: string;
  partitions: string[];
  /** It takes new jobs (idle or mixed; not down, drained or reserved). */
  usable: boolean;
  idleCpus: number;
  freeMemoryMB: number;
  freeGpus: number;
}

/** The Slurm cluster's free capacity, for backend auto (core/runs/offload.ts). */
export interface ClusterPort {
  /** The nodes of the partitions its jobs go to; rejects when the cluster cannot say. */
  freeNodes(): Promise<ClusterNode[]>;
}

export type ManagerEvent =
  | { type: 'task'; task: TaskRecord }
  /** A task reached a terminal state (sent after its 'task' event): notices, toasts, followers. */
  | { type: 'task-ended'; task: TaskRecord }
  /** The machine's resources as the scheduler sees them (throttled; see ledger/). */
  | { type: 'resources'; view: ResourceView }
  | { type: 'log'; taskId: number; attempt: number; text: string }
  | { type: 'queue'; paused: boolean }
  /** Ended tasks removed for good (`remove`, `clean`). */
  | { type: 'removed'; ids: number[] }
  /** What the GPU is yielded to changed (game mode, focus mode; null: nothing now). */
  | { type: 'yielding'; yielding: YieldingView | null }
  /** The Manager went degraded (its store cannot be written), or recovered (null). */
  | { type: 'health'; degraded: { since: number; reason: string } | null };

/** Where the Manager's events go (the event bus). */
export interface EventSink {
  /** Delivers at once, in order; never throws back into the Manager; a slow subscriber queues. */
  emit(event: ManagerEvent): void;
}

/** Everything live subscribers get: the Manager's events, and telemetry samples for the charts. */
export type AppEvent = ManagerEvent | { type: 'telemetry'; sample: TelemetrySample };

/**
 * The person's programs that ask for the GPU (game mode): the processes matching
 * `gameModePrograms`, looked for every few seconds off the scheduling path.
 */
export interface PersonPort {
  /** As of the last look. */
  games(): GameSighting[];
  /** Calls back after each look; the returned function unsubscribes. */
  subscribe(listener: () => void): () => void;
}

/** A resident as its adapter last saw it: the core's state, plus what the views show. */
export interface ResidentSnapshot extends ResidentState {
  url: string;
  /** ok: it answered; unreachable: no answer; error: it answered nonsense. */
  state: 'ok' | 'unreachable' | 'error';
  /** What went wrong, and when it is tried again; null when ok. */
  message: string | null;
  /** Its processes (the one listening on its port, and their children). */
  pids: number[];
}

/**
 * The AI servers beside us (Ollama, ComfyUI, llama.cpp), each through its own HTTP API
 * (contract: test/adapters/residents.test.ts). Polled off the scheduling path: every call here
 * answers from the last poll, at once.
 */
export interface ResidentPort {
  /** Each enabled resident as of its last poll, with what its processes hold in `node`'s GPU process list. */
  current(node: NodeSnapshot): ResidentSnapshot[];
  /** Asks it to unload those models (null: all). Never throws; what it frees shows in telemetry. */
  unload(kind: ResidentKind, models: string[] | null): void;
  /**
   * What a model of that server needs in VRAM (MB), from its last poll: what it holds where the
   * model is loaded, else an estimate from the model's size; null when the server does not know it.
   */
  modelVramMB?(kind: ResidentKind, model: string): number | null;
  /** Calls back after a poll that changed something; the returned function unsubscribes. */
  subscribe(listener: () => void): () => void;
}
