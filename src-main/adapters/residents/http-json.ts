/** Most of an answer read: a resident that streams without end cannot fill our memory. */
const MAX_BYTES = 4 * 1024 * 1024;

export class ResidentHttpError extends Error {
  constructor(
    message: string,
    /** unreachable: no answer at all; error: an answer that is not what its API documents. */
    readonly kind: 'unreachable' | 'error',
  ) {
    super(message);
  }
}

/** One JSON request to a resident, with a deadline; its errors say what happened in words. */
export async function requestJson(base: string, path: string, opts: { method?: 'GET' | 'POST'; body?: unknown; timeoutMs: number }): Promise<unknown> {
  const url = new URL(path, base.endsWith('/') ? base : `${base}/`).toString();
  let res: Response;
  try {
    res = await fetch(url, {
      method: opts.method ?? 'GET',
      headers: opts.body === undefined ? {} : { 'content-type': 'application/json' },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: AbortSignal.timeout(opts.timeoutMs),
      redirect: 'error',
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause?.code;
    const name = (e as Error).name;
    const why = name === 'TimeoutError' ? `no answer within ${opts.timeoutMs} ms` : cause ? `${cause}` : (e as Error).message;
    throw new ResidentHttpError(`no answer from ${url} (${why})`, 'unreachable');
  }
  let text: string;
  try {
    text = await readCapped(res);
  } catch (e) {
    throw new ResidentHttpError(`${url} broke off its answer (${(e as Error).message})`, 'unreachable');
  }
  if (!res.ok) throw new ResidentHttpError(`${url} answered HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`, 'error');
  try {
    return text === '' ? null : JSON.parse(text);
  } catch {
    throw new ResidentHttpError(`${url} answered something that is not JSON: ${JSON.stringify(text.slice(0, 80))}`, 'error');
  }
}

async function readCapped(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BYTES) {
      await reader.cancel();
      throw new Error(`more than ${MAX_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
