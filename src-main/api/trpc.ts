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

const t = initTRPC.context<ApiContext>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    let appCode: ApiErrorCode = 'INTERNAL';
    let message = shape.message;
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
    else if (error.code === 'PAYLOAD_TOO_LARGE') appCode = 'PAYLOAD_TOO_LARGE';
    else if (error.code === 'BAD_REQUEST' || error.code === 'PARSE_ERROR') appCode = 'INVALID_INPUT';
    else if (error.code === 'NOT_FOUND') appCode = 'NOT_FOUND';
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

export const router = t.router;
export const procedure = t.procedure.use(requireAuth).use(plainInput).use(mapErrors);
export const createCallerFactory = t.createCallerFactory;
