import { randomBytes } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { TRPCError } from '@trpc/server';
import type { ApiErrorCode } from '../../contracts/errors.js';
import { REST_BASE, REST_ROUTES, type RestRoute } from '../../contracts/rest.js';
import type { TaskRecord } from '../core/model/task.js';
import { appRouter } from '../api/router.js';
import type { ApiServices } from '../api/services.js';
import { createCallerFactory, describeError, HTTP_STATUS } from '../api/trpc.js';
import { taskView } from '../api/views.js';
import { openApiDocument } from './openapi.js';

const callerFor = createCallerFactory(appRouter);
type Caller = ReturnType<typeof callerFor>;
type Args = { id: number; query: Record<string, string[]>; body: unknown };

const one = (q: Record<string, string[]>, k: string): string | undefined => q[k]?.at(-1);
const num = (q: Record<string, string[]>, k: string): number | undefined => (one(q, k) === undefined ? undefined : Number(one(q, k)));
const obj = (b: unknown): Record<string, unknown> => (b === undefined ? {} : (b as Record<string, unknown>));

/** Each route's call: the same procedure the UI and the CLI reach over tRPC. */
const CALLS: Record<string, (c: Caller, a: Args) => Promise<unknown>> = {
  submitTask: (c, a) => c.tasks.submit(a.body as Parameters<Caller['tasks']['submit']>[0]),
  submitBatch: (c, a) => c.tasks.submitBatch(a.body as Parameters<Caller['tasks']['submitBatch']>[0]),
  listTasks: (c, a) =>
    c.tasks.list({
      state: a.query.state ? (a.query.state.flatMap((s) => s.split(',')).filter(Boolean) as Parameters<Caller['tasks']['list']>[0]['state']) : undefined,
      agent: one(a.query, 'agent'),
      project: one(a.query, 'project'),
      name: one(a.query, 'name'),
      arrayId: num(a.query, 'arrayId'),
      cursor: num(a.query, 'cursor'),
      limit: num(a.query, 'limit') ?? 100,
    }),
  getTask: (c, a) => c.tasks.get({ id: a.id }),
  cancelTask: (c, a) => c.tasks.cancel({ id: a.id }),
  retryTask: (c, a) => c.tasks.retry({ ...obj(a.body), id: a.id }),
  setPriority: (c, a) => c.tasks.setPriority({ ...(obj(a.body) as { priority: number }), id: a.id }),
  getLogs: (c, a) => c.tasks.logs({ id: a.id, attempt: num(a.query, 'attempt'), tailBytes: num(a.query, 'tailBytes') }),
  listAgents: (c) => c.agents.list(),
  getStatus: (c) => c.queue.status(),
  getHealth: (c) => c.health(),
  pauseQueue: (c, a) => c.queue.pause(a.body as { freeVram?: boolean } | undefined),
  resumeQueue: (c) => c.queue.resume(),
};

const compiled = REST_ROUTES.map((r) => ({
  route: r,
  re: new RegExp(
    `^${(REST_BASE + r.path)
      .split('{id}')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('([^/:]+)')}$`,
  ),
}));

export interface Problem {
  appCode: ApiErrorCode;
  detail: string;
  index?: number;
  status?: number;
}

/** An RFC 9457 problem document carrying the API's application code. */
export function sendProblem(res: ServerResponse, p: Problem, headers: Record<string, string> = {}): void {
  const status = p.status ?? HTTP_STATUS[p.appCode];
  const body = {
    type: `urn:agentmgr:problem:${p.appCode.toLowerCase()}`,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail: p.detail,
    appCode: p.appCode,
    ...(p.index !== undefined ? { index: p.index } : {}),
  };
  res.writeHead(status, { 'Content-Type': 'application/problem+json', ...headers }).end(JSON.stringify(body));
}

function readBody(req: IncomingMessage, max: number): Promise<{ text: string } | { tooLarge: true }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? { tooLarge: true } : { text: Buffer.concat(chunks).toString('utf8') }));
    req.on('error', reject);
  });
}

/** What a query string holds, each name with all its values. */
function queryOf(url: URL): Record<string, string[]> {
  const q: Record<string, string[]> = {};
  for (const [k, v] of url.searchParams) (q[k] ??= []).push(v);
  return q;
}

function checkQuery(route: RestRoute, q: Record<string, string[]>): string | null {
  const allowed = route.query ? Object.keys(route.query.shape) : [];
  for (const k of Object.keys(q)) {
    if (!allowed.includes(k))
      return allowed.length
        ? `unknown query parameter \`${k}\`; ${route.method} ${REST_BASE}${route.path} takes: ${allowed.join(', ')}`
        : `${route.method} ${REST_BASE}${route.path} takes no query parameters (got \`${k}\`)`;
  }
  if (!route.query) return null;
  const flat = Object.fromEntries(Object.entries(q).map(([k, v]) => [k, k === 'state' ? v.join(',') : v.at(-1)]));
  const parsed = route.query.safeParse(flat);
  if (parsed.success) return null;
  const i = parsed.error.issues[0]!;
  const k = String(i.path[0]);
  return `query parameter \`${k}\`: ${i.code === 'invalid_format' ? 'must be a whole number' : i.message}, got "${String(flat[k])}"`;
}

/**
 * Every change to a task, numbered, kept for a while so a client that reconnects with
 * Last-Event-ID gets what it missed. Ids are "<boot>-<n>": after a restart of the Manager an old id
 * is told apart, and the client is told to reload instead of missing changes silently.
 */
class TaskEventLog {
  static readonly KEEP = 10_000;
  readonly boot = randomBytes(4).toString('hex');
  private seq = 0;
  private kept: { seq: number; task: TaskRecord }[] = [];
  private readonly listeners = new Set<(e: { seq: number; task: TaskRecord }) => void>();
  private ctrl: AbortController | null = null;

  /** Started by the first client, so a Manager nobody follows does no work for it. */
  start(services: ApiServices): void {
    if (this.ctrl) return;
    const ctrl = new AbortController();
    this.ctrl = ctrl;
    const stream = services.events.stream((e) => (e.type === 'task' ? e.task : undefined), ctrl.signal);
    void (async () => {
      for await (const task of stream) {
        const e = { seq: ++this.seq, task };
        this.kept.push(e);
        if (this.kept.length > TaskEventLog.KEEP * 1.1) this.kept = this.kept.slice(-TaskEventLog.KEEP);
        for (const l of this.listeners) l(e);
      }
    })();
  }

  /** What came after `lastId`, or null when that is not known here (too old, or before a restart). */
  since(lastId: string): { seq: number; task: TaskRecord }[] | null {
    const m = /^([0-9a-f]+)-(\d+)$/.exec(lastId);
    if (!m || m[1] !== this.boot) return null;
    const n = Number(m[2]);
    const first = this.kept[0]?.seq ?? this.seq + 1;
    if (n + 1 < first && n < this.seq) return null;
    return this.kept.filter((e) => e.seq > n);
  }

  listen(l: (e: { seq: number; task: TaskRecord }) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  close(): void {
    this.ctrl?.abort();
    this.listeners.clear();
  }
}

/**
 * The REST surface under /api/v1 (see contracts/rest.ts): plain JSON, dates as ISO strings,
 * errors as problem documents. The caller has checked Host and Origin; this checks the token.
 */
export function restHandler(services: ApiServices, opts: { maxBody: number; scopeOf: (req: IncomingMessage) => string | null | undefined; tokenHint: string }) {
  const log = new TaskEventLog();
  let doc: string | null = null;

  const events = (req: IncomingMessage, res: ServerResponse, project: string | null, url: URL): void => {
    log.start(services);
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    const send = (e: { seq: number; task: TaskRecord }): void => {
      if (project !== null && e.task.project !== project) return;
      res.write(`id: ${log.boot}-${e.seq}\nevent: task\ndata: ${JSON.stringify(taskView(e.task, services.manager))}\n\n`);
    };
    const last = (req.headers['last-event-id'] as string | undefined) ?? url.searchParams.get('lastEventId') ?? undefined;
    if (last !== undefined) {
      const missed = log.since(last);
      if (missed === null)
        res.write(
          `event: reset\ndata: ${JSON.stringify({ reason: `changes after ${last} are no longer known here (the Manager restarted, or too many happened since); fetch the tasks again` })}\n\n`,
        );
      else for (const e of missed) send(e);
    }
    const stop = log.listen(send);
    const beat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
    beat.unref();
    req.on('close', () => {
      stop();
      clearInterval(beat);
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const project = opts.scopeOf(req);
    if (project === undefined) return sendProblem(res, { appCode: 'UNAUTHORIZED', detail: `missing or wrong API token: ${opts.tokenHint}` });
    if (url.pathname === `${REST_BASE}/openapi.json`) {
      doc ??= JSON.stringify(openApiDocument(), null, 2) + '\n';
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(doc);
      return;
    }
    const matches = compiled.map((c) => ({ ...c, m: c.re.exec(url.pathname) })).filter((c) => c.m);
    if (matches.length === 0)
      return sendProblem(res, { appCode: 'NOT_FOUND', detail: `no route ${url.pathname}; the routes are listed in ${REST_BASE}/openapi.json` });
    const hit = matches.find((c) => c.route.method === req.method);
    if (!hit) {
      const allow = [...new Set(matches.map((c) => c.route.method))].join(', ');
      return sendProblem(res, { appCode: 'INVALID_INPUT', status: 405, detail: `${url.pathname} takes ${allow}, not ${req.method ?? '?'}` }, { Allow: allow });
    }
    const { route } = hit;
    let id = 0;
    if (hit.m![1] !== undefined) {
      const raw = decodeURIComponent(hit.m![1]);
      id = /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(id) || id <= 0)
        return sendProblem(res, { appCode: 'INVALID_INPUT', detail: `the task id must be a positive whole number, got "${raw}"` });
    }
    const query = queryOf(url);
    if (route.events) delete query.lastEventId;
    const badQuery = checkQuery(route, query);
    if (badQuery) return sendProblem(res, { appCode: 'INVALID_INPUT', detail: badQuery });
    if (route.events) return events(req, res, project, url);

    let body: unknown;
    if (req.method === 'POST') {
      const read = await readBody(req, opts.maxBody);
      if ('tooLarge' in read)
        return sendProblem(res, { appCode: 'PAYLOAD_TOO_LARGE', detail: `the body is over the ${opts.maxBody}-byte limit; send fewer tasks per batch` });
      if (read.text.trim() !== '') {
        if (!route.body) return sendProblem(res, { appCode: 'INVALID_INPUT', detail: `${route.method} ${REST_BASE}${route.path} takes no body; send none` });
        const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
        if (type !== 'application/json')
          return sendProblem(res, {
            appCode: 'INVALID_INPUT',
            status: 415,
            detail: `send the body as JSON, with "Content-Type: application/json" (got "${type || 'none'}")`,
          });
        try {
          body = JSON.parse(read.text);
        } catch (e) {
          return sendProblem(res, { appCode: 'INVALID_INPUT', detail: `the body is not valid JSON: ${(e as Error).message}` });
        }
      } else if (route.body && !route.bodyOptional)
        return sendProblem(res, { appCode: 'INVALID_INPUT', detail: 'this route needs a JSON body; see its schema in /api/v1/openapi.json' });
      if (body !== undefined && route.bodyOptional && (body === null || typeof body !== 'object' || Array.isArray(body)))
        return sendProblem(res, { appCode: 'INVALID_INPUT', detail: 'the body must be a JSON object' });
      if (body !== undefined && (route.operationId === 'setPriority' || route.operationId === 'retryTask') && 'id' in obj(body))
        return sendProblem(res, { appCode: 'INVALID_INPUT', detail: 'the task id is in the path; leave `id` out of the body' });
    }
    try {
      const caller = callerFor({ services, authorized: true, project });
      const answer = await CALLS[route.operationId]!(caller, { id, query, body });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer));
    } catch (e) {
      if (e instanceof TRPCError) {
        const d = describeError(e);
        return sendProblem(res, { appCode: d.appCode, detail: d.message, index: d.index });
      }
      throw e;
    }
  };

  return { handle, close: () => log.close() };
}
