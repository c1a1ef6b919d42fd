import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { _electron as electron, expect, test } from '@playwright/test';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

/**
 * The Electron binary, where it is installed (its download is not reachable on our build
 * machines). Found from the package's path.txt, never by importing `electron`: that import
 * starts a download when the binary is missing.
 */
function electronBinary(): string | null {
  try {
    const pkg = dirname(createRequire(import.meta.url).resolve('electron/package.json'));
    const rel = readFileSync(join(pkg, 'path.txt'), 'utf8').trim();
    const path = join(pkg, 'dist', rel);
    return existsSync(path) ? path : null;
  } catch {
    return null;
  }
}

const binary = electronBinary();
const SKIP_REASON = 'the Electron binary is not installed on this machine (npm cannot download it here); this test runs wherever it exists';
if (binary === null) console.log(`Electron end-to-end test skipped: ${SKIP_REASON}`);

test.describe('the desktop app (Electron)', () => {
  test.skip(binary === null, SKIP_REASON);

  test('launches, a dropped file becomes a task that succeeds', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentmgr-electron-'));
    const file = join(dir, 'notes.txt');
    writeFileSync(file, 'hello from a dropped file\n');
    const app = await electron.launch({
      executablePath: binary!,
      args: [join(ROOT, 'out', 'main', 'index.js'), '--no-sandbox'],
      env: { ...process.env, AGENTMGR_DATA_DIR: join(dir, 'data'), AGENTMGR_PORT: '0', AGENTMGR_NVIDIA_SMI: '/nonexistent' },
    });
    try {
      const win = await app.firstWindow();
      await expect(win.getByText('No tasks yet.')).toBeVisible();
      // A real File with a path, as from the file manager: via a file input, then dropped.
      await win.evaluate(() => {
        const input = document.createElement('input');
        input.type = 'file';
        input.id = 'e2e-file';
        document.body.append(input);
      });
      await win.setInputFiles('#e2e-file', file);
      await win.evaluate(() => {
        const input = document.getElementById('e2e-file') as HTMLInputElement;
        const dt = new DataTransfer();
        for (const f of Array.from(input.files ?? [])) dt.items.add(f);
        for (const type of ['dragenter', 'dragover', 'drop']) window.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
      });
      await win.getByRole('button', { name: 'Create 1 task' }).click();
      await expect(win.locator('[data-task-id][data-state="succeeded"]')).toHaveCount(1, { timeout: 20_000 });
    } finally {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
