import { sql } from 'drizzle-orm';
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/** Times are epoch milliseconds; JSON columns hold JSON text. */
export const tasks = sqliteTable(
  'tasks',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    agent: text('agent').notNull(),
    /** Its project (fair share, quotas, project-bound tokens). */
    project: text('project').notNull().default('default'),
    name: text('name'),
    state: text('state').notNull(),
    desired: text('desired').notNull().default('run'),
    priority: integer('priority').notNull().default(0),
    input: text('input').notNull(),
    cpu: real('cpu').notNull(),
    memoryMB: integer('memory_mb').notNull(),
    gpuCount: integer('gpu_count').notNull().default(0),
    vramMB: integer('vram_mb').notNull().default(0),
    requestPinned: integer('request_pinned').notNull().default(0),
    attempts: integer('attempts').notNull().default(0),
    maxAttempts: integer('max_attempts').notNull(),
    backoffSec: real('backoff_sec').notNull(),
    timeoutSec: integer('timeout_sec'),
    progress: real('progress'),
    progressMessage: text('progress_message'),
    result: text('result'),
    error: text('error'),
    notBefore: integer('not_before'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
    startedAt: integer('started_at'),
    finishedAt: integer('finished_at'),
    /** 1 while held (agentmgr hold): queued, but not started until released. */
    held: integer('held').notNull().default(0),
    /** 1: it may be preempted for a higher-priority task. */
    preemptible: integer('preemptible').notNull().default(0),
    /** The model it names on the resident server its agent drives (ollama's "model"); null for none. */
    residentModel: text('resident_model'),
    /** 1: it starts only once the person has been away a while (idle-only work). */
    whenIdle: integer('when_idle').notNull().default(0),
    /** Where it runs: 'local' or 'slurm'. */
    backend: text('backend').notNull().default('local'),
    /** 1: submitted with backend auto and placed here; it may still be sent to Slurm while it waits (its local start far off, the cluster free). */
    backendAuto: integer('backend_auto').notNull().default(0),
    /** Its latest attempt's remote job ("slurm:<job id>"); null for none. */
    remoteJob: text('remote_job'),
    /** Where that job waits or runs ("partition gpu, node gpu03"); null for none. */
    remoteWhere: text('remote_where'),
    /** 1 while queued waiting for its dependencies (task_deps): not in the scheduler's queue. */
    blocked: integer('blocked').notNull().default(0),
    /** 'all' or 'any': how its dependencies combine; null for none. */
    dependsMode: text('depends_mode'),
    /** Cancelled because this dependency could no longer be met (retry --with-dependents). */
    cause: integer('cause'),
    /** Its array (the id of the array's first task), index there, and the array's throttle. */
    arrayId: integer('array_id'),
    arrayIndex: integer('array_index'),
    throttle: integer('throttle'),
    /** Its place within its priority; null: its id (moved by top, bottom and drag). */
    seq: real('seq'),
  },
  (t) => [
    index('tasks_queue').on(t.state, t.priority, t.id),
    index('tasks_agent').on(t.agent, t.id),
    index('tasks_project').on(t.project, t.state, t.id),
    index('tasks_priority').on(t.priority, t.id),
    index('tasks_array')
      .on(t.arrayId, t.id)
      .where(sql`array_id IS NOT NULL`),
    index('tasks_cause')
      .on(t.cause)
      .where(sql`cause IS NOT NULL`),
    index('tasks_blocked')
      .on(t.id)
      .where(sql`blocked = 1`),
  ],
);

/** What each task waits for: one row per task it depends on, with the rule (afterok, ...). */
export const taskDeps = sqliteTable(
  'task_deps',
  {
    taskId: integer('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    depId: integer('dep_id').notNull(),
    type: text('type').notNull(),
  },
  (t) => [primaryKey({ columns: [t.taskId, t.depId, t.type] }), index('task_deps_dep').on(t.depId)],
);

export const attempts = sqliteTable(
  'attempts',
  {
    taskId: integer('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    number: integer('number').notNull(),
    outcome: text('outcome').notNull(),
    startedAt: integer('started_at').notNull(),
    endedAt: integer('ended_at'),
    exitCode: integer('exit_code'),
    signal: text('signal'),
    reason: text('reason'),
    pid: integer('pid'),
    pidStartTime: text('pid_start_time'),
    pgid: integer('pgid'),
    gpus: text('gpus').notNull().default('[]'),
    logDir: text('log_dir'),
    peakVramMB: integer('peak_vram_mb'),
    peakMemoryMB: integer('peak_memory_mb'),
    peakCpu: real('peak_cpu'),
    /** Where the peaks were measured: null for this machine, 'slurm' for the cluster (sacct). */
    peakWhere: text('peak_where'),
  },
  (t) => [uniqueIndex('attempts_task_number').on(t.taskId, t.number)],
);

export const taskEvents = sqliteTable(
  'task_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    taskId: integer('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    attempt: integer('attempt'),
    at: integer('at').notNull(),
    type: text('type').notNull(),
    data: text('data'),
  },
  (t) => [index('task_events_task').on(t.taskId, t.id)],
);

export const artifacts = sqliteTable(
  'artifacts',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    taskId: integer('task_id')
      .notNull()
      .references(() => tasks.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    name: text('name').notNull(),
    path: text('path').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('artifacts_task_path').on(t.taskId, t.path)],
);

export const settings = sqliteTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

/**
 * Resource history for the charts, kept across restarts: tier 's' holds one sample a second for
 * the last 15 minutes, tier 'm' one a minute for the last 24 hours (see TelemetryHistory).
 */
export const telemetryHistory = sqliteTable(
  'telemetry_history',
  {
    tier: text('tier', { enum: ['s', 'm'] }).notNull(),
    at: integer('at').notNull(),
    sample: text('sample').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tier, t.at] })],
);

/** Each project's weight, quotas (null: none) and decayed usage (resource-seconds as of usage_at). */
export const projects = sqliteTable('projects', {
  name: text('name').primaryKey(),
  weight: real('weight').notNull().default(1),
  maxRunning: integer('max_running'),
  maxVramMB: integer('max_vram_mb'),
  maxQueued: integer('max_queued'),
  usage: real('usage').notNull().default(0),
  usageAt: integer('usage_at').notNull().default(0),
});

/** API tokens bound to one project (the main token is the file in the data dir). Only a hash is kept. */
export const apiTokens = sqliteTable(
  'api_tokens',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    hash: text('hash').notNull(),
    prefix: text('prefix').notNull(),
    project: text('project').notNull(),
    label: text('label'),
    createdAt: integer('created_at').notNull(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [uniqueIndex('api_tokens_hash').on(t.hash)],
);
