import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Desktop, type ElectronLike, type WindowLike } from '../../src-main/electron/desktop.js';
import { IPC_CHANNEL, type IpcEventLike } from '../../src-main/electron/ipc-handler.js';
import { noticeFor } from '../../src-main/electron/notifications.js';
import { quickViewPosition, trayMenu, trayState, trayTooltip } from '../../src-main/electron/tray-state.js';
import type { HeadlessManager } from '../../src-main/headless.js';
import { tempDir } from '../helpers/fakes.js';
import { startTestServer } from '../helpers/server.js';

/** A fake of the parts of Electron the desktop shell uses, recording what it is asked to do. */
function fakeElectron(answer = 0) {
  const idle = { sec: 0 };
  let nextId = 1;
  const windows: (WindowLike & {
    options: Record<string, unknown>;
    loaded: string[];
    handlers: Record<string, (...a: unknown[]) => void>;
    wc: Record<string, unknown>;
    visible: boolean;
  })[] = [];
  const notices: { title: string; body: string; click?: () => void }[] = [];
  const opened: string[] = [];
  const shown: string[] = [];
  const dialogs: Record<string, unknown>[] = [];
  let ipc: ((event: IpcEventLike, message: unknown) => void) | null = null;
  const trays: { image: unknown; tooltip: string; menu: { label?: string; type?: string; click?: () => void }[]; handlers: Record<string, () => void> }[] = [];
  let quits = 0;
  const e = {
    app: { quit: () => quits++, on: () => undefined },
    BrowserWindow: class {
      options: Record<string, unknown>;
      loaded: string[] = [];
      handlers: Record<string, (...a: unknown[]) => void> = {};
      visible = false;
      wc: Record<string, unknown> = {};
      webContents;
      constructor(options: Record<string, unknown>) {
        this.options = options;
        const wc = this.wc;
        this.webContents = {
          id: nextId++,
          setWindowOpenHandler: (h: unknown) => (wc.open = h),
          on: (ev: string, l: unknown) => (wc[ev] = l),
          session: { setPermissionRequestHandler: (h: unknown) => (wc.permission = h), setPermissionCheckHandler: (h: unknown) => (wc.check = h) },
        };
        windows.push(this as never);
      }
      on(ev: string, l: (...a: unknown[]) => void) {
        this.handlers[ev] = l;
      }
      once(ev: string, l: (...a: unknown[]) => void) {
        this.handlers[ev] = l;
      }
      show() {
        this.visible = true;
      }
      hide() {
        this.visible = false;
      }
      focus() {}
      isVisible() {
        return this.visible;
      }
      setPosition() {}
      async loadURL(u: string) {
        this.loaded.push(u);
      }
      async loadFile(p: string, o?: { hash?: string }) {
        this.loaded.push(`${p}#${o?.hash ?? ''}`);
      }
      destroy() {}
    },
    Tray: class {
      image: unknown;
      tooltip = '';
      menu: { label?: string; type?: string; click?: () => void }[] = [];
      handlers: Record<string, () => void> = {};
      constructor(image: unknown) {
        this.image = image;
        trays.push(this);
      }
      setImage(i: unknown) {
        this.image = i;
      }
      setToolTip(t: string) {
        this.tooltip = t;
      }
      setContextMenu(m: unknown) {
        this.menu = m as never;
      }
      on(ev: string, l: () => void) {
        this.handlers[ev] = l;
      }
      getBounds() {
        return { x: 1800, y: 0, width: 24, height: 24 };
      }
    },
    Menu: { buildFromTemplate: (items: unknown) => items },
    nativeImage: { createFromPath: (p: string) => p },
    Notification: Object.assign(
      class {
        n: { title: string; body: string; click?: () => void };
        constructor(o: { title: string; body: string }) {
          this.n = { ...o };
        }
        on(_ev: string, l: () => void) {
          this.n.click = l;
        }
        show() {
          notices.push(this.n);
        }
      },
      { isSupported: () => true },
    ),
    dialog: {
      showMessageBox: async (o: Record<string, unknown>) => {
        dialogs.push(o);
        return { response: answer };
      },
    },
    shell: { openExternal: async () => undefined, openPath: async (p: string) => (opened.push(p), ''), showItemInFolder: (p: string) => void shown.push(p) },
    screen: { getDisplayNearestPoint: () => ({ workArea: { x: 0, y: 0, width: 1920, height: 1080 } }) },
    ipcMain: { on: (_c: string, l: (event: IpcEventLike, message: unknown) => void) => (ipc = l) },
    powerMonitor: { getSystemIdleTime: () => idle.sec },
  };
  return { e: e as unknown as ElectronLike, windows, trays, notices, dialogs, opened, shown, ipc: () => ipc!, quits: () => quits, idle };
}

const t = tempDir();
let m: HeadlessManager;
beforeAll(async () => {
  m = await startTestServer(t.dir, { AGENTMGR_MAX_CONCURRENCY: '4' });
});
afterAll(async () => {
  await m.stop({ stopAgents: true });
  t.cleanup();
});

const waitFor = async (cond: () => boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('the desktop shell (with a fake electron module)', () => {
  const opts = { preload: '/app/out/preload/index.cjs', rendererDir: '/app/out/renderer', trayIconsDir: '/app/resources/tray' };

  it('every window is hardened, the main window and the quick view load their views', () => {
    const f = fakeElectron();
    new Desktop(f.e, m.services, opts).start();
    expect(f.windows).toHaveLength(2);
    for (const w of f.windows) {
      expect(w.options.webPreferences).toMatchObject({
        preload: opts.preload,
        contextIsolation: true,
        sandbox: true,
        nodeIntegration: false,
        nodeIntegrationInSubFrames: false,
        nodeIntegrationInWorker: false,
        webSecurity: true,
        webviewTag: false,
      });
      expect(w.options.show).toBe(false);
      expect(w.wc.open).toBeTypeOf('function');
      expect(w.wc['will-navigate']).toBeTypeOf('function');
      expect(w.wc.permission).toBeTypeOf('function');
    }
    expect(f.windows[0]!.loaded).toEqual(['/app/out/renderer/index.html#']);
    expect(f.windows[1]!.loaded).toEqual(['/app/out/renderer/index.html#/quick']);
    expect(f.windows[1]!.options).toMatchObject({ frame: false, skipTaskbar: true });
  });

  it('IPC answers our windows only', async () => {
    const f = fakeElectron();
    new Desktop(f.e, m.services, opts).start();
    const replies: unknown[] = [];
    const ev = (id: number): IpcEventLike => ({
      sender: { id, isDestroyed: () => false },
      senderFrame: { routingId: 1, url: 'file:///' },
      reply: (ch, msg) => (expect(ch).toBe(IPC_CHANNEL), replies.push(msg)),
    });
    f.ipc()(ev(f.windows[0]!.webContents.id), { method: 'request', operation: { id: 1, type: 'query', path: 'health' } });
    f.ipc()(ev(999), { method: 'request', operation: { id: 2, type: 'query', path: 'health' } });
    await waitFor(() => replies.length === 2);
    expect(JSON.stringify(replies)).toMatch(/"ok":true/);
    expect(JSON.stringify(replies)).toMatch(/unknown sender/);
  });

  it('artifacts open with the system app (desktop only; over HTTP it says to download)', async () => {
    const f = fakeElectron();
    new Desktop(f.e, m.services, opts).start();
    const task = m.services.manager.submit([{ agent: 'ok' }])[0]!;
    await waitFor(() => m.services.store.getTask(task.id)!.state === 'succeeded');
    const replies: unknown[] = [];
    const ev: IpcEventLike = {
      sender: { id: f.windows[0]!.webContents.id, isDestroyed: () => false },
      senderFrame: { routingId: 1, url: 'file:///' },
      reply: (_c, msg) => replies.push(msg),
    };
    f.ipc()(ev, { method: 'request', operation: { id: 1, type: 'mutation', path: 'artifacts.open', input: { json: { id: task.id, index: 0 } } } });
    f.ipc()(ev, {
      method: 'request',
      operation: { id: 2, type: 'mutation', path: 'artifacts.open', input: { json: { id: task.id, index: 0, reveal: true } } },
    });
    await waitFor(() => replies.length === 2);
    expect(f.opened).toEqual([expect.stringMatching(/artifacts\/out\.txt$/)]);
    expect(f.shown).toEqual([expect.stringMatching(/artifacts\/out\.txt$/)]);
    const { createCallerFactory } = await import('../../src-main/api/trpc.js');
    const { appRouter } = await import('../../src-main/api/router.js');
    const overHttp = createCallerFactory(appRouter)({ services: m.services, authorized: true });
    await expect(overHttp.artifacts.open({ id: task.id, index: 0 })).rejects.toThrow(/for the desktop app; in a browser, download it/);
  });

  it('closing the window keeps the app in the tray; the tray opens the quick view next to it', () => {
    const f = fakeElectron();
    new Desktop(f.e, m.services, opts).start();
    const main = f.windows[0]!;
    main.show();
    let prevented = false;
    main.handlers.close!({ preventDefault: () => (prevented = true) });
    expect(prevented).toBe(true);
    expect(main.visible).toBe(false);
    f.trays[0]!.handlers.click!();
    expect(f.windows[1]!.visible).toBe(true);
    expect(f.quits()).toBe(0);
  });

  it('the tray shows the state, a tooltip with counts, and a menu that pauses the queue', async () => {
    const f = fakeElectron();
    const d = new Desktop(f.e, m.services, opts);
    d.start();
    const tray = f.trays[0]!;
    expect(tray.image).toBe('/app/resources/tray/idle.png');
    expect(tray.tooltip).toMatch(/^Agent Manager: 0 running, \d+ queued$/);
    const task = m.services.manager.submit([{ agent: 'slow', input: { seconds: 1 } }])[0]!;
    await waitFor(() => tray.image === '/app/resources/tray/running.png');
    expect(tray.tooltip).toMatch(/1 running/);
    const failing = m.services.manager.submit([{ agent: 'fail', maxAttempts: 1 }])[0]!;
    await waitFor(() => tray.image === '/app/resources/tray/attention.png');
    expect(f.notices).toContainEqual(
      expect.objectContaining({ title: 'fail failed', body: expect.stringMatching(new RegExp(`Task #${failing.id} \\(fail\\): attempt 1: exit code 3`)) }),
    );
    f.notices.find((n) => n.title === 'fail failed')!.click!();
    expect(f.windows[0]!.loaded.at(-1)).toBe(`/app/out/renderer/index.html#/task/${failing.id}`);
    f.windows[0]!.handlers.focus!(); // seen
    await waitFor(() => tray.image !== '/app/resources/tray/attention.png');
    tray.menu.find((i) => i.label === 'Pause queue')!.click!();
    expect(m.services.manager.isPaused()).toBe(true);
    d.refreshTray();
    tray.menu.find((i) => i.label === 'Resume queue')!.click!();
    expect(m.services.manager.isPaused()).toBe(false);
    await waitFor(() => m.services.store.getTask(task.id)!.state === 'succeeded');
    await waitFor(() => f.notices.some((n) => n.title === 'slow finished'));
    // One notice per end (task-ended), however many task events an end brings.
    expect(f.notices.filter((n) => n.title === 'fail failed')).toHaveLength(1);
  });

  it("idle-only work waits for the person to be away, by Electron's idle time", async () => {
    const f = fakeElectron();
    f.idle.sec = 5;
    const d = new Desktop(f.e, m.services, opts);
    d.start();
    await m.services.settings.update({ idleAfterMin: 1 });
    const task = m.services.manager.submit([{ agent: 'ok', whenIdle: true }])[0]!;
    const cpu = m.services.manager.submit([{ agent: 'ok' }])[0]!;
    await waitFor(() => m.services.store.getTask(cpu.id)!.state === 'succeeded');
    expect(m.services.store.getTask(task.id)!.state).toBe('queued');
    expect(m.services.manager.schedulingStatus(m.services.store.getTask(task.id)!)).toMatchObject({ step: 'idle' });
    // Away for two minutes, as the system says at the next look.
    f.idle.sec = 120;
    await waitFor(() => m.services.store.getTask(task.id)!.state === 'succeeded');
    await m.services.settings.update({ idleAfterMin: 10 });
  });

  it('focus mode from the tray menu: the icon turns amber, the tooltip says so, and the menu ends it', async () => {
    const f = fakeElectron();
    const d = new Desktop(f.e, m.services, opts);
    d.start();
    const tray = f.trays[0]!;
    tray.menu.find((i) => i.label === 'Focus mode: leave the GPU to me')!.click!();
    expect(m.services.manager.yielding()?.by).toBe('focus');
    await waitFor(() => tray.image === '/app/resources/tray/held.png');
    expect(tray.tooltip).toMatch(/ · GPU left to you: focus mode \(GPU tasks below priority 10 wait; agentmgr focus off ends it\)$/);
    tray.menu.find((i) => i.label === 'End focus mode')!.click!();
    expect(m.services.manager.yielding()).toBeNull();
    await waitFor(() => tray.image !== '/app/resources/tray/held.png');
  });

  it('notifications can be turned off', async () => {
    await m.services.settings.update({ desktopNotifications: false });
    const f = fakeElectron();
    new Desktop(f.e, m.services, opts).start();
    const task = m.services.manager.submit([{ agent: 'ok' }])[0]!;
    await waitFor(() => m.services.store.getTask(task.id)!.state === 'succeeded');
    // The end's event went out in the same turn as its write: a notice would be here already.
    expect(f.notices).toEqual([]);
    await m.services.settings.update({ desktopNotifications: true });
  });

  it('quitting with tasks running asks; Cancel keeps everything as it is', async () => {
    const f = fakeElectron(2);
    const d = new Desktop(f.e, m.services, opts);
    d.start();
    const task = m.services.manager.submit([{ agent: 'slow', input: { seconds: 2 } }])[0]!;
    await waitFor(() => m.services.store.getTask(task.id)!.state === 'running');
    await d.quit();
    expect(f.dialogs[0]).toMatchObject({ message: '1 task is running', buttons: ['Leave them running', 'Stop them', 'Cancel'] });
    expect(f.quits()).toBe(0);
    expect(d.quitting).toBe(false);
    m.services.manager.cancel(task.id);
  });
});

describe('quitting (its own Manager: quitting closes it)', () => {
  it.each([
    ['Stop them', 1, 'cancelled'],
    ['Leave them running', 0, 'running'],
  ] as const)('"%s": the app quits and the task is %s', async (_label, answer, state) => {
    const dir = tempDir();
    const own = await startTestServer(dir.dir);
    try {
      const f = fakeElectron(answer);
      const d = new Desktop(f.e, own.services, { preload: '/p.cjs', rendererDir: '/r', trayIconsDir: '/t' });
      d.start();
      const task = own.services.manager.submit([{ agent: 'slow', input: { seconds: 3 } }])[0]!;
      await waitFor(() => own.services.store.getTask(task.id)!.state === 'running');
      await d.quit();
      expect(f.quits()).toBe(1);
      expect(d.quitting).toBe(true);
      // The store is closed now; read what was recorded from a fresh connection.
      const Database = (await import('better-sqlite3')).default;
      const db = new Database(own.services.dirs.db, { readonly: true });
      expect((db.prepare('SELECT state FROM tasks WHERE id = ?').get(task.id) as { state: string }).state).toBe(state);
      db.close();
    } finally {
      await own.server.close();
      const { spawnSync } = await import('node:child_process');
      spawnSync('pkill', ['-KILL', '-f', dir.dir]);
      dir.cleanup();
    }
  });
});

describe('tray and notification decisions', () => {
  const base = { running: 0, queued: 0, paused: false, unseenFailures: 0, vram: null };
  it.each([
    [{ ...base }, 'idle'],
    [{ ...base, running: 2 }, 'running'],
    [{ ...base, running: 2, unseenFailures: 1 }, 'attention'],
    [{ ...base, running: 1, degraded: 'the disk is full' }, 'attention'],
  ] as const)('%j is %s', (i, s) => expect(trayState(i)).toBe(s));

  it('tooltip', () => {
    expect(trayTooltip({ ...base, running: 2, queued: 5, paused: true, vram: { usedMB: 3277, totalMB: 8188 } })).toBe(
      'Agent Manager: 2 running, 5 queued, paused · VRAM 3.2 of 8.0 GB in use',
    );
    // Degraded: said first, since it is why nothing new starts.
    expect(trayTooltip({ ...base, running: 1, degraded: 'the disk is full: free some space' })).toBe(
      'Agent Manager: NOT STARTING TASKS: the disk is full: free some space · 1 running, 0 queued',
    );
  });

  it('the menu offers to pause and free the GPU only where there is one', () => {
    expect(trayMenu({ ...base }).map((m) => m.id)).toEqual(['open', 'pause', 'focus-on', 'separator', 'quit']);
    expect(trayMenu({ ...base, paused: true, vram: { usedMB: 3277, totalMB: 8188 } }).map((m) => m.label ?? m.id)).toEqual([
      'Open Agent Manager',
      'Resume queue',
      'Pause and free the GPU',
      'Focus mode: leave the GPU to me',
      'separator',
      'Quit',
    ]);
  });

  it('focus and game mode: the menu ends focus mode; the tooltip says what the GPU is left to', () => {
    const focus = { ...base, yielding: { by: 'focus' as const, reason: 'focus mode (GPU tasks below priority 10 wait; agentmgr focus off ends it)' } };
    expect(trayMenu(focus).find((m) => m.id.startsWith('focus'))).toEqual({ id: 'focus-off', label: 'End focus mode' });
    const game = { ...base, yielding: { by: 'game' as const, reason: 'game mode — steam_app_1091500 is running (GPU tasks below priority 10 wait)' } };
    expect(trayMenu(game).find((m) => m.id.startsWith('focus'))?.id).toBe('focus-on');
    expect(trayState(game)).toBe('held');
    expect(trayState({ ...game, unseenFailures: 1 })).toBe('attention');
    expect(trayTooltip(game)).toMatch(/ · GPU left to you: game mode — steam_app_1091500 is running \(GPU tasks below priority 10 wait\)$/);
  });

  it('the quick view opens next to the tray, inside the screen', () => {
    const work = { x: 0, y: 0, width: 1920, height: 1080 };
    expect(quickViewPosition({ x: 1900, y: 0, width: 24, height: 24 }, { width: 360, height: 480 }, work)).toEqual({ x: 1560, y: 28 });
    expect(quickViewPosition({ x: 100, y: 1056, width: 24, height: 24 }, { width: 360, height: 480 }, work)).toEqual({ x: 0, y: 572 });
  });

  it.each([
    ['succeeded', true, 'demo finished'],
    ['failed', true, 'demo failed'],
    ['cancelled', true, null],
    ['running', true, null],
    ['failed', false, null],
  ] as const)('%s (notifications %s) -> %s', (state, enabled, title) => {
    const n = noticeFor({ id: 3, agent: 'demo', name: null, state, error: 'boom' }, enabled);
    expect(n?.title ?? null).toBe(title);
  });
});
