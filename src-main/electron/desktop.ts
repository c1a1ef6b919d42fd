import { join } from 'node:path';
import type { AppServices } from '../app.js';
import { appRouter } from '../api/router.js';
import { hardenedWebPreferences, hardenWebContents, type WebContentsLike } from './hardening.js';
import { createIpcHandler, IPC_CHANNEL, type IpcEventLike } from './ipc-handler.js';
import { noticeFor } from './notifications.js';
import { quickViewPosition, trayMenu, trayState, trayTooltip, type TrayInput } from './tray-state.js';

/* The parts of Electron the desktop shell uses, so tests can hand in a fake module. */
export interface WindowLike {
  webContents: WebContentsLike & {
    id: number;
    send?(channel: string, ...args: unknown[]): void;
    on(event: string, listener: (...args: unknown[]) => void): unknown;
  };
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  show(): void;
  hide(): void;
  focus(): void;
  isVisible(): boolean;
  setPosition(x: number, y: number): void;
  loadURL(url: string): Promise<void>;
  loadFile(path: string, opts?: { hash?: string }): Promise<void>;
  destroy(): void;
}
export interface TrayLike {
  setImage(image: unknown): void;
  setToolTip(text: string): void;
  setContextMenu(menu: unknown): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  getBounds(): { x: number; y: number; width: number; height: number };
}
export interface ElectronLike {
  app: { quit(): void; on(event: string, listener: (...args: unknown[]) => void): unknown };
  BrowserWindow: new (opts: Record<string, unknown>) => WindowLike;
  Tray: new (image: unknown) => TrayLike;
  Menu: { buildFromTemplate(items: { label?: string; type?: string; click?: () => void }[]): unknown };
  nativeImage: { createFromPath(path: string): unknown };
  Notification: (new (opts: { title: string; body: string }) => { show(): void; on(event: string, l: () => void): unknown }) & { isSupported(): boolean };
  dialog: { showMessageBox(opts: Record<string, unknown>): Promise<{ response: number }> };
  shell: { openExternal(url: string): Promise<void>; openPath(path: string): Promise<string>; showItemInFolder(path: string): void };
  screen: { getDisplayNearestPoint(p: { x: number; y: number }): { workArea: { x: number; y: number; width: number; height: number } } };
  ipcMain: { on(channel: string, listener: (event: IpcEventLike, message: unknown) => void): unknown };
  /** The person's idle time in seconds (for idle-only work). */
  powerMonitor: { getSystemIdleTime(): number };
}

export interface DesktopOptions {
  preload: string;
  rendererDir: string;
  devUrl?: string;
  trayIconsDir: string;
}

const QUICK_SIZE = { width: 360, height: 480 };

/**
 * The desktop shell around the Manager: the main window, the tray and its quick view,
 * notifications, and what closing and quitting do. Every window gets the same hardened settings,
 * and IPC is served only to our own windows.
 */
export class Desktop {
  main: WindowLike | null = null;
  quick: WindowLike | null = null;
  tray: TrayLike | null = null;
  private unseenFailures = 0;
  private quittingNow = false;
  private readonly ours = new Set<number>();
  private trayTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly e: ElectronLike,
    private readonly services: AppServices,
    private readonly opts: DesktopOptions,
  ) {}

  start(): void {
    const ipc = createIpcHandler({
      router: appRouter,
      isTrustedSender: (event) => this.ours.has(event.sender.id),
      createContext: () => ({
        services: this.services,
        authorized: true,
        desktop: { openPath: (p: string) => this.e.shell.openPath(p), showInFolder: (p: string) => this.e.shell.showItemInFolder(p) },
      }),
      onError: (err) => this.services.logger.error('IPC failure', { error: String(err) }),
    });
    this.e.ipcMain.on(IPC_CHANNEL, (event, message) => void ipc.handle(event, message));
    // Idle-only work waits for the person to be away: their idle time, read at each of game mode's looks.
    this.services.manager.setIdleSource(() => this.e.powerMonitor.getSystemIdleTime());
    this.main = this.window({ width: 1200, height: 800, title: 'Agent Manager' }, '');
    this.main.once('ready-to-show', () => this.main?.show());
    // Closing the window keeps the app in the tray; only Quit ends it.
    this.main.on('close', (ev) => {
      if (this.quittingNow) return;
      (ev as { preventDefault(): void }).preventDefault();
      this.main?.hide();
    });
    this.main.on('focus', () => {
      this.unseenFailures = 0;
      this.refreshTray();
    });
    this.quick = this.window(
      { ...QUICK_SIZE, frame: false, resizable: false, skipTaskbar: true, alwaysOnTop: true, title: 'Agent Manager quick view' },
      '/quick',
    );
    this.quick.on('blur', () => this.quick?.hide());
    this.tray = new this.e.Tray(this.icon('idle'));
    this.tray.on('click', () => this.toggleQuick());
    this.services.bus.on((ev) => {
      if (ev.type === 'task-ended') this.onTaskEnded(ev.task);
      this.scheduleTray();
    });
    this.refreshTray();
  }

  /** Whether a quit is under way (it was confirmed). */
  get quitting(): boolean {
    return this.quittingNow;
  }

  /** Quitting with tasks running asks whether to stop them or leave them (they are re-adopted). */
  async quit(): Promise<void> {
    const running = this.services.manager.running().length;
    let stopAgents = false;
    if (running > 0) {
      const { response } = await this.e.dialog.showMessageBox({
        type: 'question',
        buttons: ['Leave them running', 'Stop them', 'Cancel'],
        defaultId: 0,
        cancelId: 2,
        message: `${running} task${running === 1 ? ' is' : 's are'} running`,
        detail: 'Left running, they are picked up again the next time Agent Manager starts. Stopped, they end now and follow their retry policy.',
      });
      if (response === 2) return;
      stopAgents = response === 1;
    }
    this.quittingNow = true;
    if (this.trayTimer) clearTimeout(this.trayTimer);
    // Stopped tasks end (and are recorded as cancelled) before the store closes.
    if (stopAgents) await this.services.manager.cancelAll(this.services.options.graceMs + 2000);
    this.services.close();
    this.e.app.quit();
  }

  private window(extra: Record<string, unknown>, hash: string): WindowLike {
    const win = new this.e.BrowserWindow({ show: false, ...extra, webPreferences: hardenedWebPreferences(this.opts.preload) });
    hardenWebContents(win.webContents, (url) => void this.e.shell.openExternal(url));
    const id = win.webContents.id;
    this.ours.add(id);
    win.on('closed', () => this.ours.delete(id));
    if (this.opts.devUrl) void win.loadURL(`${this.opts.devUrl}#${hash}`);
    else void win.loadFile(join(this.opts.rendererDir, 'index.html'), { hash });
    return win;
  }

  private icon(state: string): unknown {
    return this.e.nativeImage.createFromPath(join(this.opts.trayIconsDir, `${state}.png`));
  }

  private toggleQuick(): void {
    const q = this.quick;
    if (!q || !this.tray) return;
    if (q.isVisible()) return q.hide();
    const b = this.tray.getBounds();
    const work = this.e.screen.getDisplayNearestPoint({ x: b.x, y: b.y }).workArea;
    const p = quickViewPosition(b, QUICK_SIZE, work);
    q.setPosition(p.x, p.y);
    q.show();
    q.focus();
  }

  openTask(id: number): void {
    if (!this.main) return;
    void (this.opts.devUrl
      ? this.main.loadURL(`${this.opts.devUrl}#/task/${id}`)
      : this.main.loadFile(join(this.opts.rendererDir, 'index.html'), { hash: `/task/${id}` }));
    this.main.show();
    this.main.focus();
  }

  private onTaskEnded(t: Parameters<typeof noticeFor>[0]): void {
    if (t.state === 'failed' || t.state === 'timed_out' || t.state === 'interrupted') this.unseenFailures += 1;
    const notice = noticeFor(t, this.services.settings.get().desktopNotifications);
    if (!notice || !this.e.Notification.isSupported()) return;
    const n = new this.e.Notification({ title: notice.title, body: notice.body });
    n.on('click', () => this.openTask(notice.taskId));
    n.show();
  }

  private scheduleTray(): void {
    if (this.trayTimer) return;
    this.trayTimer = setTimeout(() => {
      this.trayTimer = null;
      this.refreshTray();
    }, 250);
  }

  trayInput(): TrayInput {
    const { manager } = this.services;
    const view = manager.resources();
    const total = view.gpus.reduce((a, g) => a + g.totalMB, 0);
    const used = view.gpus.reduce((a, g) => a + g.foreignMB + g.oursMB, 0);
    return {
      running: view.running,
      queued: manager.queueLength(),
      paused: manager.isPaused(),
      unseenFailures: this.unseenFailures,
      vram: view.gpus.length ? { usedMB: used, totalMB: total } : null,
      degraded: manager.degraded()?.reason ?? null,
      yielding: manager.yielding(),
    };
  }

  refreshTray(): void {
    if (!this.tray) return;
    const input = this.trayInput();
    this.tray.setImage(this.icon(trayState(input)));
    this.tray.setToolTip(trayTooltip(input));
    const actions: Record<string, () => void> = {
      open: () => {
        this.main?.show();
        this.main?.focus();
      },
      pause: () => this.services.manager.setPaused(true),
      resume: () => this.services.manager.setPaused(false),
      'free-vram': () => void this.services.manager.pauseAndFreeVram(),
      'focus-on': () => void this.services.manager.setFocus(true),
      'focus-off': () => void this.services.manager.setFocus(false),
      quit: () => void this.quit(),
    };
    this.tray.setContextMenu(
      this.e.Menu.buildFromTemplate(
        trayMenu(input).map((m) => (m.id === 'separator' ? { type: 'separator' } : { label: m.label, click: () => actions[m.id]?.() })),
      ),
    );
  }
}
