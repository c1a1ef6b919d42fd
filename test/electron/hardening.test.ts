import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { externalAllowed, hardenedWebPreferences, hardenWebContents, type WebContentsLike } from '../../src-main/electron/hardening.js';

describe('window hardening', () => {
  it('every window gets isolation, sandbox and no Node anywhere', () => {
    expect(hardenedWebPreferences('/p.cjs')).toEqual({
      preload: '/p.cjs',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      experimentalFeatures: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      safeDialogs: true,
    });
  });

  it('denies navigation, new windows and permissions; opens only allowed links outside', () => {
    const listeners: Record<string, (e: { preventDefault(): void }) => void> = {};
    let openHandler: ((d: { url: string }) => { action: string }) | null = null;
    let permission: ((wc: unknown, p: string, cb: (g: boolean) => void) => void) | null = null;
    let check: (() => boolean) | null = null;
    const opened: string[] = [];
    const wc: WebContentsLike = {
      setWindowOpenHandler: (h) => (openHandler = h),
      on: (ev, l) => (listeners[ev] = l as never),
      session: { setPermissionRequestHandler: (h) => (permission = h), setPermissionCheckHandler: (h) => (check = h) },
    };
    hardenWebContents(wc, (u) => opened.push(u));
    expect(openHandler!({ url: 'https://github.com/x/y' })).toEqual({ action: 'deny' });
    expect(openHandler!({ url: 'https://evil.example/' })).toEqual({ action: 'deny' });
    expect(opened).toEqual(['https://github.com/x/y']);
    let prevented = 0;
    listeners['will-navigate']!({ preventDefault: () => prevented++ });
    listeners['will-attach-webview']!({ preventDefault: () => prevented++ });
    expect(prevented).toBe(2);
    let granted: boolean | null = null;
    permission!(null, 'media', (g) => (granted = g));
    expect(granted).toBe(false);
    expect(check!()).toBe(false);
    expect(externalAllowed('http://github.com/')).toBe(false);
  });
});

describe('the headless entry never imports electron', () => {
  it('agentmgr runs with any import of electron made to fail', () => {
    const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
    const hook =
      'data:text/javascript,' +
      encodeURIComponent(
        'import { register } from "node:module";' +
          'register("data:text/javascript," + encodeURIComponent(' +
          JSON.stringify(
            'export async function resolve(s, c, next) { if (s === "electron" || s.startsWith("trpc-electron")) throw new Error("electron was imported by " + c.parentURL); return next(s, c); }',
          ) +
          '));',
      );
    const r = spawnSync(process.execPath, ['--import', hook, join(root, 'bin', 'agentmgr.js'), 'help', 'serve'], { encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/electron was imported/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/agentmgr serve/);
    // And the hook does catch an import of electron:
    const bad = spawnSync(process.execPath, ['--import', hook, '-e', 'import("electron").catch(e => { console.error(e.message); process.exit(5) })'], {
      encoding: 'utf8',
    });
    expect(bad.status).toBe(5);
    expect(bad.stderr).toMatch(/electron was imported/);
  });
});
