/**
 * The Electron composition root: the same Manager and API as `agentmgr serve` (one composition
 * root each, sharing everything below), the same data dir and token file (so the CLI works
 * against the running app), and the desktop shell: windows, tray, quick view, notifications.
 * Thin on purpose: Desktop is tested with a fake electron module (test/electron).
 */
import { join } from 'node:path';
import * as electron from 'electron';
import { createAppServices, type AppServices } from './app.js';
import { resolveServeOptions } from './config.js';
import { DataDirLockedError, loadOrCreateToken, writeServerFile } from './data-dir.js';
import { Desktop, type ElectronLike } from './electron/desktop.js';
import { hardenWebContents } from './electron/hardening.js';
import { packageRoot, rendererDir } from './paths.js';
import { startServer, type RunningServer } from './server/http-server.js';

const { app, BrowserWindow, dialog, shell } = electron;
let services: AppServices | null = null;
let server: RunningServer | null = null;
let desktop: Desktop | null = null;

async function boot(): Promise<void> {
  const options = resolveServeOptions({}, { ...process.env, AGENTMGR_DATA_DIR: process.env.AGENTMGR_DATA_DIR ?? app.getPath('userData') });
  try {
    services = await createAppServices(options);
  } catch (e) {
    // A headless Manager (or another app) already schedules from this data dir: say so, never twice.
    const title = e instanceof DataDirLockedError ? 'Agent Manager is already running' : 'Agent Manager could not start';
    dialog.showErrorBox(title, (e as Error).message);
    app.exit(1);
    return;
  }
  const token = loadOrCreateToken(services.dirs);
  server = await startServer({ services, port: options.port, token, rendererDir: rendererDir(), maxUploadBytes: options.uploadMaxMB * 1024 * 1024 });
  writeServerFile(services.dirs, server);
  desktop = new Desktop(electron as unknown as ElectronLike, services, {
    preload: join(import.meta.dirname, '..', 'preload', 'index.cjs'),
    rendererDir: rendererDir(),
    devUrl: process.env.ELECTRON_RENDERER_URL,
    trayIconsDir: join(packageRoot(), 'resources', 'tray'),
  });
  desktop.start();
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    const w = BrowserWindow.getAllWindows()[0];
    w?.show();
    w?.focus();
  });
  app.on('web-contents-created', (_e, wc) => hardenWebContents(wc, (url) => void shell.openExternal(url)));
  void app.whenReady().then(boot);
  // The window closing keeps the app in the tray: never quit because no window is open.
  app.on('window-all-closed', () => {});
  app.on('before-quit', (e) => {
    if (!desktop || desktop.quitting) return;
    e.preventDefault();
    void desktop.quit();
  });
  app.on('will-quit', () => {
    void server?.close();
  });
}
