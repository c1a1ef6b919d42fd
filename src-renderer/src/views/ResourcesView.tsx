import { useQuery } from '@tanstack/react-query';
import { useEffect, useMemo, useState } from 'react';
import type { TelemetrySample } from '../../../contracts/telemetry.js';
import { readable, type Api } from '../api.js';
import { Chart } from '../components/Chart.js';
import { mb } from '../lib/format.js';

const KEEP = 900;

/** Live charts of CPU, RAM and every GPU, from the history the Manager keeps. */
export function ResourcesView({ api }: { api: Api }) {
  const [range, setRange] = useState<'15m' | '24h'>('15m');
  const history = useQuery({ queryKey: ['history', range], queryFn: () => api.telemetry.history.query({ range }) });
  const now = useQuery({ queryKey: ['resources'], queryFn: () => api.resources.query(), refetchInterval: 5000 });
  const [live, setLive] = useState<TelemetrySample[]>([]);

  useEffect(() => {
    setLive([]);
    if (range !== '15m') return;
    const sub = api.telemetry.live.subscribe(undefined, { onData: (s) => setLive((l) => [...l.slice(-KEEP), s]) });
    return () => sub.unsubscribe();
  }, [api, range]);

  const samples = useMemo(() => {
    const base = history.data ?? [];
    const lastAt = base.at(-1)?.at ?? 0;
    return [...base, ...live.filter((s) => s.at > lastAt)].slice(-KEEP);
  }, [history.data, live]);

  const t = samples.map((s) => s.at / 1000);
  const oursCpu = samples.map((s) => s.oursCpuPct ?? 0);
  const oursMem = samples.map((s) => s.oursMemoryMB ?? 0);
  const gpuIndexes = samples.at(-1)?.gpus.map((g) => g.index) ?? [];
  const r = now.data;

  return (
    <section className="resources" aria-label="Resources">
      <div className="toolbar">
        <div className="chips" role="group" aria-label="Range">
          {(['15m', '24h'] as const).map((x) => (
            <button key={x} className={`chip ${range === x ? 'on' : ''}`} aria-pressed={range === x} onClick={() => setRange(x)}>
              {x === '15m' ? 'Last 15 minutes' : 'Last 24 hours'}
            </button>
          ))}
        </div>
        {r && (
          <p className="muted">
            {r.cpu.cores} cores ({r.cpu.held} held by our tasks) · {mb(r.memory.totalMB)} RAM
            {r.snapshot.gpuStatus.state !== 'ok' ? ` · GPU: ${r.snapshot.gpuStatus.message}` : ''}
          </p>
        )}
      </div>
      {r && r.residents.length > 0 && (
        <ul className="residents" aria-label="AI servers beside us">
          {r.residents.map((x) => (
            <li key={x.kind}>
              <strong>{x.label}</strong>{' '}
              {x.state !== 'ok' ? (
                <span className="muted">
                  {x.state} at {x.url}: {x.message} (its VRAM counts as any other program&apos;s)
                </span>
              ) : (
                <span>
                  {x.models.length > 0 ? x.models.map((m) => `${m.name}${m.vramMB !== null ? ` ${mb(m.vramMB)}` : ''}`).join(', ') : 'no model loaded'} ·{' '}
                  {mb(x.vramMB)} on the GPU · {x.busy ? 'busy' : 'idle'} ·{' '}
                  {x.freeing ? 'being asked to unload' : x.canFree ? 'can be freed' : (x.message ?? `not freed now (policy ${x.policy})`)}
                </span>
              )}
            </li>
          ))}
        </ul>
      )}
      {history.isError && <p role="alert">{readable(history.error)}</p>}
      {samples.length === 0 && history.isSuccess && <p className="empty">Collecting the first samples…</p>}
      <div className="charts">
        {/* Stacked as the VRAM chart is: our tasks at the bottom, other programs on top of them. */}
        <Chart
          title="CPU load"
          yLabel="%"
          max={100}
          series={[
            { label: 'our tasks', color: '#22c55e', fill: 'band' },
            { label: 'other programs', color: '#3b82f6', fill: 'band' },
          ]}
          data={[t, oursCpu, samples.map((s, i) => Math.max(oursCpu[i]!, s.cpuLoadPct ?? 0))]}
        />
        <Chart
          title="Memory"
          yLabel="MB"
          series={[
            { label: 'our tasks', color: '#22c55e', fill: 'band' },
            { label: 'other programs', color: '#8b5cf6', fill: 'band' },
            { label: 'total', color: '#9ca3af' },
          ]}
          data={[t, oursMem, samples.map((s, i) => Math.max(oursMem[i]!, s.memoryUsedMB)), samples.map((s) => s.memoryTotalMB)]}
        />
        {gpuIndexes.map((gi) => {
          const g = samples.map((s) => s.gpus.find((x) => x.index === gi));
          const ours = g.map((x) => x?.oursMB ?? 0);
          const others = g.map((x, i) => ours[i]! + (x?.foreignMB ?? 0));
          const total = g.map((x) => x?.totalMB ?? 0);
          const name = r?.gpus.find((x) => x.index === gi)?.name ?? `GPU ${gi}`;
          const unusable = r?.view.gpus.find((x) => x.index === gi)?.unusable;
          const limited = r?.view.gpus.find((x) => x.index === gi)?.limited;
          return (
            <div className="gpu-charts" key={gi}>
              {unusable && (
                <p role="status" className="gpu-unusable">
                  GPU {gi} {unusable}: nothing is scheduled on it.
                </p>
              )}
              {limited && (
                <p role="status" className="gpu-unusable">
                  {limited}: no new GPU task starts on it until it is back under the limit.
                </p>
              )}
              <Chart
                title={`GPU ${gi} VRAM (${name})`}
                yLabel="MB"
                max={total.at(-1)}
                series={[
                  { label: 'ours', color: '#22c55e', fill: 'band' },
                  { label: 'other programs', color: '#f59e0b', fill: 'band' },
                  { label: 'free', color: '#9ca3af', fill: 'band' },
                ]}
                data={[t, ours, others, total]}
              />
              <Chart
                title={`GPU ${gi} utilisation`}
                yLabel="%"
                max={100}
                series={[{ label: 'util %', color: '#ef4444', fill: 'zero' }]}
                data={[t, g.map((x) => x?.utilizationPct ?? 0)]}
              />
              <Chart
                title={`GPU ${gi} temperature and power`}
                yLabel="°C / W"
                series={[
                  { label: '°C', color: '#f97316' },
                  { label: 'W', color: '#06b6d4' },
                ]}
                data={[t, g.map((x) => x?.temperatureC ?? 0), g.map((x) => x?.powerW ?? 0)]}
              />
            </div>
          );
        })}
      </div>
      {gpuIndexes.length === 0 && samples.length > 0 && <p className="muted">No GPU visible{r ? `: ${r.snapshot.gpuStatus.message}` : ''}.</p>}
    </section>
  );
}
