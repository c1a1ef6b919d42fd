/**
 * The security settings of every window, in one place, as plain data and plain functions so they
 * can be checked without Electron. See docs/adr for why each is set.
 */
export function hardenedWebPreferences(preload: string) {
  return {
    preload,
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
  } as const;
}

/** Links the app may open in the system browser; everything else is refused. */
export const EXTERNAL_ALLOW = [/^https:\/\/github\.com\//, /^https:\/\/docs\.nvidia\.com\//];

export function externalAllowed(url: string): boolean {
  return EXTERNAL_ALLOW.some((re) => re.test(url));
}

export interface WebContentsLike {
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' | 'allow' }): void;
  on(event: 'will-navigate' | 'will-attach-webview', listener: (event: { preventDefault(): void }, ...args: unknown[]) => void): unknown;
  session: {
    setPermissionRequestHandler(handler: (wc: unknown, permission: string, callback: (granted: boolean) => void) => void): void;
    setPermissionCheckHandler(handler: () => boolean): void;
  };
}

/** No navigation, no new windows (allowed links go to the system browser), no permissions. */
export function hardenWebContents(wc: WebContentsLike, openExternal: (url: string) => void): void {
  wc.setWindowOpenHandler(({ url }) => {
    if (externalAllowed(url)) openExternal(url);
    return { action: 'deny' };
  });
  wc.on('will-navigate', (e) => e.preventDefault());
  wc.on('will-attach-webview', (e) => e.preventDefault());
  wc.session.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  wc.session.setPermissionCheckHandler(() => false);
}
