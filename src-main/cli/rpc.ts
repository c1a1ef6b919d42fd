import { Agent, request } from 'node:http';
import type { createTRPCClient } from '@trpc/client';
import type { AppRouter } from '../api/router.js';

/**
 * The CLI's own tRPC client: queries and mutations over node:http in tRPC's batch protocol (what
 * `httpBatchLink` sends: `GET /trpc/a,b?batch=1&input=…`, `POST /trpc/a,b?batch=1`), with the
 * superjson envelope the server's transformer expects. It exists so a command starts fast: the
 * official client, superjson and ws cost the CLI about 150 ms of module loading before it could
 * say anything (bench/cli-start.mjs). Subscriptions (logs --follow, wait) load the official
 * client on first use. The API type is the official client's, so the compiler checks every call.
 */
export type ApiClient = ReturnType<typeof createTRPCClient<AppRouter>>;

/** A refused call, an API error or a connection failure, with what the Manager said about it. */
export class RpcError extends Error {
  override name = 'RpcError';
  constructor(
    message: string,
    /** tRPC's error data: `appCode`, `httpStatus`, and `index` for a batch item. */
    readonly data: { appCode?: string; httpStatus?: number; index?: number; code?: string } | undefined,
    /** The HTTP status, where an answer came. */
    readonly status: number | undefined,
    /** The socket error (`code: 'ECONNREFUSED'`) where none came. */
    override readonly cause?: { code?: string },
  ) {
    super(message);
  }
}

interface Pending {
  path: string;
  input: unknown;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/** Limits as the official link had them: a query's input rides in its URL. */
const MAX_URL = 4000;
const MAX_ITEMS = 50;

export type Envelope = { json: unknown; meta?: { values?: unknown; referentialEqualities?: unknown; v?: number } };

/**
 * The superjson form of an input. An absent optional argument (a top-level undefined) is left
 * out; anything else that is not plain JSON (a Date, a Map, an undefined inside the data) takes
 * the real library, so the Manager sees it exactly as the official client would send it.
 */
async function encode(input: unknown): Promise<Envelope> {
  const given =
    input !== null && typeof input === 'object' && Object.getPrototypeOf(input) === Object.prototype
      ? Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined))
      : input;
  if (given === undefined || plain(given)) return { json: given };
  const superjson = (await import('superjson')).default;
  return superjson.serialize(input) as Envelope;
}

function plain(v: unknown): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
  if (Array.isArray(v)) return v.every(plain);
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) return Object.values(v).every(plain);
  return false;
}

/**
 * An answer's value. The Manager's answers carry Dates and undefineds, which are read here, and
 * objects shared between two places (`resources` gives the GPU status twice), which superjson
 * writes out in full at each place: the CLI reads them as two equal copies. Anything else
 * superjson can say (Maps, Sets, BigInts, a cycle) takes the real library.
 */
export async function decode(e: Envelope): Promise<unknown> {
  const values = e.meta?.values;
  const shared = e.meta?.referentialEqualities;
  const leaf = (t: unknown): 'Date' | 'undefined' | null =>
    Array.isArray(t) && t.length === 1 && (t[0] === 'Date' || t[0] === 'undefined') ? (t[0] as 'Date' | 'undefined') : null;
  const simple =
    (shared === undefined || copiesInFull(e.json, shared)) &&
    (values === undefined ||
      (Array.isArray(values) ? leaf(values) !== null : typeof values === 'object' && values !== null && Object.values(values).every((t) => leaf(t) !== null)));
  if (!simple) {
    const superjson = (await import('superjson')).default;
    return superjson.deserialize(e as Parameters<typeof superjson.deserialize>[0]);
  }
  if (values === undefined) return e.json;
  const revive = (t: 'Date' | 'undefined', raw: unknown): unknown => (t === 'Date' ? new Date(raw as string) : undefined);
  if (Array.isArray(values)) return revive(leaf(values)!, e.json);
  const root = e.json;
  for (const [key, t] of Object.entries(values as Record<string, unknown>)) {
    const path = parsePath(key);
    let node = root as Record<string, unknown>;
    for (const k of path.slice(0, -1)) node = node[k] as Record<string, unknown>;
    const last = path[path.length - 1]!;
    node[last] = revive(leaf(t)!, node[last]);
  }
  return root;
}

/**
 * Whether each shared object is written out in full wherever it appears (superjson does so for
 * an object seen again, not for one inside itself: that place holds null). The root shared
 * (superjson's array form) is left to the library.
 */
function copiesInFull(json: unknown, shared: unknown): boolean {
  if (shared === null || typeof shared !== 'object' || Array.isArray(shared)) return false;
  const at = (key: string): unknown => {
    let node = json;
    for (const k of parsePath(key)) {
      if (node === null || typeof node !== 'object') return undefined;
      node = (node as Record<string, unknown>)[k];
    }
    return node;
  };
  const object = (v: unknown) => v !== null && typeof v === 'object';
  return Object.entries(shared as Record<string, unknown>).every(
    ([key, more]) => object(at(key)) && Array.isArray(more) && more.every((p) => typeof p === 'string' && object(at(p))),
  );
}

/** superjson's path: keys joined by ".", where "\." is a dot in a key and "\\" a backslash. */
function parsePath(s: string): string[] {
  const out: string[] = [];
  let seg = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && (s[i + 1] === '.' || s[i + 1] === '\\')) seg += s[++i];
    else if (c === '.') {
      out.push(seg);
      seg = '';
    } else seg += c;
  }
  out.push(seg);
  return out;
}

/** A client for the Manager at `url` with `token`; `close()` ends its connections and any subscription. */
export function createRpcClient(url: string, token: string): { api: ApiClient; close(): void } {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const headers = { Authorization: `Bearer ${token}` };
  const queues: Record<'query' | 'mutation', Pending[]> = { query: [], mutation: [] };
  let scheduled = false;

  const send = (method: 'GET' | 'POST', target: string, body: string | undefined): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const req = request(
        url + target,
        { method, agent, headers: body !== undefined ? { ...headers, 'Content-Type': 'application/json' } : headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', (err: NodeJS.ErrnoException) => reject(new RpcError(`fetch failed: ${err.message}`, undefined, undefined, { code: err.code })));
      req.end(body);
    });

  const flushGroup = async (type: 'query' | 'mutation', group: Pending[]): Promise<void> => {
    const envelopes: Record<string, Envelope> = {};
    for (let i = 0; i < group.length; i++) envelopes[i] = await encode(group[i]!.input);
    const paths = group.map((p) => p.path).join(',');
    const inputs = JSON.stringify(envelopes);
    let answer;
    try {
      answer =
        type === 'query'
          ? await send('GET', `/trpc/${paths}?batch=1&input=${encodeURIComponent(inputs)}`, undefined)
          : await send('POST', `/trpc/${paths}?batch=1`, inputs);
    } catch (e) {
      for (const p of group) p.reject(e);
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer.text);
    } catch {
      const err = new RpcError(`the Manager answered HTTP ${answer.status} with something that is not JSON`, { httpStatus: answer.status }, answer.status);
      for (const p of group) p.reject(err);
      return;
    }
    if (!Array.isArray(parsed)) {
      // Refused before tRPC (the token, Host or Origin checks, a body cap): one plain error for all.
      const body = parsed as { error?: { code?: string; message?: string } };
      const err = new RpcError(body.error?.message ?? `HTTP ${answer.status}`, { appCode: body.error?.code, httpStatus: answer.status }, answer.status);
      for (const p of group) p.reject(err);
      return;
    }
    for (let i = 0; i < group.length; i++) {
      const item = parsed[i] as { result?: { data: Envelope }; error?: Envelope } | undefined;
      const p = group[i]!;
      try {
        if (item?.result) p.resolve(await decode(item.result.data));
        else if (item?.error) {
          const e = (await decode(item.error)) as { message: string; data?: RpcError['data'] };
          p.reject(new RpcError(e.message, e.data, e.data?.httpStatus));
        } else p.reject(new RpcError(`the Manager gave no answer for ${p.path}`, undefined, answer.status));
      } catch (e) {
        p.reject(e);
      }
    }
  };

  /** Everything asked in one tick goes in as few requests as the limits allow, like httpBatchLink. */
  const flush = async (): Promise<void> => {
    scheduled = false;
    for (const type of ['query', 'mutation'] as const) {
      const all = queues[type].splice(0);
      const groups: Pending[][] = [];
      let group: Pending[] = [];
      let urlLength = 0;
      for (const p of all) {
        const size = p.path.length + 1 + (type === 'query' ? encodeURIComponent(JSON.stringify(p.input) ?? '').length + 16 : 0);
        if (group.length > 0 && (group.length >= MAX_ITEMS || urlLength + size > MAX_URL)) {
          groups.push(group);
          group = [];
          urlLength = 0;
        }
        group.push(p);
        urlLength += size;
      }
      if (group.length) groups.push(group);
      await Promise.all(groups.map((g) => flushGroup(type, g)));
    }
  };

  const call = (type: 'query' | 'mutation', path: string, input: unknown): Promise<unknown> =>
    new Promise((resolve, reject) => {
      queues[type].push({ path, input, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(() => void flush());
      }
    });

  // Subscriptions: the official client over a WebSocket, loaded the first time one is asked for.
  let official: Promise<{ api: ApiClient; close(): void }> | null = null;
  const subscribe = (path: string, input: unknown, handlers: { onData?(d: unknown): void; onError?(e: unknown): void }) => {
    official ??= import('./client-ws.js').then((m) => m.createWsClient(url, token));
    let unsub: (() => void) | null = null;
    let cancelled = false;
    void official.then(
      ({ api }) => {
        if (cancelled) return;
        let target = api as unknown as Record<string, unknown>;
        for (const k of path.split('.')) target = target[k] as Record<string, unknown>;
        const sub = (target as unknown as { subscribe(i: unknown, h: unknown): { unsubscribe(): void } }).subscribe(input, handlers);
        unsub = () => sub.unsubscribe();
      },
      (e: unknown) => handlers.onError?.(e),
    );
    return {
      unsubscribe() {
        cancelled = true;
        unsub?.();
      },
    };
  };

  const proxy = (path: string[]): unknown =>
    new Proxy(() => {}, {
      get(_t, key: string) {
        const p = path.join('.');
        if (key === 'query') return (input?: unknown) => call('query', p, input);
        if (key === 'mutate') return (input?: unknown) => call('mutation', p, input);
        if (key === 'subscribe') return (input: unknown, h: Parameters<typeof subscribe>[2]) => subscribe(p, input, h);
        if (key === 'then') return undefined;
        return proxy([...path, key]);
      },
    });

  return {
    api: proxy([]) as ApiClient,
    close: () => {
      agent.destroy();
      void official?.then((o) => o.close());
    },
  };
}
