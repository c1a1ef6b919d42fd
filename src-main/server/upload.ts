import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, join } from 'node:path';

export const DEFAULT_UPLOAD_MAX_BYTES = 2 * 1024 * 1024 * 1024;

/** A file name safe to write: no folders, no control characters, not empty, not too long. */
export function safeFileName(raw: string): string {
  const name = basename(raw.replace(/\\/g, '/'))
    // Control characters, and the bidirectional controls that make "evil\u202Etxt.exe" read as "evilexe.txt".
    .replace(/[\u0000-\u001f\u007f-\u009f/\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '_')
    .replace(/^\.+/, '_')
    .slice(-200);
  return name || 'upload';
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json', Connection: 'close' }).end(JSON.stringify(body));
}

/**
 * POST /upload?name=FILE with the file as the body: how a browser hands a dropped file to the
 * Manager (in Electron the path is passed instead). Streams to <data dir>/uploads/<random>/FILE,
 * refuses bodies over the cap (and removes what was written), answers {path, sizeBytes, name}.
 */
export function handleUpload(req: IncomingMessage, res: ServerResponse, uploadsDir: string, maxBytes: number): void {
  if (req.method !== 'POST') return reply(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: 'POST the file as the request body' } });
  const url = new URL(req.url ?? '/', 'http://x');
  const raw = url.searchParams.get('name');
  if (!raw) return reply(res, 400, { error: { code: 'INVALID_INPUT', message: 'give the file name as ?name=' } });
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return reply(res, 413, {
      error: { code: 'PAYLOAD_TOO_LARGE', message: `${raw} is ${declared} bytes; the upload limit is ${maxBytes} bytes (AGENTMGR_UPLOAD_MAX_MB)` },
    });
  }
  const name = safeFileName(raw);
  const dir = join(uploadsDir, randomBytes(8).toString('hex'));
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  const out = createWriteStream(path, { mode: 0o600 });
  let size = 0;
  let failed = false;
  const fail = (status: number, code: string, message: string): void => {
    if (failed) return;
    failed = true;
    req.unpipe(out);
    out.destroy();
    rmSync(dir, { recursive: true, force: true });
    reply(res, status, { error: { code, message } });
    req.resume();
  };
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > maxBytes) fail(413, 'PAYLOAD_TOO_LARGE', `${name} is over the upload limit of ${maxBytes} bytes (AGENTMGR_UPLOAD_MAX_MB)`);
  });
  req.on('aborted', () => fail(400, 'INVALID_INPUT', 'the upload was interrupted'));
  out.on('error', (e) => fail(500, 'INTERNAL', `could not save ${name}: ${e.message}`));
  out.on('finish', () => {
    if (!failed) reply(res, 200, { path, name, sizeBytes: size });
  });
  req.pipe(out);
}
