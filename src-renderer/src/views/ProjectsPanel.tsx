import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { ProjectPatchSchema, type ProjectView } from '../../../contracts/project.js';
import { ProjectNameSchema } from '../../../contracts/task.js';
import { readable, type Api } from '../api.js';
import { useToast } from '../lib/toasts.js';

const KEYS = ['weight', 'maxRunning', 'maxVramMB', 'maxQueued'] as const;
const LABEL: Record<(typeof KEYS)[number], string> = { weight: 'Weight', maxRunning: 'Max running', maxVramMB: 'Max VRAM (MB)', maxQueued: 'Max queued' };
const pct = (x: number) => `${Math.round(x * 100)} %`;

/** A row's fields as typed; blank quota: none. */
function patchOf(form: Record<string, string>) {
  return ProjectPatchSchema.safeParse(Object.fromEntries(KEYS.map((k) => [k, form[k]?.trim() === '' ? (k === 'weight' ? NaN : null) : Number(form[k])])));
}

/**
 * Projects: fair share and quotas (the same as `agentmgr project set`). Each row shows the
 * project's part of the recent use against the share its weight entitles it to.
 */
export function ProjectsPanel({ api }: { api: Api }) {
  const qc = useQueryClient();
  const toast = useToast();
  const q = useQuery({ queryKey: ['projects'], queryFn: () => api.projects.list.query(), refetchInterval: 5000 });
  const [edits, setEdits] = useState<Record<string, Record<string, string>>>({});
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [newName, setNewName] = useState('');

  const formOf = (p: ProjectView): Record<string, string> => edits[p.name] ?? Object.fromEntries(KEYS.map((k) => [k, p[k] === null ? '' : String(p[k])]));

  const save = async (name: string, form: Record<string, string>) => {
    const parsed = patchOf(form);
    if (!parsed.success) {
      setErrors((e) => ({ ...e, [name]: parsed.error.issues[0]!.message }));
      return;
    }
    try {
      await api.projects.set.mutate({ name, patch: parsed.data });
      setErrors((e) => ({ ...e, [name]: '' }));
      setEdits((e) => {
        const { [name]: _done, ...rest } = e;
        return rest;
      });
      void qc.invalidateQueries({ queryKey: ['projects'] });
      toast({ kind: 'success', text: `Project ${name} saved` });
    } catch (err) {
      setErrors((e) => ({ ...e, [name]: readable(err) }));
    }
  };

  const add = (e: FormEvent) => {
    e.preventDefault();
    const n = ProjectNameSchema.safeParse(newName.trim());
    if (!n.success) {
      setErrors((x) => ({ ...x, '': n.error.issues[0]!.message }));
      return;
    }
    setNewName('');
    setErrors((x) => ({ ...x, '': '' }));
    void save(n.data, { weight: '1', maxRunning: '', maxVramMB: '', maxQueued: '' });
  };

  if (q.isError) return <p role="alert">{readable(q.error)}</p>;
  return (
    <section aria-label="Projects" className="projects">
      <h2>Projects</h2>
      <p className="muted">Within a priority, the next task comes from the project furthest below its share. Quotas hold new starts only; blank means none.</p>
      <table className="attempts">
        <thead>
          <tr>
            <th>Project</th>
            {KEYS.map((k) => (
              <th key={k}>{LABEL[k]}</th>
            ))}
            <th>Use / share</th>
            <th>Running / queued</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(q.data ?? []).map((p) => {
            const form = formOf(p);
            return (
              <tr key={p.name} aria-label={`project ${p.name}`}>
                <td>{p.name}</td>
                {KEYS.map((k) => (
                  <td key={k}>
                    <input
                      aria-label={`${p.name} ${LABEL[k]}`}
                      inputMode="numeric"
                      size={6}
                      value={form[k] ?? ''}
                      onChange={(e) => setEdits((x) => ({ ...x, [p.name]: { ...form, [k]: e.target.value } }))}
                    />
                  </td>
                ))}
                <td title={`${Math.round(p.usage)} resource-seconds (decayed)`}>
                  {pct(p.usageShare)} / {pct(p.targetShare)}
                </td>
                <td>
                  {p.running} / {p.queued}
                </td>
                <td>
                  <button type="button" aria-label={`Save project ${p.name}`} onClick={() => void save(p.name, form)} disabled={!edits[p.name]}>
                    Save
                  </button>
                  {errors[p.name] ? (
                    <small role="alert" className="error-text">
                      {' '}
                      {errors[p.name]}
                    </small>
                  ) : null}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <form onSubmit={add} className="add-project">
        <label htmlFor="new-project">New project</label> <input id="new-project" value={newName} onChange={(e) => setNewName(e.target.value)} />{' '}
        <button type="submit">Add</button>
        {errors[''] ? (
          <small role="alert" className="error-text">
            {' '}
            {errors['']}
          </small>
        ) : null}
      </form>
    </section>
  );
}
