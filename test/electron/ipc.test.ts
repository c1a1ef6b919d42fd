import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTRPCClient, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import { ipcLink } from 'trpc-electron/renderer';
import type { AppRouter } from '../../src-main/api/router.js';
import { appRouter } from '../../src-main/api/router.js';
import { createIpcHandler, IPC_CHANNEL, type IpcEventLike } from '../../src-main/electron/ipc-handler.js';
import type { HeadlessManager } from '../../src-main/headless.js';
import { tempDir } from '../helpers/fakes.js';
import { startTestServer } from '../helpers/server.js';

/**
 * The IPC path end to end without Electron: trpc-electron's renderer link, a fake preload bridge
 * and a fake ipcMain that clone every message with structuredClone as real IPC does, and our
 * handler in the "main process" serving the real router.
 */
const t = tempDir();
let m: HeadlessManager;
beforeAll(async () => {
  m = await startTestServer(t.dir);
});
afterAll(async () => {
  await m.stop({ stopAgents: true });
  t.cleanup();
});

function wire(opts: { senderId?: number; trusted?: number; createContext?: () => unknown } = {}) {
  const replies: unknown[] = [];
  const rendererListeners: ((msg: unknown) => void)[] = [];
  const errors: unknown[] = [];
  const handler = createIpcHandler({
    router: appRouter,
    isTrustedSender: (e) => e.sender.id === (opts.trusted ?? 1),
    createContext: opts.createContext ?? (() => ({ services: m.services, authorized: true })),
    onError: (e) => errors.push(e),
  });
  const event: IpcEventLike = {
    sender: { id: opts.senderId ?? 1, isDestroyed: () => false },
    senderFrame: { routingId: 1, url: 'file:///index.html' },
    reply: (channel, message) => {
      expect(channel).toBe(IPC_CHANNEL);
      const cloned = structuredClone(message);
      replies.push(cloned);
      for (const l of rendererListeners) l(cloned);
    },
  };
  // What the preload exposes: send to main, listen for replies.
  (globalThis as { electronTRPC?: unknown }).electronTRPC = {
    sendMessage: (msg: unknown) => void handler.handle(event, structuredClone(msg)),
    onMessage: (cb: (msg: unknown) => void) => rendererListeners.push(cb),
  };
  const api = createTRPCClient<AppRouter>({ links: [ipcLink<AppRouter>({ transformer: superjson })] });
  return { api, handler, event, replies, errors };
}

describe('tRPC over IPC', () => {
  it('query, zod-validated mutation and subscription all work, with Dates intact', async () => {
    const { api } = wire();
    expect((await api.health.query()).ok).toBe(true);
    const task = await api.tasks.submit.mutate({ agent: 'ok' });
    expect(task.createdAt).toBeInstanceOf(Date);
    const bad = await api.tasks.submit.mutate({ agent: 'ok', priority: 99999 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(TRPCClientError);
    expect((bad as TRPCClientError<AppRouter>).message).toMatch(/priority: Too big/);
    const states: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const sub = api.tasks.changes.subscribe(
        { ids: [task.id] },
        {
          onData: (v) => {
            states.push(v.state);
            if (v.state === 'succeeded') {
              sub.unsubscribe();
              resolve();
            }
          },
          onError: reject,
        },
      );
    });
    expect(states.at(-1)).toBe('succeeded');
  });

  it('refuses a sender that is not our window', async () => {
    const { api } = wire({ senderId: 2, trusted: 1 });
    await expect(api.health.query()).rejects.toThrow(/unknown sender/);
  });

  it('answers (never throws) when createContext fails', async () => {
    const { api, errors } = wire({
      createContext: () => {
        throw new Error('boom');
      },
    });
    await expect(api.health.query()).rejects.toThrow(/could not create the request context/);
    expect(errors).toHaveLength(1);
  });

  it.each([null, undefined, 42, 'x', {}, { method: 'request' }, { method: 'request', operation: { id: 1, type: 'exec', path: 'health' } }, { method: 'nope' }])(
    'a malformed message (%j) gets an error reply and the main process goes on',
    async (msg) => {
      const { handler, event, replies } = wire();
      await expect(handler.handle(event, msg)).resolves.toBeUndefined();
      expect(replies).toHaveLength(1);
      expect(JSON.stringify(replies[0])).toMatch(/malformed IPC message/);
    },
  );

  it('an unknown procedure is an error reply', async () => {
    const { handler, event, replies } = wire();
    await handler.handle(event, { method: 'request', operation: { id: 7, type: 'query', path: 'no.such.thing' } });
    expect(replies[0]).toMatchObject({ id: 7, error: { json: { message: 'No "query"-procedure on path "no.such.thing"', data: { appCode: 'NOT_FOUND' } } } });
  });
});
