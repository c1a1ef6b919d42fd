import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/** DNS-rebinding guard: the Host header must name a loopback address and our port. */
export function hostAllowed(host: string | undefined, port: number): boolean {
  if (!host) return false;
  return LOOPBACK_NAMES.some((n) => host === `${n}:${port}` || (port === 80 && host === n));
}

/** Browsers send Origin on cross-site requests; only our own page may call us. */
export function originAllowed(origin: string | undefined, port: number): boolean {
  if (origin === undefined) return true;
  return LOOPBACK_NAMES.some((n) => origin === `http://${n}:${port}`);
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The bearer token from the Authorization header, or (for browsers' WebSockets) ?token=. */
export function tokenFrom(req: IncomingMessage, allowQuery: boolean): string | null {
  // The scheme is case-insensitive (RFC 9110, 11.1).
  const auth = /^bearer +(.+)$/i.exec(req.headers.authorization ?? '');
  if (auth) return auth[1]!.trim();
  if (allowQuery) {
    const q = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
    if (q) return q;
  }
  return null;
}

export function tokenValid(given: string | null, expected: string): boolean {
  return given !== null && safeEqual(given, expected);
}

/** A request that names its host twice is ambiguous (request smuggling, cache poisoning): refused. */
export function hostHeaderCount(req: IncomingMessage): number {
  let n = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === 'host') n++;
  return n;
}

/** Most tRPC calls in one HTTP batch: each is a full Manager query, and they run on one thread. */
export const MAX_BATCH_CALLS = 50;

/** How many calls an HTTP tRPC request batches (1 for a single call). */
export function batchSize(url: URL): number {
  if (url.searchParams.get('batch') !== '1') return 1;
  const path = url.pathname.replace(/^\/trpc\/?/, '');
  return path === '' ? 0 : path.split(',').length;
}
