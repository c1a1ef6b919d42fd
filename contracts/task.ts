import { z } from 'zod';
import { BackendChoiceSchema, BackendSchema } from './agent-manifest.js';
import { DEPENDENCY_TYPES, MAX_ARRAY, PRIORITY, PROJECT_NAME, PROJECT_NAME_RULE, TASK_STATES, TERMINAL_STATES } from './values.js';
import { HolderSchema, ResourceOverrideSchema, ResourceRequestSchema } from './resources.js';

/** Observed task states (see values.ts). */
export const TaskStateSchema = z.enum(TASK_STATES);
export type TaskState = z.infer<typeof TaskStateSchema>;
export { DEPENDENCY_TYPES, MAX_ARRAY, PRIORITY, TASK_STATES, TERMINAL_STATES };

/** What the user asked for, kept apart from what was observed. */
/** `preempt`: stopped to make room for a higher-priority task; it is queued again when it ends. */
export const DesiredStateSchema = z.enum(['run', 'cancel', 'preempt']);
export type DesiredState = z.infer<typeof DesiredStateSchema>;

export const PrioritySchema = z.number().int().min(PRIORITY.min).max(PRIORITY.max);

export const JsonObjectSchema = z.record(z.string(), z.unknown());

/** What a dependent waits for (see values.ts). */
export const DependencyTypeSchema = z.enum(DEPENDENCY_TYPES);
export type DependencyType = z.infer<typeof DependencyTypeSchema>;

/** A batch line's own name, for later lines of the same batch to depend on. */
export const RefSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._-]+$/, 'a ref is letters, digits, ".", "_" and "-" (like "ocr-1")');

export const DependencySchema = z
  .object({
    type: DependencyTypeSchema,
    /** Stored tasks (an array's id means every task of that array). */
    ids: z.array(z.number().int().positive()).max(MAX_ARRAY).optional(),
    /** Tasks of the same batch, by their `ref`. */
    refs: z.array(RefSchema).max(10_000).optional(),
  })
  .strict()
  .refine((d) => (d.ids?.length ?? 0) + (d.refs?.length ?? 0) > 0, { message: 'a dependency needs at least one task id (ids) or batch ref (refs)' });
export type Dependency = z.infer<typeof DependencySchema>;

/** A project's name: what tasks are grouped by for fair share, quotas and project-bound tokens. */
export const ProjectNameSchema = z.string().regex(PROJECT_NAME, PROJECT_NAME_RULE);
export const DEFAULT_PROJECT = 'default';

export const TaskSubmissionSchema = z
  .object({
    agent: z.string().min(1).max(64),
    /** Its project (default "default"); a project-bound token submits to its own only. */
    project: ProjectNameSchema.optional(),
    name: z.string().max(200).optional(),
    input: JsonObjectSchema.optional(),
    priority: PrioritySchema.optional(),
    resources: ResourceOverrideSchema.optional(),
    /** Total attempts allowed, the first one included. Defaults to the agent's retry policy. */
    maxAttempts: z.number().int().min(1).max(100).optional(),
    timeoutSec: z
      .number()
      .int()
      .min(1)
      .max(30 * 24 * 3600)
      .optional(),
    /**
     * Not before then: epoch ms, an ISO time (local without an offset, like
     * "2026-12-24T02:00"), or from now ("+30m", "+2h", "+1d"). At most a minute in the past.
     */
    begin: z.union([z.number().int().min(0), z.string().min(1).max(64)]).optional(),
    /** Submitted held: it does not start until released. */
    hold: z.boolean().optional(),
    /** May be preempted for a higher-priority task (default: the agent's `preemptible`). */
    preemptible: z.boolean().optional(),
    /** Starts only once the person has been away `idleAfterMin` minutes (default: the agent's `whenIdle`). */
    whenIdle: z.boolean().optional(),
    /** Where it runs: local, slurm, or auto (Slurm when it can never fit this machine); default: the agent's `backend`. */
    backend: BackendChoiceSchema.optional(),
    /** Submit a file the agent's `accepts` does not list. */
    force: z.boolean().optional(),
    /** Accept a GPU request on a machine where no GPU can be seen (it waits until one can). */
    waitForGpu: z.boolean().optional(),
    /** This line's name in a batch, so later (or earlier) lines can depend on it. */
    ref: RefSchema.optional(),
    /** What it waits for before it may start; see DEPENDENCY_TYPES. */
    dependsOn: z.array(DependencySchema).min(1).max(64).optional(),
    /** `all` (the default): every dependency must hold; `any`: one is enough (Slurm's `?`). */
    dependsMode: z.enum(['all', 'any']).optional(),
    /**
     * Many tasks from this one line, sharing an array id: indices like "0-99", "1,3,5-7",
     * "0-20:5", with "%4" to run at most 4 at once. Each gets AGENT_ARRAY_INDEX and input.arrayIndex.
     */
    array: z.string().min(1).max(1000).optional(),
    /** An array over inputs: one task per object, each merged over `input` (index 0, 1, ...). */
    each: z.array(JsonObjectSchema).min(1).max(MAX_ARRAY).optional(),
    /** At most this many of the array's tasks at once (the same as "%N" in `array`). */
    throttle: z.number().int().min(1, 'a throttle of 0 would never start anything; give 1 or more').max(MAX_ARRAY).optional(),
  })
  .strict();
export type TaskSubmission = z.infer<typeof TaskSubmissionSchema>;

export const MAX_BATCH = 100_000;
export const TaskBatchSchema = z.array(TaskSubmissionSchema).min(1).max(MAX_BATCH);

/** `preempted`: stopped for a higher-priority task and queued again; not a failure, not counted against maxAttempts. */
export const AttemptOutcomeSchema = z.enum(['running', 'succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted', 'preempted']);
export type AttemptOutcome = z.infer<typeof AttemptOutcomeSchema>;

export const AttemptViewSchema = z.object({
  number: z.number().int(),
  outcome: AttemptOutcomeSchema,
  startedAt: z.date(),
  endedAt: z.date().nullable(),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  reason: z.string().nullable(),
  pid: z.number().int().nullable(),
  gpus: z.array(z.number().int()),
  /** What it really used at its peak (null where not measured). */
  peakVramMB: z.number().nullable(),
  peakMemoryMB: z.number().nullable(),
  peakCpu: z.number().nullable(),
});
export type AttemptView = z.infer<typeof AttemptViewSchema>;

export const ArtifactViewSchema = z.object({
  attempt: z.number().int(),
  name: z.string(),
  path: z.string(),
  sizeBytes: z.number().int(),
  createdAt: z.date(),
});
export type ArtifactView = z.infer<typeof ArtifactViewSchema>;

/**
 * Who holds a resource a task is short of: other programs (the largest named), our running tasks,
 * what is kept for a task that waited too long, or the safety margin.
 */
export const HoldingSchema = z.object({
  by: z.enum(['others', 'ours', 'kept', 'margin']),
  amount: z.number(),
  /** ours: how many of our tasks. */
  tasks: z.number().int().optional(),
  /** kept: the task it is kept for. */
  taskId: z.number().int().optional(),
  /** others: the largest of them. */
  top: z.array(HolderSchema).optional(),
});
export type Holding = z.infer<typeof HoldingSchema>;

/**
 * One thing a task lacks. `tasks`/`agent-tasks`: slots (of the global or the agent's limit);
 * `cpu`: cores; `memory`/`vram`: MB; `gpus`: GPUs with `vramMB` free each.
 */
export const ShortfallSchema = z.object({
  resource: z.enum(['tasks', 'agent-tasks', 'array-tasks', 'project-tasks', 'project-vram', 'cpu', 'memory', 'vram', 'gpus']),
  requested: z.number(),
  free: z.number(),
  capacity: z.number(),
  heldBy: z.array(HoldingSchema),
  /** vram: the GPU it is short on. */
  gpu: z.number().int().optional(),
  /** agent-tasks: whose limit. */
  agent: z.string().optional(),
  /** array-tasks: whose throttle. */
  array: z.number().int().optional(),
  /** project-tasks / project-vram: whose quota. */
  project: z.string().optional(),
  /** vram: how many GPUs need that much each. */
  count: z.number().int().optional(),
  /** gpus: the VRAM each GPU must have free. */
  vramMB: z.number().optional(),
  /** gpus: each GPU, with what it has free and who holds the rest. */
  perGpu: z.array(z.object({ gpu: z.number().int(), free: z.number(), capacity: z.number(), heldBy: z.array(HoldingSchema) })).optional(),
  /** gpus: why no GPU can take it (none visible, or none usable, or over a limit). */
  note: z.string().optional(),
  /** gpus: held back by GPU limits (utilisation, temperature, power), not by memory. */
  limited: z.boolean().optional(),
});
export type Shortfall = z.infer<typeof ShortfallSchema>;

/**
 * Where a task stands with the scheduler, as data (like Kubernetes' Status): `ok` starts at the
 * next cycle; `wait` is held back at `step` for `shortfalls`; `never` cannot fit this machine.
 */
export const SchedulingStatusSchema = z.object({
  code: z.enum(['ok', 'wait', 'never']),
  /** The step that holds it back: paused, backoff, concurrency, agent-concurrency, resources, cycle. */
  step: z.string().nullable(),
  shortfalls: z.array(ShortfallSchema),
  /** backoff: epoch ms of the next attempt. */
  until: z.number().nullable().optional(),
  /** Set when what our tasks free is kept for this task: it has waited longer than `afterMs`. */
  kept: z.object({ taskId: z.number().int(), afterMs: z.number() }).optional(),
  /** Running tasks being preempted to make room for this one. */
  preempting: z.array(z.number().int()).optional(),
  /** person: what the GPU is yielded to (game mode, focus mode), in words. */
  yielding: z.object({ by: z.enum(['game', 'focus', 'idle']), reason: z.string() }).optional(),
  /** Residents (Ollama, ComfyUI, llama.cpp) asked to unload to make room for this one, and what that frees (MB). */
  freeing: z.array(z.object({ label: z.string(), models: z.array(z.string()), mb: z.number() })).optional(),
  /** dependencies: what it still waits for (the first few), and how many more. */
  dependencies: z
    .object({
      mode: z.enum(['all', 'any']),
      pending: z.array(z.object({ id: z.number().int(), type: DependencyTypeSchema, state: TaskStateSchema, progress: z.number().nullable() })),
      more: z.number().int(),
    })
    .optional(),
});
export type SchedulingStatus = z.infer<typeof SchedulingStatusSchema>;

/** What can be done to the task now (the UI and the CLI offer only these). */
export const TaskActionsSchema = z.object({
  cancel: z.boolean(),
  retry: z.boolean(),
  priority: z.boolean(),
  hold: z.boolean(),
  release: z.boolean(),
  /** Move within the queue (top, bottom, before another): while queued. */
  move: z.boolean(),
});
export type TaskActions = z.infer<typeof TaskActionsSchema>;

export const PeakSchema = z.object({ vramMB: z.number().nullable(), memoryMB: z.number().nullable(), cpu: z.number().nullable() });

export const TaskViewSchema = z.object({
  id: z.number().int(),
  agent: z.string(),
  project: z.string(),
  name: z.string().nullable(),
  state: TaskStateSchema,
  desired: DesiredStateSchema,
  priority: z.number().int(),
  /** Queued but held: it starts once released. */
  held: z.boolean(),
  /** It may be preempted for a higher-priority task (and queued again). */
  preemptible: z.boolean(),
  /** It starts only once the person has been away a while (idle-only work). */
  whenIdle: z.boolean(),
  /** Where it runs: this machine, or the Slurm cluster. */
  backend: BackendSchema,
  /** Its Slurm job (the latest attempt's), when it runs there; null otherwise. */
  slurmJob: z.string().nullable(),
  /** Where that job waits or runs, as Slurm last said ("partition gpu, node gpu03"); null when not known. */
  runsOn: z.string().nullable(),
  /** Queued, waiting for its dependencies (see `scheduling.dependencies`). */
  blocked: z.boolean(),
  /** The array it belongs to (the id of its first task), and its index there; null for none. */
  arrayId: z.number().int().nullable(),
  arrayIndex: z.number().int().nullable(),
  /** Its place within its priority (smaller starts first; `top`/`bottom` move it). */
  seq: z.number(),
  input: JsonObjectSchema,
  resources: ResourceRequestSchema,
  progress: z.number().nullable(),
  progressMessage: z.string().nullable(),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  timeoutSec: z.number().int().nullable(),
  /** Why it waits, in words; null when nothing holds it back. */
  waitingReason: z.string().nullable(),
  /** The same, as data; null unless it is queued. */
  scheduling: SchedulingStatusSchema.nullable(),
  /**
   * When it is expected to start and end (queued or running), from a simulation of the queue;
   * null with `etaNote` saying why where there is none (past the horizon, blocked with no end in sight).
   */
  eta: z.object({ startAt: z.date(), endAt: z.date() }).nullable(),
  etaNote: z.string().nullable(),
  actions: TaskActionsSchema,
  /** The most it was seen to use: live while it runs; otherwise (in a task's detail) its last attempt's. */
  peak: PeakSchema.nullable(),
  result: z.unknown().nullable(),
  error: z.string().nullable(),
  notBefore: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
  startedAt: z.date().nullable(),
  finishedAt: z.date().nullable(),
});
export type TaskView = z.infer<typeof TaskViewSchema>;

/** One dependency of a task, with where the task it waits on stands. */
export const DependencyViewSchema = z.object({ type: DependencyTypeSchema, id: z.number().int(), state: TaskStateSchema });

export const TaskDetailSchema = TaskViewSchema.extend({
  /** What it depends on (null for nothing), and the tasks that depend on it. */
  dependencies: z.object({ mode: z.enum(['all', 'any']), items: z.array(DependencyViewSchema), total: z.number().int() }).nullable(),
  dependents: z.array(z.number().int()),
  attemptList: z.array(AttemptViewSchema),
  artifacts: z.array(ArtifactViewSchema),
  /** While it runs: the most it has been seen to use so far. */
  livePeak: PeakSchema.nullable(),
  /** Why backend auto sent it to the Slurm cluster while it waited here; null: it was not (or went at submit). */
  offloaded: z.string().nullable().optional(),
});
export type TaskDetail = z.infer<typeof TaskDetailSchema>;

export const TaskListQuerySchema = z
  .object({
    state: z.array(TaskStateSchema).optional(),
    agent: z.string().max(64).optional(),
    project: z.string().max(64).optional(),
    /** Only the tasks of this array. */
    arrayId: z.number().int().positive().optional(),
    /** Only tasks whose name contains this (any case). */
    name: z.string().min(1).max(200).optional(),
    /** Return tasks with an id below this one (newest first). */
    cursor: z.number().int().positive().optional(),
    limit: z.number().int().min(1).max(1000).default(100),
  })
  .strict();

export const TaskIdSchema = z.number().int().positive();

/**
 * newest/oldest: by id; priority: the queue's order (priority, then place); agent: A to Z;
 * state: in lifecycle order (queued, starting, running, then the ended ones); the last two newest
 * first within.
 */
export const TaskSortSchema = z.enum(['newest', 'oldest', 'priority', 'agent', 'state']);
export type TaskSort = z.infer<typeof TaskSortSchema>;

/** A page of the queue view: any window of the filtered, sorted list (for a virtualized list). */
export const TaskPageQuerySchema = z
  .object({
    state: z.array(TaskStateSchema).optional(),
    agent: z.string().max(64).optional(),
    project: z.string().max(64).optional(),
    /** A task id, or part of a task's name. */
    search: z.string().max(200).optional(),
    /** Only the tasks of this array. */
    arrayId: z.number().int().positive().optional(),
    /** Each array as one row: the tasks in no array, and each array's first task (see tasks.arrays). */
    arrayHeads: z.boolean().optional(),
    sort: TaskSortSchema.default('newest'),
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(1000).default(100),
  })
  .strict();

export const TaskIdsSchema = z.object({ ids: z.array(TaskIdSchema).min(1).max(10_000) }).strict();

/** `clean`: which ended tasks to remove (every ended one when nothing is given). */
export const TaskCleanSchema = z
  .object({
    state: z.array(z.enum(['succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted'])).optional(),
    agent: z.string().max(64).optional(),
    project: z.string().max(64).optional(),
    /** Only those that ended at least this long ago. */
    olderThanSec: z
      .number()
      .int()
      .min(0)
      .max(100 * 365 * 86_400)
      .optional(),
  })
  .strict();
export type TaskClean = z.infer<typeof TaskCleanSchema>;
