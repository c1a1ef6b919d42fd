import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createApi, inElectron, takeToken } from './api.js';
import { App } from './App.js';
import { ToastProvider } from './lib/toasts.js';
import './styles.css';

const root = createRoot(document.getElementById('root')!);
const token = inElectron() ? null : takeToken();
if (!inElectron() && !token) {
  root.render(
    <main className="signin">
      <h1>Agent Manager</h1>
      <p>This page needs the API token to talk to the Manager.</p>
      <ul>
        <li>
          Open the URL that <code>agentmgr serve</code> printed (it ends in <code>#token=…</code>), or
        </li>
        <li>
          run <code>agentmgr ui</code>, which opens it for you.
        </li>
      </ul>
    </main>,
  );
} else {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: 1, refetchOnWindowFocus: false, staleTime: 2000 } } });
  root.render(
    <StrictMode>
      <QueryClientProvider client={queryClient}>
        <ToastProvider>
          <App api={createApi(token)} token={token} />
        </ToastProvider>
      </QueryClientProvider>
    </StrictMode>,
  );
}
