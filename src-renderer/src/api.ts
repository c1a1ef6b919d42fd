import { createTRPCClient, createWSClient, httpBatchLink, splitLink, TRPCClientError, wsLink, type TRPCLink } from '@trpc/client';
import superjson from 'superjson';
import { ipcLink } from 'trpc-electron/renderer';
import type { AppRouter } from '../../src-main/api/router.js';

const TOKEN_KEY = 'agentmgr.token';

/**
 * The API token in a browser, the way Jupyter does it: `agentmgr serve` (and `agentmgr ui`) print
 * a URL with #token=...; the page keeps it for this tab's session and takes it out of the address
 * bar (and so out of the history and of any screenshot).
 */
export function takeToken(): string | null {
  const m = /[#&]token=([\w-]+)/.exec(window.location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, m[1]!);
    const rest = window.location.hash.replace(/[#&]?token=[\w-]+/, '').replace(/^#&/, '#');
    history.replaceState(null, '', window.location.pathname + window.location.search + (rest === '#' ? '' : rest));
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export const inElectron = (): boolean => 'electronTRPC' in window;

export type Api = ReturnType<typeof createTRPCClient<AppRouter>>;

/** Whether the live connection to the Manager is up; the UI shows it and reconnects by itself. */
export type Connection = 'connecting' | 'open' | 'lost';
type Listener = (c: Connection) => void;
const listeners = new Set<Listener>();
let connection: Connection = 'connecting';
export function connectionState(): Connection {
  return connection;
}
export function onConnection(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}
function setConnection(c: Connection): void {
  if (c === connection) return;
  connection = c;
  for (const l of listeners) l(c);
}

/** One tRPC client; the link is chosen at start: IPC inside Electron, HTTP + WebSocket in a browser. */
export function createApi(token: string | null): Api {
  let link: TRPCLink<AppRouter>;
  if (inElectron()) {
    setConnection('open');
    link = ipcLink<AppRouter>({ transformer: superjson });
  } else {
    const ws = createWSClient({
      url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/trpc?token=${encodeURIComponent(token ?? '')}`,
      retryDelayMs: (attempt) => Math.min(5000, 250 * 2 ** attempt),
      onOpen: () => setConnection('open'),
      onClose: () => setConnection('lost'),
    });
    link = splitLink({
      condition: (op) => op.type === 'subscription',
      true: wsLink<AppRouter>({ client: ws, transformer: superjson }),
      false: httpBatchLink<AppRouter>({ url: '/trpc', transformer: superjson, maxItems: 50, headers: () => ({ Authorization: `Bearer ${token ?? ''}` }) }),
    });
  }
  return createTRPCClient<AppRouter>({ links: [link] });
}

/** An API error as a sentence for a person; never raw JSON. */
export function readable(e: unknown): string {
  if (e instanceof TRPCClientError) {
    if (/fetch|network|Failed to fetch/i.test(e.message)) return 'Cannot reach the Manager. Is `agentmgr serve` running?';
    return e.message;
  }
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Authorized HTTP for what is not tRPC: uploads and artifact downloads. */
export function authHeaders(token: string | null): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}
