import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { checkToken, createApi, inElectron, readTokenFromHash, takeToken, type Refusal } from './api.js';
import { App } from './App.js';
import { ToastProvider } from './lib/toasts.js';
import './styles.css';

/** The page a browser shows without a good token: what is wrong, where the token is, what to run. */
function SignIn({ refusal }: { refusal: Refusal | null }) {
  const [file, setFile] = useState(refusal?.tokenFile ?? null);
  useEffect(() => {
    // The Manager's refusal names its token file; ask for it when we have not been refused yet.
    if (!file) void checkToken(null).then((r) => r?.tokenFile && setFile(r.tokenFile));
  }, [file]);
  return (
    <main className="signin">
      <h1>Agent Manager</h1>
      {refusal ? (
        <p role="alert">
          The API token is wrong or missing; it is in <code>{file ?? '<data dir>/api-token'}</code>; <code>agentmgr ui</code> prints a fresh URL.
        </p>
      ) : (
        <p>
          This page needs the API token to talk to the Manager; it is in <code>{file ?? '<data dir>/api-token'}</code>.
        </p>
      )}
      <ul>
        <li>
          Open the URL that <code>agentmgr serve</code> printed (it ends in <code>#token=…</code>), or
        </li>
        <li>
          run <code>agentmgr ui</code>, which opens it for you, or prints it.
        </li>
      </ul>
      <p className="muted">Pasting a URL with a new token into this tab signs in at once; no reload needed.</p>
    </main>
  );
}

/**
 * A browser tab's session: the token it signed in with, a client for it, and the sign-in page
 * whenever the Manager refuses the token. A new `#token=` in the address (pasted, or typed) is
 * taken at once and everything is rebuilt for it, without a reload.
 */
function BrowserRoot() {
  // `n` counts sign-ins, so the same token given again (after a refusal) is tried again.
  const [signIn, setSignIn] = useState(() => ({ token: takeToken(), n: 0 }));
  const [refusal, setRefusal] = useState<Refusal | null>(null);
  const [session, setSession] = useState<(ReturnType<typeof createApi> & { queryClient: QueryClient; key: string }) | null>(null);
  useEffect(() => {
    const onHash = () => {
      const fresh = readTokenFromHash();
      if (fresh) setSignIn((s) => ({ token: fresh, n: s.n + 1 }));
    };
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    setRefusal(null);
    if (!signIn.token) return setSession(null);
    const s = { ...createApi(signIn.token, setRefusal), queryClient: newQueryClient(), key: `${signIn.n}` };
    setSession(s);
    let live = true;
    void checkToken(signIn.token).then((r) => live && r && setRefusal(r));
    return () => {
      live = false;
      s.close();
    };
  }, [signIn]);
  useEffect(() => {
    if (refusal) session?.close(); // a refused token is not retried; a new one starts a new session
  }, [refusal, session]);
  if (!signIn.token || refusal) return <SignIn refusal={refusal} />;
  if (!session) return null;
  return (
    <QueryClientProvider client={session.queryClient}>
      <App key={session.key} api={session.api} token={signIn.token} />
    </QueryClientProvider>
  );
}

function ElectronRoot() {
  const [{ api, queryClient }] = useState(() => ({ ...createApi(null), queryClient: newQueryClient() }));
  return (
    <QueryClientProvider client={queryClient}>
      <App api={api} token={null} />
    </QueryClientProvider>
  );
}

function newQueryClient(): QueryClient {
  return new QueryClient({ defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false, staleTime: 2000 } } });
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <ToastProvider>{inElectron() ? <ElectronRoot /> : <BrowserRoot />}</ToastProvider>
  </StrictMode>,
);
