import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createApi, inElectron, takeToken } from './api.js';
import { App } from './App.js';
import './styles.css';

const root = createRoot(document.getElementById('root')!);
const token = inElectron() ? null : takeToken();
if (!inElectron() && !token) {
  root.render(
    <main>
      <h1>Agent Manager</h1>
      <p>
        This page needs the API token. Open the URL that <code>agentmgr serve</code> printed (it ends in <code>#token=…</code>).
      </p>
    </main>,
  );
} else {
  root.render(
    <StrictMode>
      <App api={createApi(token)} />
    </StrictMode>,
  );
}
