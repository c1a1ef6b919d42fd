import { TRPCError, type AnyTRPCRouter } from '@trpc/server';
import { callProcedure, getErrorShape, isTrackedEnvelope, transformTRPCResponse, type TRPCResponseMessage } from '@trpc/server/unstable-core-do-not-import';
import { z } from 'zod';

/** The channel trpc-electron's renderer link (ipcLink) and preload bridge use. */
export const IPC_CHANNEL = 'trpc-electron';

/** What a renderer may send. Anything else is refused with an error reply, never a throw. */
const MessageSchema = z.discriminatedUnion('method', [
  z.object({
    method: z.literal('request'),
    operation: z.object({
      id: z.union([z.number(), z.string()]),
      type: z.enum(['query', 'mutation', 'subscription']),
      path: z.string().min(1).max(200),
      input: z.unknown().optional(),
      context: z.unknown().optional(),
    }),
  }),
  z.object({ method: z.literal('subscription.stop'), id: z.union([z.number(), z.string()]) }),
]);

/** The part of Electron's IpcMainEvent this handler needs: who sent it, and how to answer. */
export interface IpcEventLike {
  sender: { id: number; isDestroyed(): boolean };
  senderFrame: { routingId: number; url: string } | null;
  reply(channel: string, message: unknown): void;
}

export interface IpcHandlerOptions<TRouter extends AnyTRPCRouter> {
  router: TRouter;
  /** Whether the message comes from one of our windows (checked before anything runs). */
  isTrustedSender(event: IpcEventLike): boolean;
  createContext(event: IpcEventLike): Promise<unknown> | unknown;
  onError?(error: unknown): void;
}

/**
 * tRPC over Electron IPC as a plain function (one call per message), so it can be tested with a
 * fake event that clones messages as real IPC does. Unlike trpc-electron's own handler it checks
 * the sender, validates the envelope, and answers every failure (a throwing createContext, a
 * malformed message) with an error instead of throwing in the main process.
 */
export function createIpcHandler<TRouter extends AnyTRPCRouter>(opts: IpcHandlerOptions<TRouter>) {
  const subscriptions = new Map<string, AbortController>();
  const config = opts.router._def._config;
  const key = (event: IpcEventLike, id: string | number): string => `${event.sender.id}-${event.senderFrame?.routingId ?? 0}:${id}`;

  const send = (event: IpcEventLike, response: TRPCResponseMessage): void => {
    if (event.sender.isDestroyed()) return;
    event.reply(IPC_CHANNEL, transformTRPCResponse(config, response));
  };

  const sendError = (
    event: IpcEventLike,
    id: string | number | null,
    error: TRPCError,
    type: 'query' | 'mutation' | 'subscription' | 'unknown',
    path: string | undefined,
    ctx: unknown,
  ): void => {
    send(event, { id, error: getErrorShape({ config, error, type, path, input: undefined, ctx }) } as TRPCResponseMessage);
  };

  async function handle(event: IpcEventLike, raw: unknown): Promise<void> {
    const parsed = MessageSchema.safeParse(raw);
    const rawId = (raw as { operation?: { id?: unknown } } | null)?.operation?.id;
    const replyId = typeof rawId === 'number' || typeof rawId === 'string' ? rawId : null;
    if (!opts.isTrustedSender(event)) {
      sendError(event, replyId, new TRPCError({ code: 'FORBIDDEN', message: 'IPC message from an unknown sender' }), 'unknown', undefined, undefined);
      return;
    }
    if (!parsed.success) {
      sendError(event, replyId, new TRPCError({ code: 'BAD_REQUEST', message: 'malformed IPC message' }), 'unknown', undefined, undefined);
      return;
    }
    const msg = parsed.data;
    if (msg.method === 'subscription.stop') {
      const k = key(event, msg.id);
      subscriptions.get(k)?.abort();
      subscriptions.delete(k);
      return;
    }
    const { id, type, path } = msg.operation;
    let ctx: unknown;
    try {
      ctx = await opts.createContext(event);
    } catch (e) {
      opts.onError?.(e);
      sendError(event, id, new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'could not create the request context', cause: e }), type, path, undefined);
      return;
    }
    const abort = new AbortController();
    try {
      const input = msg.operation.input === undefined ? undefined : config.transformer.input.deserialize(msg.operation.input);
      const result = await callProcedure({ router: opts.router, path, getRawInput: async () => input, ctx, type, signal: abort.signal, batchIndex: 0 });
      if (type !== 'subscription') {
        send(event, { id, result: { type: 'data', data: result } });
        return;
      }
      const iterable = result as AsyncIterable<unknown>;
      if (!iterable || typeof (iterable as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] !== 'function') {
        throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: `subscription ${path} did not return an async iterable` });
      }
      const k = key(event, id);
      subscriptions.get(k)?.abort();
      subscriptions.set(k, abort);
      send(event, { id, result: { type: 'started' } });
      void (async () => {
        const it = iterable[Symbol.asyncIterator]();
        const stopped = new Promise<'stop'>((r) => abort.signal.addEventListener('abort', () => r('stop'), { once: true }));
        try {
          for (;;) {
            const next = await Promise.race([it.next(), stopped]);
            if (next === 'stop' || next.done) break;
            const value = next.value;
            send(event, {
              id,
              result: isTrackedEnvelope(value) ? { type: 'data', id: value[0], data: { id: value[0], data: value[1] } } : { type: 'data', data: value },
            } as TRPCResponseMessage);
          }
          await it.return?.();
          send(event, { id, result: { type: 'stopped' } });
        } catch (e) {
          sendError(event, id, e instanceof TRPCError ? e : new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: e }), type, path, ctx);
        } finally {
          if (subscriptions.get(k) === abort) subscriptions.delete(k);
        }
      })();
    } catch (e) {
      sendError(event, id, e instanceof TRPCError ? e : new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: e }), type, path, ctx);
    }
  }

  return {
    /** Never throws and never rejects. */
    handle(event: IpcEventLike, message: unknown): Promise<void> {
      return handle(event, message).catch((e: unknown) => opts.onError?.(e));
    },
    /** Stops every subscription of a renderer that went away. */
    dropSender(senderId: number): void {
      for (const [k, c] of subscriptions) {
        if (k.startsWith(`${senderId}-`)) {
          c.abort();
          subscriptions.delete(k);
        }
      }
    },
  };
}
