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
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  if (allowQuery) {
    const q = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
    if (q) return q;
  }
  return null;
}

export function tokenValid(given: string | null, expected: string): boolean {
  return given !== null && safeEqual(given, expected);
}
