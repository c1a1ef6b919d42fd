import { existsSync, readFileSync } from 'node:fs';
import { createTRPCClient, createWSClient, httpBatchLink, splitLink, TRPCClientError, wsLink } from '@trpc/client';
import superjson from 'superjson';
import WebSocket from 'ws';
import type { AppRouter } from '../api/router.js';
import { defaultDataDir } from '../config.js';
import { layout } from '../data-dir.js';

export type ApiClient = ReturnType<typeof createTRPCClient<AppRouter>>;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export interface Endpoint {
  url: string;
  token: string;
}

/** Where the Manager is: AGENTMGR_URL / AGENTMGR_TOKEN, else what `serve` wrote to the data dir. */
export function findEndpoint(dataDirFlag: string | undefined, env: NodeJS.ProcessEnv = process.env): Endpoint {
  const dataDir = dataDirFlag ?? env.AGENTMGR_DATA_DIR ?? defaultDataDir(env);
  const l = layout(dataDir);
  let url = env.AGENTMGR_URL;
  if (!url) {
    if (!existsSync(l.server)) throw new CliError(`no Manager is running for ${dataDir}: start one with \`agentmgr serve\` (or set AGENTMGR_URL)`, 3);
    url = (JSON.parse(readFileSync(l.server, 'utf8')) as { url: string }).url;
  }
  let token = env.AGENTMGR_TOKEN;
  if (!token) {
    if (!existsSync(l.token)) throw new CliError(`no API token at ${l.token}: start \`agentmgr serve\` once, or set AGENTMGR_TOKEN`, 3);
    token = readFileSync(l.token, 'utf8').trim();
  }
  return { url: url.replace(/\/+$/, ''), token };
}

export function createClient(ep: Endpoint): { api: ApiClient; close(): void } {
  const headers = { Authorization: `Bearer ${ep.token}` };
  class AuthedWebSocket extends WebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { headers });
    }
  }
  const ws = createWSClient({
    url: ep.url.replace(/^http/, 'ws') + '/trpc',
    WebSocket: AuthedWebSocket as unknown as typeof globalThis.WebSocket,
    lazy: { enabled: true, closeMs: 0 },
    retryDelayMs: () => 500,
  });
  const api = createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: wsLink({ client: ws, transformer: superjson }),
        false: httpBatchLink({ url: ep.url + '/trpc', headers, transformer: superjson, maxURLLength: 4000, maxItems: 50 }),
      }),
    ],
  });
  return { api, close: () => void ws.close() };
}

/** An API or connection error as one line that says what to fix. */
export function explain(e: unknown, ep: Endpoint): CliError {
  if (e instanceof CliError) return e;
  if (e instanceof TRPCClientError) {
    const data = e.data as { appCode?: string; httpStatus?: number } | undefined;
    const cause = (e.cause as { cause?: { code?: string } } | undefined)?.cause?.code ?? (e.cause as { code?: string } | undefined)?.code;
    if (cause === 'ECONNREFUSED' || /fetch failed|ECONNREFUSED/.test(e.message)) {
      return new CliError(`cannot reach the Manager at ${ep.url}: is \`agentmgr serve\` running?`, 3);
    }
    if (data?.httpStatus === 401 || /401|Unauthorized|API token/i.test(e.message)) {
      return new CliError(`the Manager at ${ep.url} refused the API token: check AGENTMGR_TOKEN or the data dir's api-token`, 3);
    }
    return new CliError(e.message, 1);
  }
  return new CliError((e as Error).message ?? String(e), 1);
}
