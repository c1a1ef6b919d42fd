import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes one of the fake nvidia-smi's files atomically, so it never reads half of one. */
export function writeSmi(dir: string, name: string, text: string): void {
  writeFileSync(join(dir, `.${name}.tmp`), text);
  renameSync(join(dir, `.${name}.tmp`), join(dir, name));
}
