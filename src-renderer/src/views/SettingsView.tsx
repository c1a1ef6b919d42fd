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
const OPTIONAL = new Set(['gpuMaxUtilPct', 'gpuMaxTempC', 'gpuMaxPowerW', 'slurmAutoAfterSec']);

/** Settings shown as checkboxes. */
const BOOLEANS = new Set(['desktopNotifications', 'gameModeFreeVram', 'residentRemoteAllowed', 'slurmEnabled']);

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
          <TextField key={f.key} k={f.key} numeric form={form} errors={errors} setForm={setForm} />
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
          {RESIDENT_KINDS.flatMap((kind) => [`${kind}Url`, `${kind}Policy`] as const).map((key) =>
            key.endsWith('Policy') ? (
              <div className="field" key={key}>
                <label htmlFor={`s-${key}`}>{SETTINGS_INFO[key].label}</label>
                <select id={`s-${key}`} value={form[key] ?? 'when-idle'} onChange={(e) => setForm((v) => ({ ...v, [key]: e.target.value }))}>
                  <option value="never">never</option>
                  <option value="when-idle">when idle</option>
                  <option value="always">always</option>
                </select>
                <small className="muted">{SETTINGS_INFO[key].help}</small>
              </div>
            ) : (
              <TextField key={key} k={key} placeholder="off" form={form} errors={errors} setForm={setForm} />
            ),
          )}
          <CheckField k="residentRemoteAllowed" form={form} setForm={setForm} />
        </fieldset>
        <fieldset className="person-settings">
          <legend>Game and focus mode: the GPU left to you</legend>
          {(['gameModePrograms', 'gameModeBelowPriority', 'gameModeExitSec', 'idleAfterMin'] as const).map((key) => (
            <TextField
              key={key}
              k={key}
              numeric={key !== 'gameModePrograms'}
              placeholder={key === 'gameModePrograms' ? 'off' : undefined}
              form={form}
              errors={errors}
              setForm={setForm}
            />
          ))}
          <CheckField k="gameModeFreeVram" form={form} setForm={setForm} />
        </fieldset>
        <fieldset className="slurm-settings">
          <legend>Slurm cluster: for tasks this machine cannot run (read when the Manager starts)</legend>
          <CheckField k="slurmEnabled" form={form} setForm={setForm} />
          {(['slurmSharedDir', 'slurmVia', 'slurmBin', 'slurmPartition', 'slurmAccount', 'slurmQos', 'slurmExtraArgs'] as const).map((key) => (
            <TextField key={key} k={key} placeholder={key === 'slurmSharedDir' ? '/shared/agentmgr' : 'none'} form={form} errors={errors} setForm={setForm} />
          ))}
          <TextField k="slurmAutoAfterSec" numeric placeholder="none" form={form} errors={errors} setForm={setForm} />
        </fieldset>
        <CheckField k="desktopNotifications" form={form} setForm={setForm} help={false} />
        <button type="submit">Save</button>
      </form>
      <ProjectsPanel api={api} />
    </section>
  );
}

type FormState = Record<string, string>;
type SetForm = (f: (v: FormState) => FormState) => void;

/** One setting as a text box: its label, and its help or what is wrong with it. */
function TextField(p: { k: keyof Settings; numeric?: boolean; placeholder?: string; form: FormState; errors: FormState; setForm: SetForm }) {
  const { k, form, errors } = p;
  return (
    <div className="field">
      <label htmlFor={`s-${k}`}>{SETTINGS_INFO[k].label}</label>
      <input
        id={`s-${k}`}
        inputMode={p.numeric ? 'numeric' : undefined}
        value={form[k] ?? ''}
        placeholder={p.placeholder}
        aria-invalid={Boolean(errors[k])}
        aria-describedby={`s-${k}-help`}
        onChange={(e) => p.setForm((v) => ({ ...v, [k]: e.target.value }))}
      />
      <small id={`s-${k}-help`} className={errors[k] ? 'error-text' : 'muted'}>
        {errors[k] ?? SETTINGS_INFO[k].help}
      </small>
    </div>
  );
}

/** One true-or-false setting as a checkbox. */
function CheckField({ k, form, setForm, help = true }: { k: keyof Settings; form: FormState; setForm: SetForm; help?: boolean }) {
  return (
    <div className="field">
      <label>
        <input type="checkbox" checked={form[k] === 'true'} onChange={(e) => setForm((v) => ({ ...v, [k]: String(e.target.checked) }))} />{' '}
        {SETTINGS_INFO[k].label}
      </label>
      {help && <small className="muted">{SETTINGS_INFO[k].help}</small>}
    </div>
  );
}
