import { accessSync, constants, lstatSync, realpathSync, statSync } from 'node:fs';
import { basename, isAbsolute } from 'node:path';

export type Inspected =
  { path: string; ok: true; realPath: string; name: string; sizeBytes: number; viaSymlink: boolean } | { path: string; ok: false; error: string };

/**
 * What a dropped path really is, checked in the main process (the renderer only passes strings):
 * an absolute path to a regular, readable file; a symlink is resolved and its target checked.
 */
export function inspectPath(path: string): Inspected {
  if (!isAbsolute(path)) return { path, ok: false, error: `${path} is not an absolute path` };
  let link;
  try {
    link = lstatSync(path);
  } catch {
    return { path, ok: false, error: `${path} does not exist` };
  }
  let real = path;
  if (link.isSymbolicLink()) {
    try {
      real = realpathSync(path);
    } catch {
      return { path, ok: false, error: `${path} is a link to something that does not exist` };
    }
  }
  const st = link.isSymbolicLink() ? statSync(real) : link;
  if (st.isDirectory()) return { path, ok: false, error: `${basename(path)} is a folder: drop the files in it instead` };
  if (!st.isFile()) return { path, ok: false, error: `${basename(path)} is not a regular file` };
  try {
    accessSync(real, constants.R_OK);
  } catch {
    return { path, ok: false, error: `${basename(path)} cannot be read (permissions)` };
  }
  return { path, ok: true, realPath: real, name: basename(path), sizeBytes: st.size, viaSymlink: real !== path };
}
