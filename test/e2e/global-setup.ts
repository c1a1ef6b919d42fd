import { existsSync } from 'node:fs';

/** The UI tests drive Debian's Chromium (Playwright's own browsers cannot be downloaded here). */
export default function setup(): void {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(path)) {
    throw new Error(`the UI tests need Chromium at ${path}: install Debian's package (apt-get install chromium), or set CHROMIUM_PATH`);
  }
}
