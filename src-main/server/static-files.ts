import {
  closeSync,
  constants as fsc,
  createReadStream,
  existsSync,
  fstatSync,
  lstatSync,
  openSync,
  readSync,
  readlinkSync,
  realpathSync,
  statSync,
} from 'node:fs';
import type { ServerResponse } from 'node:http';
import { basename, dirname, extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
};

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Agent Manager</title>
<p>The UI is not built yet. Run <code>npm run build</code>, then reload this page.</p>`;

/** Serves the built renderer; unknown paths get index.html (the UI routes itself). */
export function serveStatic(root: string, pathname: string, res: ServerResponse): void {
  const headers = {
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'X-Frame-Options': 'DENY',
    'Content-Security-Policy':
      "default-src 'self'; script-src 'self'; connect-src 'self' ws://127.0.0.1:* ws://localhost:*; img-src 'self' data:; media-src 'self' data:; style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  };
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    res.writeHead(400, headers).end();
    return;
  }
  const rel = normalize(decoded).replace(/^([/\\])+/, '');
  let file = join(root, rel);
  if (!file.startsWith(root + sep) && file !== root) {
    res.writeHead(404, headers).end();
    return;
  }
  if (!existsSync(file) || statSync(file).isDirectory()) file = join(root, 'index.html');
  if (!existsSync(file)) {
    res.writeHead(200, { ...headers, 'Content-Type': TYPES['.html'] }).end(NOT_BUILT);
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Cache-Control': 'no-cache' });
  createReadStream(file).pipe(res);
}

/**
 * Opens an artifact for download without trusting the path: the file may have been swapped for
 * a link (to /etc/shadow, say), or a folder on its way for a symlink, after the agent reported
 * it. So: opened with O_NOFOLLOW (the last part is not a link), then checked on the open
 * descriptor: a regular file, with one link (not a hard link to something else), whose real
 * path (as the kernel names the descriptor) lies inside the attempt's artifacts folder.
 */
export function openArtifact(path: string, artifactsRoot: string): { fd: number; size: number } | { error: string } {
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { error: code === 'ELOOP' ? 'the artifact is a symbolic link now; only regular files are served' : `the artifact file is gone: ${path}` };
  }
  const fail = (error: string) => {
    closeSync(fd);
    return { error };
  };
  const st = fstatSync(fd);
  if (!st.isFile()) return fail('the artifact is not a regular file any more');
  if (st.nlink !== 1) return fail('the artifact has other hard links; only files of its own are served');
  let real: string;
  let root: string;
  try {
    real = readlinkSync(`/proc/self/fd/${fd}`);
    // The artifacts folder itself may have been swapped for a link: resolve only its parent.
    if (!lstatSync(artifactsRoot).isDirectory()) return fail("the artifact is no longer inside its attempt's artifacts folder (the folder was replaced)");
    root = join(realpathSync(dirname(artifactsRoot)), basename(artifactsRoot));
  } catch {
    return fail('the artifact could not be checked');
  }
  if (!real.startsWith(root + sep)) return fail("the artifact is no longer inside its attempt's artifacts folder");
  return { fd, size: st.size };
}

/** The first `maxBytes` of an artifact, opened with the same checks as a download (for previews). */
export function readArtifactStart(path: string, artifactsRoot: string, maxBytes: number): { bytes: Uint8Array; sizeBytes: number } | { error: string } {
  const opened = openArtifact(path, artifactsRoot);
  if ('error' in opened) return opened;
  try {
    const bytes = Buffer.alloc(Math.min(opened.size, maxBytes));
    let got = 0;
    while (got < bytes.length) {
      const n = readSync(opened.fd, bytes, got, bytes.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return { bytes: bytes.subarray(0, got), sizeBytes: opened.size };
  } catch (e) {
    return { error: `the artifact could not be read: ${(e as Error).message}` };
  } finally {
    closeSync(opened.fd);
  }
}

/** An artifact as a download (it is served only because the store lists it for that task). */
export function serveFile(path: string, name: string, res: ServerResponse, artifactsRoot: string): void {
  const opened = openArtifact(path, artifactsRoot);
  if ('error' in opened) {
    res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: { code: 'NOT_FOUND', message: opened.error } }));
    return;
  }
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': String(opened.size),
    // filename= for tools that read only it (curl -OJ), filename*= for the exact name (RFC 6266).
    'Content-Disposition': `attachment; filename="${name.replace(/[^\x20-\x7e]|["\\%]/g, '_')}"; filename*=UTF-8''${encodeURIComponent(name)}`,
    'X-Content-Type-Options': 'nosniff',
  });
  // Streams from the checked descriptor, never by path again.
  createReadStream('', { fd: opened.fd, end: Math.max(0, opened.size - 1) }).pipe(res);
}
