import { existsSync, readFileSync } from 'node:fs';
import { defaultDataDir } from '../config.js';
import { layout } from '../data-layout.js';
import { createRpcClient, RpcError, type ApiClient } from './rpc.js';

export type { ApiClient } from './rpc.js';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    /** The API's appCode where the Manager answered with one (UNAUTHORIZED, NOT_FOUND, ...). */
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface Endpoint {
  url: string;
  token: string;
  /** Where the main token is kept (to say so when it is refused). */
  tokenFile?: string;
}

/** Stable words for each CLI failure, for `--json` errors (`{"error": {"code", "message"}}`). */
export function errorCode(e: CliError): string {
  return e.code ?? (e.exitCode === 2 ? 'USAGE' : e.exitCode === 3 ? 'UNREACHABLE' : 'FAILED');
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
  return { url: url.replace(/\/+$/, ''), token, tokenFile: l.token };
}

/** A client for the Manager at `ep` (see rpc.ts); `close()` ends its connections. */
export function createClient(ep: Endpoint): { api: ApiClient; close(): void } {
  return createRpcClient(ep.url, ep.token);
}

/** An API or connection error as one line that says what to fix. */
export function explain(e: unknown, ep: Endpoint): CliError {
  if (e instanceof CliError) return e;
  // Ours (rpc.ts), or the official client's TRPCClientError from a subscription: the same fields.
  if (e instanceof RpcError || (e instanceof Error && e.name === 'TRPCClientError')) {
    const data = (e as RpcError).data;
    const cause = (e.cause as { cause?: { code?: string } } | undefined)?.cause?.code ?? (e.cause as { code?: string } | undefined)?.code;
    if (cause === 'ECONNREFUSED' || /fetch failed|ECONNREFUSED/.test(e.message)) {
      return new CliError(`cannot reach the Manager at ${ep.url}: is \`agentmgr serve\` running?`, 3);
    }
    // A refused token is answered before tRPC (a plain 401), which the client reads as "Unable to transform response".
    const status = (e as RpcError).status ?? (e as { meta?: { response?: { status?: number } } }).meta?.response?.status ?? data?.httpStatus;
    if (status === 401 || /\b401\b|Unauthorized|API token/i.test(e.message)) {
      const where = ep.tokenFile ? `it is in ${ep.tokenFile}` : 'the main one is in the data dir, as api-token';
      return new CliError(
        `the API token is wrong or missing (the Manager at ${ep.url} refused it); ${where}, or give AGENTMGR_TOKEN; \`agentmgr ui\` prints a fresh URL`,
        3,
        'UNAUTHORIZED',
      );
    }
    return new CliError(e.message, 1, data?.appCode);
  }
  return new CliError((e as Error).message ?? String(e), 1);
}
