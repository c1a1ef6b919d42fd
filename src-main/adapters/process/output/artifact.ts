import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve } from 'node:path';

/**
 * An artifact an agent reported, checked: it must resolve (links followed) to a regular file
 * inside the attempt's artifacts folder. Returns what to record, or why it is ignored.
 */
export function checkArtifact(artifactsDir: string, path: string, name: string | undefined): { path: string; name: string; sizeBytes: number } | string {
  const full = isAbsolute(path) ? path : resolve(artifactsDir, path);
  let real: string;
  try {
    real = realpathSync(full);
  } catch {
    return `${path} does not exist`;
  }
  const root = realpathSync(artifactsDir);
  const rel = relative(root, real);
  if (rel.startsWith('..') || isAbsolute(rel)) return `${path} is outside AGENT_ARTIFACTS_DIR (${root})`;
  const st = statSync(real);
  if (!st.isFile()) return `${path} is not a regular file`;
  return { path: real, name: name ?? rel, sizeBytes: st.size };
}
