import { pct } from '../lib/format.js';

export function Progress({ value, state, label }: { value: number | null; state: string; label: string }) {
  const v = state === 'succeeded' ? 1 : (value ?? 0);
  return (
    <span className="progress" data-state={state}>
      <span className="bar" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(v * 100)}>
        <span style={{ width: `${v * 100}%` }} />
      </span>
      <span className="pct">{state === 'queued' ? '' : pct(v)}</span>
    </span>
  );
}

export function StateBadge({ state }: { state: string }) {
  return <span className={`badge ${state}`}>{state.replace('_', ' ')}</span>;
}
