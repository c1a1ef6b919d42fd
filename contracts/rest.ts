import { z } from 'zod';
import { AgentProblemSchema, AgentViewSchema } from './agent-manifest.js';
import { ApiErrorCodeSchema } from './errors.js';
import { GpuStatusSchema } from './telemetry.js';
import { PrioritySchema, TaskBatchSchema, TaskDetailSchema, TaskIdSchema, TaskStateSchema, TaskSubmissionSchema, TaskViewSchema } from './task.js';

/**
 * The REST surface (/api/v1): each route, with the zod schemas of what it takes and answers.
 * The server serves these routes by calling the same procedures tRPC does, and the OpenAPI
 * document (contracts/openapi.json) is generated from this table: neither is written twice.
 */
export const REST_BASE = '/api/v1';

/** RFC 9457 problem details, with the API's stable `appCode` (and a batch item's `index`). */
export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  appCode: ApiErrorCodeSchema,
  index: z.number().int().optional(),
});

export const TaskListQueryParamsSchema = z
  .object({
    state: z.string().optional().meta({ description: 'states, comma-separated (or the parameter repeated): queued,running' }),
    agent: z.string().max(64).optional(),
    project: z.string().max(64).optional(),
    name: z.string().min(1).max(200).optional().meta({ description: 'only tasks whose name contains this (any case)' }),
    arrayId: z.string().regex(/^\d+$/).optional(),
    cursor: z.string().regex(/^\d+$/).optional().meta({ description: "the previous page's nextCursor" }),
    limit: z.string().regex(/^\d+$/).optional().meta({ description: '1 to 1000 (default 100)' }),
  })
  .strict();

export const TaskPageSchema = z.object({ items: z.array(TaskViewSchema), nextCursor: z.number().int().nullable() });
export const BatchResultSchema = z.object({ ids: z.array(z.number().int()), count: z.number().int() });
export const LogSchema = z.object({ attempt: z.number().int(), text: z.string(), truncated: z.boolean(), state: TaskStateSchema });
export const AgentListSchema = z.object({ agents: z.array(AgentViewSchema), problems: z.array(AgentProblemSchema) });
/** The queue's state (the fields scripts read; the answer carries more, as `agentmgr status --json` shows). */
export const QueueStatusSchema = z.looseObject({
  paused: z.boolean(),
  running: z.number().int(),
  queued: z.number().int(),
  maxConcurrency: z.number().int(),
  counts: z.record(TaskStateSchema, z.number().int()),
  degraded: z.looseObject({ reason: z.string() }).nullable(),
});
export const HealthSchema = z.looseObject({
  ok: z.boolean(),
  pid: z.number().int(),
  uptimeSec: z.number(),
  dataDir: z.string(),
  gpu: GpuStatusSchema,
  agents: z.number().int(),
  agentProblems: z.number().int(),
});
export const PausedSchema = z.looseObject({ paused: z.boolean() });
export const RetryBodySchema = z.object({ withDependents: z.boolean().optional() }).strict();
export const PriorityBodySchema = z.object({ priority: PrioritySchema }).strict();
export const PauseBodySchema = z.object({ freeVram: z.boolean().optional() }).strict();
export const LogsQueryParamsSchema = z
  .object({
    attempt: z.string().regex(/^\d+$/).optional().meta({ description: 'default: the latest' }),
    tailBytes: z.string().regex(/^\d+$/).optional().meta({ description: 'only the last this many bytes' }),
  })
  .strict();

export interface RestRoute {
  method: 'GET' | 'POST';
  /** With `{id}` for a task id. */
  path: string;
  operationId: string;
  summary: string;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Whether the body may be left out (an action with optional settings). */
  bodyOptional?: boolean;
  response: z.ZodType;
  /** The answer is a stream of Server-Sent Events, not JSON. */
  events?: boolean;
}

export const REST_ROUTES: readonly RestRoute[] = [
  { method: 'POST', path: '/tasks', operationId: 'submitTask', summary: 'Submit one task', body: TaskSubmissionSchema, response: TaskViewSchema },
  {
    method: 'POST',
    path: '/tasks:batch',
    operationId: 'submitBatch',
    summary: 'Submit many tasks in one transaction: all are stored or none',
    body: TaskBatchSchema,
    response: BatchResultSchema,
  },
  {
    method: 'GET',
    path: '/tasks',
    operationId: 'listTasks',
    summary: 'List tasks, newest first, a page at a time',
    query: TaskListQueryParamsSchema,
    response: TaskPageSchema,
  },
  { method: 'GET', path: '/tasks/{id}', operationId: 'getTask', summary: 'One task, with its attempts and artifacts', response: TaskDetailSchema },
  { method: 'POST', path: '/tasks/{id}:cancel', operationId: 'cancelTask', summary: 'Cancel a task (a running one is stopped)', response: TaskViewSchema },
  {
    method: 'POST',
    path: '/tasks/{id}:retry',
    operationId: 'retryTask',
    summary: 'Queue an ended task again',
    body: RetryBodySchema,
    bodyOptional: true,
    response: TaskViewSchema,
  },
  {
    method: 'POST',
    path: '/tasks/{id}:priority',
    operationId: 'setPriority',
    summary: "Change a task's priority",
    body: PriorityBodySchema,
    response: TaskViewSchema,
  },
  {
    method: 'GET',
    path: '/tasks/{id}/logs',
    operationId: 'getLogs',
    summary: "A task's log (its latest attempt by default)",
    query: LogsQueryParamsSchema,
    response: LogSchema,
  },
  { method: 'GET', path: '/agents', operationId: 'listAgents', summary: 'The agents, and the manifests that did not load', response: AgentListSchema },
  { method: 'GET', path: '/status', operationId: 'getStatus', summary: 'The queue: paused, counts by state, what runs', response: QueueStatusSchema },
  { method: 'GET', path: '/health', operationId: 'getHealth', summary: 'Whether the Manager is up and can record work', response: HealthSchema },
  {
    method: 'POST',
    path: '/queue:pause',
    operationId: 'pauseQueue',
    summary: 'Hold the queue: running tasks go on',
    body: PauseBodySchema,
    bodyOptional: true,
    response: PausedSchema,
  },
  { method: 'POST', path: '/queue:resume', operationId: 'resumeQueue', summary: 'Let the queue start tasks again', response: PausedSchema },
  {
    method: 'GET',
    path: '/events',
    operationId: 'taskEvents',
    summary: 'Server-Sent Events: every change to a task, resumable with Last-Event-ID',
    response: TaskViewSchema,
    events: true,
  },
];

export { TaskIdSchema };
