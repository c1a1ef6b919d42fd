import { useEffect, useState } from 'react';
import type { TaskView } from '../../contracts/task.js';
import type { Api } from './api.js';

type Status = Awaited<ReturnType<Api['queue']['status']['query']>>;

function pct(p: number | null): string {
  return p === null ? '' : `${Math.round(p * 100)}%`;
}

/** The first UI: queue status and the latest tasks, live. The full UI comes with its own issue. */
export function App({ api }: { api: Api }) {
  const [tasks, setTasks] = useState<TaskView[]>([]);
  const [status, setStatus] = useState<Status | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let alive = true;
    const refresh = () =>
      Promise.all([api.tasks.list.query({ limit: 50 }), api.queue.status.query()])
        .then(([page, st]) => {
          if (!alive) return;
          setTasks(page.items);
          setStatus(st);
          setError(null);
        })
        .catch((e: Error) => alive && setError(e.message));
    void refresh();
    const sub = api.tasks.changes.subscribe(undefined, {
      onData: (t) => {
        setTasks((list) => {
          const i = list.findIndex((x) => x.id === t.id);
          if (i < 0) return [t, ...list].slice(0, 50);
          const next = [...list];
          next[i] = t;
          return next;
        });
        void api.queue.status.query().then((st) => alive && setStatus(st));
      },
      onError: (e) => setError(e.message),
    });
    return () => {
      alive = false;
      sub.unsubscribe();
    };
  }, [api]);

  return (
    <main>
      <header>
        <h1>Agent Manager</h1>
        {status && (
          <p aria-live="polite">
            {status.paused ? 'Paused' : 'Running'} · {status.running} running · {status.queued} queued · {status.counts.succeeded} succeeded · {status.counts.failed} failed
          </p>
        )}
      </header>
      {error && <p role="alert">{error}</p>}
      {tasks.length === 0 ? (
        <p>No tasks yet. Submit one with <code>agentmgr submit demo</code>.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">ID</th>
              <th scope="col">Agent</th>
              <th scope="col">State</th>
              <th scope="col">Progress</th>
              <th scope="col">Note</th>
            </tr>
          </thead>
          <tbody>
            {tasks.map((t) => (
              <tr key={t.id} data-state={t.state}>
                <td>{t.id}</td>
                <td>{t.agent}</td>
                <td>{t.state}</td>
                <td>
                  <progress max={1} value={t.progress ?? 0} aria-label={`task ${t.id} progress`} /> {pct(t.progress)}
                </td>
                <td>{t.waitingReason ?? t.error ?? t.progressMessage ?? ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}
