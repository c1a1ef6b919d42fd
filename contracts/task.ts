import { z } from 'zod';
import { ResourceOverrideSchema, ResourceRequestSchema } from './resources.js';

/**
 * Observed task states. `queued` covers waiting for resources and waiting out a retry backoff
 * (`notBefore`); the terminal ones are listed in TERMINAL_STATES.
 */
export const TASK_STATES = [
  'queued',
  'starting',
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'timed_out',
  'interrupted',
] as const;
export const TaskStateSchema = z.enum(TASK_STATES);
export type TaskState = z.infer<typeof TaskStateSchema>;

export const TERMINAL_STATES: readonly TaskState[] = [
  'succeeded',
  'failed',
  'cancelled',
  'timed_out',
  'interrupted',
];

/** What the user asked for, kept apart from what was observed. */
export const DesiredStateSchema = z.enum(['run', 'cancel']);
export type DesiredState = z.infer<typeof DesiredStateSchema>;

export const PRIORITY = { min: -1000, max: 1000 } as const;
export const PrioritySchema = z.number().int().min(PRIORITY.min).max(PRIORITY.max);

export const JsonObjectSchema = z.record(z.string(), z.unknown());

export const TaskSubmissionSchema = z
  .object({
    agent: z.string().min(1).max(64),
    name: z.string().max(200).optional(),
    input: JsonObjectSchema.optional(),
    priority: PrioritySchema.optional(),
    resources: ResourceOverrideSchema.optional(),
    /** Total attempts allowed, the first one included. Defaults to the agent's retry policy. */
    maxAttempts: z.number().int().min(1).max(100).optional(),
    timeoutSec: z.number().int().min(1).max(30 * 24 * 3600).optional(),
  })
  .strict();
export type TaskSubmission = z.infer<typeof TaskSubmissionSchema>;

export const MAX_BATCH = 100_000;
export const TaskBatchSchema = z.array(TaskSubmissionSchema).min(1).max(MAX_BATCH);

export const AttemptOutcomeSchema = z.enum([
  'running',
  'succeeded',
  'failed',
  'cancelled',
  'timed_out',
  'interrupted',
]);
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

export const TaskViewSchema = z.object({
  id: z.number().int(),
  agent: z.string(),
  name: z.string().nullable(),
  state: TaskStateSchema,
  desired: DesiredStateSchema,
  priority: z.number().int(),
  input: JsonObjectSchema,
  resources: ResourceRequestSchema,
  progress: z.number().nullable(),
  progressMessage: z.string().nullable(),
  attempts: z.number().int(),
  maxAttempts: z.number().int(),
  timeoutSec: z.number().int().nullable(),
  waitingReason: z.string().nullable(),
  result: z.unknown().nullable(),
  error: z.string().nullable(),
  notBefore: z.date().nullable(),
  createdAt: z.date(),
  updatedAt: z.date(),
  startedAt: z.date().nullable(),
  finishedAt: z.date().nullable(),
});
export type TaskView = z.infer<typeof TaskViewSchema>;

export const TaskDetailSchema = TaskViewSchema.extend({
  attemptList: z.array(AttemptViewSchema),
  artifacts: z.array(ArtifactViewSchema),
  /** While it runs: the most it has been seen to use so far. */
  livePeak: z.object({ vramMB: z.number().nullable(), memoryMB: z.number().nullable(), cpu: z.number().nullable() }).nullable(),
});
export type TaskDetail = z.infer<typeof TaskDetailSchema>;

export const TaskListQuerySchema = z
  .object({
    state: z.array(TaskStateSchema).optional(),
    agent: z.string().max(64).optional(),
    /** Return tasks with an id below this one (newest first). */
    cursor: z.number().int().positive().optional(),
    limit: z.number().int().min(1).max(1000).default(100),
  })
  .strict();
export type TaskListQuery = z.input<typeof TaskListQuerySchema>;

export const TaskPageSchema = z.object({
  items: z.array(TaskViewSchema),
  nextCursor: z.number().int().nullable(),
});
export type TaskPage = z.infer<typeof TaskPageSchema>;

export const TaskIdSchema = z.number().int().positive();

export const TaskSortSchema = z.enum(['newest', 'oldest', 'priority']);
export type TaskSort = z.infer<typeof TaskSortSchema>;

/** A page of the queue view: any window of the filtered, sorted list (for a virtualized list). */
export const TaskPageQuerySchema = z
  .object({
    state: z.array(TaskStateSchema).optional(),
    agent: z.string().max(64).optional(),
    /** A task id, or part of a task's name. */
    search: z.string().max(200).optional(),
    sort: TaskSortSchema.default('newest'),
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(1).max(1000).default(100),
  })
  .strict();
export type TaskPageQuery = z.input<typeof TaskPageQuerySchema>;

export const TaskIdsSchema = z.object({ ids: z.array(TaskIdSchema).min(1).max(10_000) }).strict();
