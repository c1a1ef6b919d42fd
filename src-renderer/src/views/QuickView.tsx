import { useQuery, useQueryClient } from '@tanstack/react-query';
import { readable, type Api } from '../api.js';
import { Progress } from '../components/Progress.js';
import { mb } from '../lib/format.js';
import { useToast } from '../lib/toasts.js';

/** The tray's quick view: gauges, the running tasks (with cancel), the queue, pause, a drop zone. */
export function QuickView({ api }: { api: Api }) {
  const qc = useQueryClient();
  const toast = useToast();
  const res = useQuery({ queryKey: ['resources'], queryFn: () => api.resources.query(), refetchInterval: 2000 });
  const status = useQuery({ queryKey: ['status'], queryFn: () => api.queue.status.query() });
  const running = useQuery({
    queryKey: ['tasks', { state: ['starting', 'running'] }, 'quick'],
    queryFn: () => api.tasks.page.query({ state: ['starting', 'running'], limit: 20 }),
  });
  const act = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
      void qc.invalidateQueries();
    } catch (e) {
      toast({ kind: 'error', text: readable(e) });
    }
  };
  const r = res.data;
  return (
    <section className="quick" aria-label="Quick view">
      <div className="gauges">
        {r && <Gauge label="CPU" value={(r.snapshot.cpu.loadPct ?? 0) / 100} text={`${r.snapshot.cpu.loadPct ?? 0}%`} />}
        {r?.gpus.map((g) => (
          <Gauge
            key={g.index}
            label={`GPU ${g.index} VRAM`}
            value={(g.oursMB + g.foreignMB) / g.totalMB}
            text={`${mb(g.oursMB + g.foreignMB)} of ${mb(g.totalMB)} (ours ${mb(g.oursMB)})`}
          />
        ))}
        {r && r.gpus.length === 0 && <p className="muted">No GPU visible: {r.snapshot.gpuStatus.message}</p>}
      </div>
      <div className="quick-head">
        <strong>{status.data?.running ?? 0} running</strong> · {status.data?.queued ?? 0} queued
        <button
          onClick={() => void act(() => (status.data?.paused ? api.queue.resume.mutate() : api.queue.pause.mutate()))}
          aria-pressed={Boolean(status.data?.paused)}
        >
          {status.data?.paused ? 'Resume' : 'Pause'}
        </button>
        <button
          onClick={() => void act(() => api.queue.focus.mutate({ on: status.data?.yielding?.by !== 'focus' }))}
          aria-pressed={status.data?.yielding?.by === 'focus'}
        >
          Focus
        </button>
      </div>
      {status.data?.yielding && <p className="yielding">GPU left to you: {status.data.yielding.reason}</p>}
      <ul className="quick-tasks">
        {running.data?.items.map((t) => (
          <li key={t.id}>
            <span>
              #{t.id} {t.name ?? t.agent}
            </span>
            <Progress value={t.progress} state={t.state} label={`Task ${t.id} progress`} />
            <button className="link danger" aria-label={`Cancel task ${t.id}`} onClick={() => void act(() => api.tasks.cancel.mutate({ id: t.id }))}>
              Cancel
            </button>
          </li>
        ))}
        {running.data?.items.length === 0 && <li className="muted">Nothing is running.</li>}
      </ul>
      <p className="drop-hint">Drop files here to run them.</p>
    </section>
  );
}

function Gauge({ label, value, text }: { label: string; value: number; text: string }) {
  const v = Math.max(0, Math.min(1, value));
  return (
    <div className="gauge">
      <span>{label}</span>
      <span className="bar" role="meter" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(v * 100)}>
        <span style={{ width: `${v * 100}%` }} data-level={v > 0.9 ? 'high' : v > 0.7 ? 'mid' : 'low'} />
      </span>
      <small>{text}</small>
    </div>
  );
}
