// The loader hooks ts-hook.mjs registers: .ts and .mts files load as ES modules, types stripped.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import * as nodeModule from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Loading TypeScript's transpiler takes a second: what it made is kept, by the source's hash, so
// an agent that has not changed starts at once on its next attempt. Only in a folder of our own
// that no one else can write to: what is read from there is run.
const CACHE = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'agentmgr', 'ts');

async function cacheIsOurs() {
  try {
    await mkdir(CACHE, { recursive: true, mode: 0o700 });
    const st = await stat(CACHE);
    return st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

let ts;

async function strip(source, path) {
  if (typeof nodeModule.stripTypeScriptTypes === 'function') {
    return nodeModule.stripTypeScriptTypes(source, { mode: 'transform', sourceUrl: path });
  }
  const key = createHash('sha256').update(path).update('\0').update(source).digest('hex');
  const cached = join(CACHE, key + '.mjs');
  const useCache = await cacheIsOurs();
  if (useCache) {
    try {
      return await readFile(cached, 'utf8');
    } catch {
      // not made yet
    }
  }
  ts ??= (await import('typescript')).default;
  const out = ts.transpileModule(source, {
    fileName: path,
    reportDiagnostics: true,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, inlineSourceMap: true, isolatedModules: true },
  });
  const bad = (out.diagnostics ?? []).find((d) => d.category === ts.DiagnosticCategory.Error);
  if (bad) {
    const where = bad.file && bad.start !== undefined ? bad.file.getLineAndCharacterOfPosition(bad.start) : null;
    const at = where ? `${path}:${where.line + 1}:${where.character + 1}` : path;
    throw new SyntaxError(`${at}: ${ts.flattenDiagnosticMessageText(bad.messageText, '\n')}`);
  }
  if (!useCache) return out.outputText;
  try {
    const tmp = `${cached}.${process.pid}.tmp`;
    await writeFile(tmp, out.outputText);
    await rename(tmp, cached);
  } catch {
    // a cache that cannot be written only costs the next start its second
  }
  return out.outputText;
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !/\.m?ts$/.test(new URL(url).pathname)) return nextLoad(url, context);
  const path = fileURLToPath(url);
  return { format: 'module', source: await strip(await readFile(path, 'utf8'), path), shortCircuit: true };
}
