import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { SETTINGS_INFO, SettingsSchema, TEXT_SETTINGS, type Settings } from '../../../contracts/settings.js';
import { RESIDENT_KINDS } from '../../../contracts/residents.js';
import { readable, type Api } from '../api.js';
import { useToast } from '../lib/toasts.js';
import { ProjectsPanel } from './ProjectsPanel.js';

const FIELDS = (
  [
    'maxConcurrency',
    'vramMarginMB',
    'telemetryMs',
    'reserveAfterSec',
    'gpuMaxUtilPct',
    'gpuMaxTempC',
    'gpuMaxPowerW',
    'usageHalfLifeSec',
    'preemptMinRunSec',
    'residentIdleSec',
  ] as const
).map((key) => ({
  key,
  ...SETTINGS_INFO[key],
}));
/** Left blank: no limit. */
const OPTIONAL = new Set(['gpuMaxUtilPct', 'gpuMaxTempC', 'gpuMaxPowerW']);

/** Settings shown as checkboxes. */
const BOOLEANS = new Set(['desktopNotifications', 'gameModeFreeVram', 'residentRemoteAllowed']);

const fromField = (k: string, v: string): unknown =>
  BOOLEANS.has(k) ? v === 'true' : TEXT_SETTINGS.has(k as keyof Settings) ? v.trim() : v.trim() === '' ? (OPTIONAL.has(k) ? null : NaN) : Number(v);

/** The Manager's knobs: validated here and by the Manager, applied live, kept across restarts. */
export function SettingsView({ api }: { api: Api }) {
  const qc = useQueryClient();
  const toast = useToast();
  const q = useQuery({ queryKey: ['settings'], queryFn: () => api.settings.get.query() });
  const [form, setForm] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  useEffect(() => {
    if (q.data) setForm(Object.fromEntries(Object.entries(q.data).flatMap(([k, v]) => (k === 'gpuLimits' ? [] : [[k, v === null ? '' : String(v)]]))));
  }, [q.data]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    // Per-GPU limits are set with `agentmgr settings gpuMaxUtilPct.1=80`; kept as they are here.
    const parsed = SettingsSchema.safeParse({
      ...Object.fromEntries(Object.entries(form).map(([k, v]) => [k, fromField(k, v)])),
      gpuLimits: q.data?.gpuLimits ?? {},
    });
    if (!parsed.success) {
      setErrors(Object.fromEntries(parsed.error.issues.map((i) => [String(i.path[0]), i.message])));
      return;
    }
    setErrors({});
    try {
      await api.settings.update.mutate(parsed.data);
      void qc.invalidateQueries({ queryKey: ['settings'] });
      void qc.invalidateQueries({ queryKey: ['status'] });
      toast({ kind: 'success', text: 'Settings saved and applied' });
    } catch (err) {
      toast({ kind: 'error', text: readable(err) });
    }
  };

  if (q.isError) return <p role="alert">{readable(q.error)}</p>;
  return (
    <section className="settings" aria-label="Settings">
      <form onSubmit={(e) => void save(e)} noValidate>
        {FIELDS.map((f) => (
          <div className="field" key={f.key}>
            <label htmlFor={`s-${f.key}`}>{f.label}</label>
            <input
              id={`s-${f.key}`}
              inputMode="numeric"
              value={form[f.key] ?? ''}
              aria-invalid={Boolean(errors[f.key])}
              aria-describedby={`s-${f.key}-help`}
              onChange={(e) => setForm((v) => ({ ...v, [f.key]: e.target.value }))}
            />
            <small id={`s-${f.key}-help`} className={errors[f.key] ? 'error-text' : 'muted'}>
              {errors[f.key] ?? f.help}
            </small>
          </div>
        ))}
        {Object.keys(q.data?.gpuLimits ?? {}).length > 0 && (
          <p className="muted" aria-label="Per-GPU limits">
            Per GPU, over the limits above:{' '}
            {Object.entries(q.data!.gpuLimits)
              .map(
                ([gpu, l]) =>
                  `GPU ${gpu}: ${Object.entries(l)
                    .map(([k, v]) => `${k} ${v ?? 'none'}`)
                    .join(', ')}`,
              )
              .join('; ')}{' '}
            (<code>agentmgr settings gpuMaxUtilPct.1=80</code>).
          </p>
        )}
        <fieldset className="residents-settings">
          <legend>AI servers beside us (residents)</legend>
          {RESIDENT_KINDS.flatMap((kind) => [`${kind}Url`, `${kind}Policy`] as const).map((key) => (
            <div className="field" key={key}>
              <label htmlFor={`s-${key}`}>{SETTINGS_INFO[key].label}</label>
              {key.endsWith('Policy') ? (
                <select id={`s-${key}`} value={form[key] ?? 'when-idle'} onChange={(e) => setForm((v) => ({ ...v, [key]: e.target.value }))}>
                  <option value="never">never</option>
                  <option value="when-idle">when idle</option>
                  <option value="always">always</option>
                </select>
              ) : (
                <input
                  id={`s-${key}`}
                  value={form[key] ?? ''}
                  placeholder="off"
                  aria-invalid={Boolean(errors[key])}
                  aria-describedby={`s-${key}-help`}
                  onChange={(e) => setForm((v) => ({ ...v, [key]: e.target.value }))}
                />
              )}
              <small id={`s-${key}-help`} className={errors[key] ? 'error-text' : 'muted'}>
                {errors[key] ?? SETTINGS_INFO[key].help}
              </small>
            </div>
          ))}
          <div className="field">
            <label>
              <input
                type="checkbox"
                checked={form.residentRemoteAllowed === 'true'}
                onChange={(e) => setForm((v) => ({ ...v, residentRemoteAllowed: String(e.target.checked) }))}
              />{' '}
              {SETTINGS_INFO.residentRemoteAllowed.label}
            </label>
            <small className="muted">{SETTINGS_INFO.residentRemoteAllowed.help}</small>
          </div>
        </fieldset>
        <fieldset className="person-settings">
          <legend>Game and focus mode: the GPU left to you</legend>
          {(['gameModePrograms', 'gameModeBelowPriority', 'gameModeExitSec'] as const).map((key) => (
            <div className="field" key={key}>
              <label htmlFor={`s-${key}`}>{SETTINGS_INFO[key].label}</label>
              <input
                id={`s-${key}`}
                inputMode={key === 'gameModePrograms' ? undefined : 'numeric'}
                value={form[key] ?? ''}
                placeholder={key === 'gameModePrograms' ? 'off' : undefined}
                aria-invalid={Boolean(errors[key])}
                aria-describedby={`s-${key}-help`}
                onChange={(e) => setForm((v) => ({ ...v, [key]: e.target.value }))}
              />
              <small id={`s-${key}-help`} className={errors[key] ? 'error-text' : 'muted'}>
                {errors[key] ?? SETTINGS_INFO[key].help}
              </small>
            </div>
          ))}
          <div className="field">
            <label>
              <input
                type="checkbox"
                checked={form.gameModeFreeVram === 'true'}
                onChange={(e) => setForm((v) => ({ ...v, gameModeFreeVram: String(e.target.checked) }))}
              />{' '}
              {SETTINGS_INFO.gameModeFreeVram.label}
            </label>
            <small className="muted">{SETTINGS_INFO.gameModeFreeVram.help}</small>
          </div>
        </fieldset>
        <div className="field">
          <label>
            <input
              type="checkbox"
              checked={form.desktopNotifications === 'true'}
              onChange={(e) => setForm((v) => ({ ...v, desktopNotifications: String(e.target.checked) }))}
            />{' '}
            {SETTINGS_INFO.desktopNotifications.label}
          </label>
        </div>
        <button type="submit">Save</button>
      </form>
      <ProjectsPanel api={api} />
    </section>
  );
}
