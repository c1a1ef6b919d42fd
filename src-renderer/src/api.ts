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
  readTokenFromHash();
  return sessionStorage.getItem(TOKEN_KEY);
}

/**
 * Takes a `#token=` out of the address, if there is one, and keeps it; what the page does when
 * the address changes (a fresh URL from `agentmgr ui` pasted over the old one). Returns the new
 * token, or null when the address carries none.
 */
export function readTokenFromHash(): string | null {
  const m = /[#&]token=([\w-]+)/.exec(window.location.hash);
  if (m) {
    sessionStorage.setItem(TOKEN_KEY, m[1]!);
    const rest = window.location.hash.replace(/[#&]?token=[\w-]+/, '').replace(/^#&/, '#');
    history.replaceState(null, '', window.location.pathname + window.location.search + (rest === '#' ? '' : rest));
  }
  return m ? m[1]! : null;
}

/** Where the Manager keeps its token, as its refusal says (a 401 names the file). */
export type Refusal = { tokenFile: string | null };

/**
 * Asks the Manager whether this token is good: null when it is, a Refusal when the Manager says
 * it is wrong or missing, and null too when the Manager cannot be reached (that is a lost
 * connection, not a wrong token).
 */
export async function checkToken(token: string | null): Promise<Refusal | null> {
  try {
    const r = await fetch('/trpc/queue.status', { headers: { Authorization: `Bearer ${token ?? ''}` } });
    if (r.status !== 401) return null;
    const body = (await r.json().catch(() => null)) as { error?: { message?: string } } | null;
    const file = /the token is in (\S+)$/.exec(body?.error?.message ?? '');
    return { tokenFile: file ? file[1]! : null };
  } catch {
    return null;
  }
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

/**
 * One tRPC client; the link is chosen at start: IPC inside Electron, HTTP + WebSocket in a browser.
 * In a browser, `onRefused` runs when the Manager turns the token down (an HTTP 401, or a live
 * connection that closes and, asked again, is refused), and `close` ends the live connection.
 */
export function createApi(token: string | null, onRefused: (r: Refusal) => void = () => {}): { api: Api; close: () => void } {
  let link: TRPCLink<AppRouter>;
  let close = () => {};
  if (inElectron()) {
    setConnection('open');
    link = ipcLink<AppRouter>({ transformer: superjson });
  } else {
    setConnection('connecting');
    let closed = false;
    const ask = () =>
      void checkToken(token).then((r) => {
        if (r && !closed) onRefused(r);
      });
    const ws = createWSClient({
      url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}/trpc?token=${encodeURIComponent(token ?? '')}`,
      retryDelayMs: (attempt) => Math.min(5000, 250 * 2 ** attempt),
      onOpen: () => setConnection('open'),
      onClose: () => {
        if (closed) return;
        setConnection('lost');
        ask(); // a browser cannot read why an upgrade was refused: ask over HTTP
      },
    });
    close = () => {
      closed = true;
      void ws.close();
    };
    link = splitLink({
      condition: (op) => op.type === 'subscription',
      true: wsLink<AppRouter>({ client: ws, transformer: superjson }),
      false: httpBatchLink<AppRouter>({
        url: '/trpc',
        transformer: superjson,
        maxItems: 50,
        headers: () => ({ Authorization: `Bearer ${token ?? ''}` }),
        fetch: async (url, init) => {
          const r = await fetch(url, init);
          if (r.status === 401) ask();
          return r;
        },
      }),
    });
  }
  return { api: createTRPCClient<AppRouter>({ links: [link] }), close };
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
