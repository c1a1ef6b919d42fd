import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** How long an upload no task names is kept: time to submit it after it is sent (the drop dialog sends first). */
export const UPLOAD_GRACE_MS = 60 * 60 * 1000;

/**
 * Removes each upload (a folder under `uploadsDir`) that no stored task names any more and that
 * is older than `graceMs`: the files of removed (cleaned) tasks, and uploads never submitted.
 * Returns the folders removed. A missing uploads folder is nothing to do.
 */
export function sweepUploads(uploadsDir: string, named: (dir: string) => boolean, now: number, graceMs = UPLOAD_GRACE_MS): string[] {
  let entries: string[];
  try {
    entries = readdirSync(uploadsDir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of entries) {
    const dir = join(uploadsDir, entry);
    try {
      if (now - statSync(dir).mtimeMs < graceMs || named(dir + '/')) continue;
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // gone meanwhile, or not ours to remove: the next sweep tries again
    }
  }
  return removed;
}
