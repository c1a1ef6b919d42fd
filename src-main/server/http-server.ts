import { fileNameOf } from '../../contracts/artifacts.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { WebSocketServer } from 'ws';
import type { AppServices } from '../app.js';
import { appRouter } from '../api/router.js';
import { batchSize, hostAllowed, hostHeaderCount, MAX_BATCH_CALLS, originAllowed, tokenFrom, tokenValid } from './guards.js';
import { REST_BASE } from '../../contracts/rest.js';
import { restHandler, sendProblem } from './rest.js';
import { serveFile, serveStatic } from './static-files.js';
import { DEFAULT_UPLOAD_MAX_BYTES, handleUpload } from './upload.js';

export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface ServerOptions {
  services: AppServices;
  port: number;
  token: string;
  rendererDir: string;
  maxBodyBytes?: number;
  maxUploadBytes?: number;
}

export interface RunningServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

function refuse(res: ServerResponse, status: number, code: string, message: string): void {
  // Close the connection: a refused request's body is never read, so the socket cannot be reused.
  res.writeHead(status, { 'Content-Type': 'application/json', Connection: 'close' }).end(JSON.stringify({ error: { code, message } }));
}

/**
 * The API over HTTP (tRPC at /trpc) and WebSocket (subscriptions, same port), plus the built UI
 * at /. Listens on 127.0.0.1 only. Every API request needs the bearer token; a Host or Origin
 * that is not our loopback address is refused (DNS rebinding, cross-site pages).
 */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { services, token } = opts;
  const maxBody = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  let port = opts.port;
  const tokenHint = `send "Authorization: Bearer <token>"; the token is in ${services.dirs.token}`;
  /**
   * Whose tasks a request may reach: null for the main token (every project's), a project's name
   * for a token made for it, undefined for no valid token at all.
   */
  const scopeOf = (req: IncomingMessage, allowQuery: boolean): string | null | undefined => {
    const given = tokenFrom(req, allowQuery);
    if (given === null) return undefined;
    if (tokenValid(given, token)) return null;
    return services.tokens.resolve(given) ?? undefined;
  };
  const authorized = (req: IncomingMessage, allowQuery = false): boolean => scopeOf(req, allowQuery) !== undefined;
  const rest = restHandler(services, { maxBody, scopeOf: (req) => scopeOf(req, false), tokenHint });

  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: '/trpc/',
    maxBodySize: maxBody,
    maxBatchSize: MAX_BATCH_CALLS,
    createContext: ({ req }) => {
      // Checked again here: a token revoked since the guard looked is refused, never taken as the main one.
      const project = scopeOf(req, false);
      return { services, authorized: project !== undefined, project: project ?? null };
    },
  });

  const guard = (req: IncomingMessage): { status: number; code: string; message: string } | null => {
    if (hostHeaderCount(req) > 1) return { status: 400, code: 'INVALID_INPUT', message: 'the request has more than one Host header; send exactly one' };
    if (!hostAllowed(req.headers.host, port))
      return { status: 403, code: 'FORBIDDEN', message: `Host "${req.headers.host ?? ''}" is not allowed; use http://127.0.0.1:${port}` };
    if (!originAllowed(req.headers.origin, port)) return { status: 403, code: 'FORBIDDEN', message: `requests from ${req.headers.origin} are not allowed` };
    return null;
  };

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (e) {
      services.logger.error('HTTP request failed', { url: req.url, error: String(e) });
      if (!res.headersSent) refuse(res, 500, 'INTERNAL', 'the Manager failed to answer this request; see its log');
      else res.destroy();
    }
  });

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const bad = guard(req);
    if (bad) return refuse(res, bad.status, bad.code, bad.message);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/trpc' || url.pathname.startsWith('/trpc/')) {
      if (!authorized(req)) return refuse(res, 401, 'UNAUTHORIZED', `missing or wrong API token: ${tokenHint}`);
      const length = Number(req.headers['content-length'] ?? 0);
      if (length > maxBody)
        return refuse(res, 413, 'PAYLOAD_TOO_LARGE', `request body of ${length} bytes is over the ${maxBody}-byte limit; send fewer tasks per batch`);
      const calls = batchSize(url);
      if (calls > MAX_BATCH_CALLS)
        return refuse(
          res,
          413,
          'PAYLOAD_TOO_LARGE',
          `a batch of ${calls} calls is over the limit of ${MAX_BATCH_CALLS} calls per request; split it (httpBatchLink's maxItems), or submit many tasks in one tasks.submitBatch call`,
        );
      return void trpc(req, res);
    }
    const artifact = /^\/artifacts\/(\d+)\/(\d+)$/.exec(url.pathname);
    if (artifact) {
      if (!authorized(req)) return refuse(res, 401, 'UNAUTHORIZED', `missing or wrong API token: ${tokenHint}`);
      // A project's token reaches its own project's artifacts only.
      const scope = scopeOf(req, false);
      const owner = services.manager.queries.get(Number(artifact[1]));
      if (scope != null && owner?.project !== scope) return refuse(res, 404, 'NOT_FOUND', `no task with id ${artifact[1]} in project ${scope}`);
      const list = services.manager.queries.artifacts(Number(artifact[1]));
      const a = list[Number(artifact[2])];
      if (!a) return refuse(res, 404, 'NOT_FOUND', `task ${artifact[1]} has no artifact number ${artifact[2]}`);
      // The download is named after the file itself, with its extension; the event's `name` is a label.
      return serveFile(a.path, fileNameOf(a.path), res, join(services.attemptFolder(a.taskId, a.attempt), 'artifacts'));
    }
    if (url.pathname === REST_BASE || url.pathname.startsWith(`${REST_BASE}/`)) {
      rest.handle(req, res, url).catch((e: unknown) => {
        services.logger.error('REST request failed', { url: req.url, error: String(e) });
        if (!res.headersSent) sendProblem(res, { appCode: 'INTERNAL', detail: 'the Manager failed to answer this request; see its log' });
        else res.destroy();
      });
      return;
    }
    if (url.pathname === '/upload') {
      if (!authorized(req)) return refuse(res, 401, 'UNAUTHORIZED', `missing or wrong API token: ${tokenHint}`);
      return handleUpload(req, res, join(services.dirs.root, 'uploads'), opts.maxUploadBytes ?? DEFAULT_UPLOAD_MAX_BYTES);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'METHOD_NOT_ALLOWED', 'only GET is served outside /trpc');
    serveStatic(opts.rendererDir, url.pathname, res);
  };

  const wss = new WebSocketServer({ noServer: true, maxPayload: maxBody });
  const wsHandler = applyWSSHandler({
    wss,
    router: appRouter,
    createContext: ({ req }) => {
      // Checked again here: a token revoked since the guard looked is refused, never taken as the main one.
      const project = scopeOf(req, true);
      return { services, authorized: project !== undefined, project: project ?? null };
    },
    keepAlive: { enabled: true, pingMs: 30_000, pongWaitMs: 5_000 },
  });
  server.on('upgrade', (req, socket, head) => {
    const bad = guard(req) ?? (authorized(req, true) ? null : { status: 401, code: 'UNAUTHORIZED', message: `missing or wrong API token: ${tokenHint}` });
    if (bad) {
      socket.end(
        `HTTP/1.1 ${bad.status} ${bad.status === 401 ? 'Unauthorized' : 'Forbidden'}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ error: bad })}`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    server,
    port,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        rest.close();
        wsHandler.broadcastReconnectNotification();
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
