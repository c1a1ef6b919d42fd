/**
 * The Electron composition root: the same Manager and API as `agentmgr serve`, plus a hardened
 * window whose renderer talks tRPC over IPC. Thin on purpose: everything below it is tested in
 * plain Node (see test/electron for this layer with a fake electron module).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { app, BrowserWindow, dialog, ipcMain, shell } from 'electron';
import { createAppServices, type AppServices } from './app.js';
import { appRouter } from './api/router.js';
import { resolveServeOptions } from './config.js';
import { DataDirLockedError, loadOrCreateToken } from './data-dir.js';
import { hardenedWebPreferences, hardenWebContents } from './electron/hardening.js';
import { createIpcHandler, IPC_CHANNEL } from './electron/ipc-handler.js';
import { rendererDir } from './paths.js';
import { startServer, type RunningServer } from './server/http-server.js';

let services: AppServices | null = null;
let server: RunningServer | null = null;

async function boot(): Promise<void> {
  const options = resolveServeOptions({}, { ...process.env, AGENTMGR_DATA_DIR: process.env.AGENTMGR_DATA_DIR ?? app.getPath('userData') });
  try {
    services = await createAppServices(options);
  } catch (e) {
    const title = e instanceof DataDirLockedError ? 'Agent Manager is already running' : 'Agent Manager could not start';
    dialog.showErrorBox(title, (e as Error).message);
    app.quit();
    return;
  }
  const token = loadOrCreateToken(services.dirs);
  server = await startServer({ services, port: options.port, token, rendererDir: rendererDir() });
  writeFileSync(services.dirs.server, JSON.stringify({ url: server.url, port: server.port, pid: process.pid }) + '\n', { mode: 0o600 });

  const win = new BrowserWindow({
    width: 1200,
    height: 800,
    show: false,
    title: 'Agent Manager',
    webPreferences: hardenedWebPreferences(join(import.meta.dirname, '..', 'preload', 'index.cjs')),
  });
  hardenWebContents(win.webContents, (url) => void shell.openExternal(url));
  const s = services;
  const ipc = createIpcHandler({
    router: appRouter,
    isTrustedSender: (event) => event.sender.id === win.webContents.id,
    createContext: () => ({ services: s, authorized: true }),
    onError: (e) => s.logger.error('IPC failure', { error: String(e) }),
  });
  ipcMain.on(IPC_CHANNEL, (event, message) => void ipc.handle(event, message));
  win.webContents.on('destroyed', () => ipc.dropSender(win.webContents.id));
  win.once('ready-to-show', () => win.show());
  if (process.env.ELECTRON_RENDERER_URL) await win.loadURL(process.env.ELECTRON_RENDERER_URL);
  else await win.loadFile(join(rendererDir(), 'index.html'));
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => BrowserWindow.getAllWindows()[0]?.focus());
  app.on('web-contents-created', (_e, wc) => hardenWebContents(wc, (url) => void shell.openExternal(url)));
  void app.whenReady().then(boot);
  app.on('window-all-closed', () => app.quit());
  app.on('will-quit', () => {
    void server?.close();
    services?.close();
  });
}
