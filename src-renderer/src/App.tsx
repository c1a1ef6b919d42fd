import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useSyncExternalStore } from 'react';
import { connectionState, onConnection, readable, type Api } from './api.js';
import { DropZone } from './components/DropZone.js';
import { startLiveUpdates } from './lib/live.js';
import { href, useRoute } from './lib/router.js';
import { useToast } from './lib/toasts.js';
import { AgentsView } from './views/AgentsView.js';
import { GalleryView } from './views/GalleryView.js';
import { QueueView } from './views/QueueView.js';
import { QuickView } from './views/QuickView.js';
import { ResourcesView } from './views/ResourcesView.js';
import { SettingsView } from './views/SettingsView.js';
import { TaskDetail } from './views/TaskDetail.js';

const NAV = [
  { view: 'queue', label: 'Queue', key: '1' },
  { view: 'gallery', label: 'Gallery', key: '2' },
  { view: 'resources', label: 'Resources', key: '3' },
  { view: 'agents', label: 'Agents', key: '4' },
  { view: 'settings', label: 'Settings', key: '5' },
] as const;

export function App({ api, token }: { api: Api; token: string | null }) {
  const qc = useQueryClient();
  const toast = useToast();
  const route = useRoute();
  const connection = useSyncExternalStore(onConnection, connectionState);
  const status = useQuery({ queryKey: ['status'], queryFn: () => api.queue.status.query(), refetchInterval: (q) => (q.state.data?.degraded ? 2000 : 10_000) });
  const agents = useQuery({ queryKey: ['agents'], queryFn: () => api.agents.list.query() });

  useEffect(
    () =>
      startLiveUpdates(api, qc, (t) => {
        const name = `#${t.id} ${t.agent}`;
        if (t.state === 'succeeded') toast({ kind: 'success', text: `${name} succeeded`, href: href({ view: 'task', id: t.id }) });
        else if (t.state !== 'cancelled')
          toast({ kind: 'error', text: `${name} ${t.state.replace('_', ' ')}${t.error ? `: ${t.error}` : ''}`, href: href({ view: 'task', id: t.id }) });
      }),
    [api, qc, toast],
  );

  // After a lost connection, everything on screen is refetched once it is back.
  useEffect(() => {
    if (connection === 'open') void qc.invalidateQueries();
  }, [connection, qc]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.altKey && !e.ctrlKey && !e.metaKey) {
        const n = NAV.find((x) => x.key === e.key);
        if (n) {
          e.preventDefault();
          window.location.hash = href({ view: n.view });
        }
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  const togglePause = async () => {
    try {
      if (status.data?.paused) await api.queue.resume.mutate();
      else await api.queue.pause.mutate();
      void qc.invalidateQueries({ queryKey: ['status'] });
    } catch (e) {
      toast({ kind: 'error', text: readable(e) });
    }
  };

  const setFocus = async (on: boolean) => {
    try {
      await api.queue.focus.mutate({ on });
      void qc.invalidateQueries({ queryKey: ['status'] });
    } catch (e) {
      toast({ kind: 'error', text: readable(e) });
    }
  };

  const agentList = agents.data?.agents ?? [];
  const current = route.view === 'task' ? 'queue' : route.view;
  if (route.view === 'quick') {
    return (
      <DropZone api={api} agents={agentList} loaded={agents.isSuccess} token={token}>
        <QuickView api={api} />
      </DropZone>
    );
  }
  return (
    <DropZone api={api} agents={agentList} loaded={agents.isSuccess} token={token}>
      <div className="shell">
        <header className="top">
          <h1>Agent Manager</h1>
          <nav aria-label="Views">
            {NAV.map((n) => (
              <a key={n.view} href={href({ view: n.view })} aria-current={current === n.view ? 'page' : undefined} title={`Alt+${n.key}`}>
                {n.label}
              </a>
            ))}
          </nav>
          <div className="status">
            {status.data && (
              <span className="counts">
                {status.data.running} running · {status.data.queued} queued
              </span>
            )}
            <button
              className={`pause ${status.data?.paused ? 'paused' : ''}`}
              onClick={() => void togglePause()}
              aria-pressed={Boolean(status.data?.paused)}
              disabled={!status.data}
            >
              {status.data?.paused ? 'Resume queue' : 'Pause queue'}
            </button>
            <button
              className={`focus ${status.data?.yielding?.by === 'focus' ? 'on' : ''}`}
              onClick={() => void setFocus(status.data?.yielding?.by !== 'focus')}
              aria-pressed={status.data?.yielding?.by === 'focus'}
              disabled={!status.data}
              title="Focus mode: GPU tasks below the game-mode priority wait, so the GPU is yours"
            >
              Focus mode
            </button>
            <span className={`conn ${connection}`} role="status" aria-live="polite" title="Connection to the Manager">
              {connection === 'open' ? 'Connected' : connection === 'connecting' ? 'Connecting…' : 'Connection lost: reconnecting…'}
            </span>
          </div>
        </header>
        {status.data?.degraded && (
          <div className="banner degraded" role="alert">
            Not starting tasks: {status.data.degraded.reason}
          </div>
        )}
        {status.data?.paused && (
          <div className="banner paused" role="status">
            The queue is paused: nothing new starts; running tasks go on. Each waiting task still says what else it waits for.
            <button className="link" onClick={() => void togglePause()}>
              Resume
            </button>
          </div>
        )}
        {status.data?.yielding && (
          <div className="banner yielding" role="status">
            GPU left to you: {status.data.yielding.reason}
            {status.data.yielding.by === 'focus' && (
              <button className="link" onClick={() => void setFocus(false)}>
                End focus mode
              </button>
            )}
          </div>
        )}
        <main>
          {route.view === 'queue' && <QueueView key={route.array ?? 0} api={api} agents={agentList.map((a) => a.name)} array={route.array} />}
          {route.view === 'task' && <TaskDetail api={api} id={route.id} token={token} />}
          {route.view === 'gallery' && <GalleryView api={api} />}
          {route.view === 'resources' && <ResourcesView api={api} />}
          {route.view === 'agents' && <AgentsView api={api} agents={agentList} problems={agents.data?.problems ?? []} selected={route.agent} />}
          {route.view === 'settings' && <SettingsView api={api} />}
        </main>
      </div>
    </DropZone>
  );
}
