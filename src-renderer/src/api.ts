import { createTRPCClient, createWSClient, httpBatchLink, splitLink, wsLink, type TRPCLink } from '@trpc/client';
import superjson from 'superjson';
import { ipcLink } from 'trpc-electron/renderer';
import type { AppRouter } from '../../src-main/api/router.js';

const TOKEN_KEY = 'agentmgr.token';

/**
 * The API token in a browser, the way Jupyter does it: `agentmgr serve` prints a URL with
 * #token=...; the page keeps it for this tab's session and takes it out of the address bar.
 */
export function takeToken(): string | null {
  const m = /[#&]token=([\w-]+)/.exec(window.location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, m[1]!);
    history.replaceState(null, '', window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export const inElectron = (): boolean => 'electronTRPC' in window;

export type Api = ReturnType<typeof createTRPCClient<AppRouter>>;

/** One tRPC client; the link is chosen at start: IPC inside Electron, HTTP + WebSocket in a browser. */
export function createApi(token: string | null): Api {
  let link: TRPCLink<AppRouter>;
  if (inElectron()) link = ipcLink<AppRouter>({ transformer: superjson });
  else {
    const ws = createWSClient({ url: `ws://${window.location.host}/trpc?token=${encodeURIComponent(token ?? '')}` });
    link = splitLink({
      condition: (op) => op.type === 'subscription',
      true: wsLink<AppRouter>({ client: ws, transformer: superjson }),
      false: httpBatchLink<AppRouter>({ url: '/trpc', transformer: superjson, headers: () => ({ Authorization: `Bearer ${token ?? ''}` }) }),
    });
  }
  return createTRPCClient<AppRouter>({ links: [link] });
}
