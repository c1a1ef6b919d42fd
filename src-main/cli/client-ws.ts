import { createTRPCClient, createWSClient, httpBatchLink, splitLink, wsLink } from '@trpc/client';
import superjson from 'superjson';
import WebSocket from 'ws';
import type { AppRouter } from '../api/router.js';
import type { ApiClient } from './rpc.js';

/**
 * The official tRPC client, for subscriptions (over a WebSocket that sends the token) and the
 * rest over HTTP. Loaded only by a command that follows something (`logs --follow`, `wait`).
 */
export function createWsClient(url: string, token: string): { api: ApiClient; close(): void } {
  const headers = { Authorization: `Bearer ${token}` };
  class AuthedWebSocket extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { headers });
    }
  }
  const ws = createWSClient({
    url: url.replace(/^http/, 'ws') + '/trpc',
    WebSocket: AuthedWebSocket as unknown as typeof globalThis.WebSocket,
    lazy: { enabled: true, closeMs: 0 },
    retryDelayMs: () => 500,
  });
  const api = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: wsLink({ client: ws, transformer: superjson }),
        false: httpBatchLink({ url: url + '/trpc', headers, transformer: superjson, maxURLLength: 4000, maxItems: 50 }),
      }),
    ],
  });
  return { api, close: () => void ws.close() };
}
