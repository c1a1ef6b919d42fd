import { z } from 'zod';
import { AgentViewSchema } from '../../contracts/agent-manifest.js';
import {
  AgentListSchema,
  BatchResultSchema,
  HealthSchema,
  LogSchema,
  PausedSchema,
  ProblemSchema,
  QueueStatusSchema,
  REST_BASE,
  REST_ROUTES,
  TaskPageSchema,
} from '../../contracts/rest.js';
import { TaskDetailSchema, TaskSubmissionSchema, TaskViewSchema } from '../../contracts/task.js';

/** The schemas named in the document's components; the rest are written where they are used. */
const NAMED: Record<string, z.ZodType> = {
  TaskSubmission: TaskSubmissionSchema,
  TaskView: TaskViewSchema,
  TaskDetail: TaskDetailSchema,
  TaskPage: TaskPageSchema,
  BatchResult: BatchResultSchema,
  Log: LogSchema,
  AgentView: AgentViewSchema,
  AgentList: AgentListSchema,
  QueueStatus: QueueStatusSchema,
  Health: HealthSchema,
  Paused: PausedSchema,
  Problem: ProblemSchema,
};

type Json = Record<string, unknown>;

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect); a Date is an ISO date-time string, as the REST answers write it. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const out = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    unrepresentable: 'any',
    override: (ctx) => {
      const def = (ctx.zodSchema as unknown as { _zod: { def: { type: string } } })._zod.def;
      if (def.type === 'date') {
        ctx.jsonSchema.type = 'string';
        ctx.jsonSchema.format = 'date-time';
      }
    },
  }) as Json;
  delete out.$schema;
  return out;
}

function ref(schema: z.ZodType, io: 'input' | 'output'): Json {
  const name = Object.entries(NAMED).find(([, s]) => s === schema)?.[0];
  return name ? { $ref: `#/components/schemas/${name}` } : jsonSchema(schema, io);
}

const problem = (description: string): Json => ({ description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } });

/**
 * The OpenAPI 3.1 document of the REST surface, generated from contracts/rest.ts and the zod
 * contracts (never written by hand). `npm run openapi` writes it to contracts/openapi.json; a test
 * fails when that file, this and what the server serves drift apart.
 */
export function openApiDocument(): Json {
  const paths: Record<string, Json> = {};
  for (const r of REST_ROUTES) {
    const parameters: Json[] = [];
    if (r.path.includes('{id}'))
      parameters.push({ name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 }, description: 'the task id' });
    for (const [name, s] of Object.entries(r.query?.shape ?? {})) {
      const js = jsonSchema(s as z.ZodType, 'input');
      const { description, ...schema } = js;
      parameters.push({ name, in: 'query', required: false, schema, ...(description ? { description } : {}) });
    }
    if (r.events) parameters.push({ name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' }, description: 'resume after this event' });
    const op: Json = {
      operationId: r.operationId,
      summary: r.summary,
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: !r.bodyOptional, content: { 'application/json': { schema: ref(r.body, 'input') } } } } : {}),
      responses: {
        200: r.events
          ? {
              description:
                'Server-Sent Events. `event: task` carries a TaskView as `data`, with an `id` to resume after; `event: reset` says changes were missed (fetch the tasks again).',
              content: { 'text/event-stream': { schema: { type: 'string', description: 'each `data` is a TaskView (components/schemas/TaskView)' } } },
            }
          : { description: 'OK', content: { 'application/json': { schema: ref(r.response, 'output') } } },
        400: problem('The request is malformed or its input is invalid; `detail` names the field.'),
        401: problem('The token is missing or wrong.'),
        ...(r.path.includes('{id}') ? { 404: problem('No such task (in this token’s project).') } : {}),
        ...(r.method === 'POST' ? { 409: problem('The task is not in a state that allows this.'), 413: problem('The body is too large.') } : {}),
        default: problem('Any other error, with its appCode.'),
      },
    };
    const key = REST_BASE + r.path;
    paths[key] = { ...(paths[key] ?? {}), [r.method.toLowerCase()]: op };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Agent Manager REST API',
      version: '1',
      description:
        'The Manager on 127.0.0.1, as plain JSON. Every request needs `Authorization: Bearer <token>` (the token is in the data dir, as api-token). Dates are ISO 8601 strings; errors are RFC 9457 problem documents with an `appCode`.',
    },
    servers: [{ url: 'http://127.0.0.1:7420' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: Object.fromEntries(Object.entries(NAMED).map(([name, s]) => [name, jsonSchema(s, name === 'TaskSubmission' ? 'input' : 'output')])),
    },
  };
}
