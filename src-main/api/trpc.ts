import { initTRPC, TRPCError } from '@trpc/server';
import superjson from 'superjson';
import { ZodError } from 'zod';
import { describeIssues, type ApiErrorCode } from '../../contracts/errors.js';
import type { ApiServices } from './services.js';
import { ManagerError } from '../core/errors.js';
import { MAX_INPUT_DEPTH, plainJsonProblem } from './plain-json.js';

export interface ApiContext {
  services: ApiServices;
  /** Set by the transport once it has checked the token (HTTP/WS) or the sender (IPC). */
  authorized: boolean;
  /**
   * Whose tasks it may see and change: null (the main token, the desktop app) for every
   * project's, else one project's (a token made with `agentmgr token create --project`).
   */
  project?: string | null;
  /** What only the desktop app can do (over IPC); absent over HTTP. */
  desktop?: { openPath(path: string): Promise<string>; showInFolder(path: string): void };
}

type TrpcCode = ConstructorParameters<typeof TRPCError>[0]['code'];

const TRPC_CODE: Record<ApiErrorCode, TrpcCode> = {
  UNKNOWN_AGENT: 'NOT_FOUND',
  INVALID_INPUT: 'BAD_REQUEST',
  UNSATISFIABLE: 'UNPROCESSABLE_CONTENT',
  NOT_FOUND: 'NOT_FOUND',
  INVALID_STATE: 'CONFLICT',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  INTERNAL: 'INTERNAL_SERVER_ERROR',
};

/** The HTTP status each application code answers with (tRPC's, and the REST routes'). */
export const HTTP_STATUS: Record<ApiErrorCode, number> = {
  UNKNOWN_AGENT: 404,
  INVALID_INPUT: 400,
  UNSATISFIABLE: 422,
  NOT_FOUND: 404,
  INVALID_STATE: 409,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  PAYLOAD_TOO_LARGE: 413,
  INTERNAL: 500,
};

/**
 * An API error as callers see it, whatever the transport: its stable application code, the
 * sentence that says what to fix, and (for a batch) the failing item's index.
 */
export function describeError(error: TRPCError): { appCode: ApiErrorCode; message: string; index?: number } {
  const cause = error.cause;
  let appCode: ApiErrorCode = 'INTERNAL';
  let message = error.message;
  let index: number | undefined;
  if (cause instanceof ManagerError) {
    appCode = cause.code;
    index = cause.index;
  } else if (cause instanceof ZodError) {
    appCode = 'INVALID_INPUT';
    message = `invalid request: ${describeIssues(cause.issues)}`;
  } else if ((cause as { code?: unknown } | undefined)?.code === 'SQLITE_FULL') {
    message = 'the disk is full: the task database cannot be written, and nothing was changed; free some space and try again';
  } else if (cause instanceof RangeError && /call stack/i.test(cause.message)) {
    // A body nested so deep that reading it ran out of stack (JSON.parse, or the transformer).
    appCode = 'INVALID_INPUT';
    message = `invalid request: the input is nested too deeply to read; flatten it (at most ${MAX_INPUT_DEPTH} levels)`;
  } else if (error.code === 'UNAUTHORIZED') appCode = 'UNAUTHORIZED';
  else if (error.code === 'FORBIDDEN') appCode = 'FORBIDDEN';
  else if (error.code === 'PAYLOAD_TOO_LARGE') appCode = 'PAYLOAD_TOO_LARGE';
  else if (error.code === 'BAD_REQUEST' || error.code === 'PARSE_ERROR') appCode = 'INVALID_INPUT';
  else if (error.code === 'NOT_FOUND') appCode = 'NOT_FOUND';
  else if (error.code === 'CONFLICT') appCode = 'INVALID_STATE';
  else if (error.code === 'UNPROCESSABLE_CONTENT') appCode = 'UNSATISFIABLE';
  return index === undefined ? { appCode, message } : { appCode, message, index };
}

const t = initTRPC.context<ApiContext>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const { appCode, message, index } = describeError(error);
    return { ...shape, message, data: { ...shape.data, stack: undefined, appCode, index } };
  },
});

const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof ManagerError) {
    const c = result.error.cause;
    throw new TRPCError({ code: TRPC_CODE[c.code], message: c.message, cause: c });
  }
  return result;
});

/** Plain JSON in, or a 400 that names the path (see plain-json.ts). */
const plainInput = t.middleware(async ({ getRawInput, next }) => {
  const problem = plainJsonProblem(await getRawInput());
  if (problem) throw new TRPCError({ code: 'BAD_REQUEST', message: `invalid request: ${problem}` });
  return next();
});

const requireAuth = t.middleware(({ ctx, next }) => {
  if (!ctx.authorized) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'missing or wrong API token' });
  return next();
});

/** Only the main token (or the desktop app) may do this: a project's token is refused, saying why. */
const requireMain = t.middleware(({ ctx, next }) => {
  if (ctx.project != null)
    throw new TRPCError({
      code: 'FORBIDDEN',
      message: `this token is bound to project ${ctx.project}: it can submit to, see and change that project's tasks only; this needs the main token (${ctx.services.dataDir}/api-token)`,
    });
  return next();
});

/** Task ids an input names (id, ids, before, arrayId): a project's token may only name its own project's. */
export function namedTaskIds(raw: unknown): number[] {
  if (typeof raw !== 'object' || raw === null) return [];
  const r = raw as Record<string, unknown>;
  const out: number[] = [];
  for (const k of ['id', 'before', 'arrayId']) if (typeof r[k] === 'number') out.push(r[k] as number);
  if (Array.isArray(r.ids)) for (const x of r.ids) if (typeof x === 'number') out.push(x);
  return out;
}

/**
 * For a project's token, every task the input names must be its project's. Another project's
 * task answers as if it did not exist (its id says nothing about it).
 */
const ownTasks = t.middleware(async ({ ctx, getRawInput, next }) => {
  if (ctx.project != null) {
    for (const id of namedTaskIds(await getRawInput())) {
      const task = ctx.services.manager.queries.get(id);
      if (!task || task.project !== ctx.project)
        throw new TRPCError({ code: 'NOT_FOUND', message: `no task with id ${id} in project ${ctx.project}; \`agentmgr list\` shows the tasks there are` });
    }
  }
  return next();
});

export const router = t.router;
export const procedure = t.procedure.use(requireAuth).use(plainInput).use(mapErrors);
/** A procedure that names tasks: a project's token reaches only its own. */
export const taskProcedure = procedure.use(ownTasks);
/** A procedure for the main token only (settings, pause, projects, tokens). */
export const mainProcedure = procedure.use(requireMain);
export const createCallerFactory = t.createCallerFactory;
