import { useState, type FormEvent } from 'react';

interface Prop {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  title?: string;
}

type Schema = { properties?: Record<string, Prop>; required?: string[] };

/**
 * A form generated from an agent's input JSON Schema: strings, numbers, integers, booleans and
 * enums, with defaults, required fields and bounds. The Manager validates again on submit.
 */
export function SchemaForm({
  schema,
  onSubmit,
  busy,
}: {
  schema: Record<string, unknown>;
  onSubmit: (input: Record<string, unknown>, priority: number) => void;
  busy: boolean;
}) {
  const s = schema as Schema;
  const props = Object.entries(s.properties ?? {});
  const required = new Set(s.required ?? []);
  const [values, setValues] = useState<Record<string, string | boolean>>(() =>
    Object.fromEntries(props.map(([k, p]) => [k, p.type === 'boolean' ? Boolean(p.default) : p.default === undefined ? '' : String(p.default)])),
  );
  const [priority, setPriority] = useState('0');
  const [errors, setErrors] = useState<Record<string, string>>({});

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const input: Record<string, unknown> = {};
    const errs: Record<string, string> = {};
    for (const [k, p] of props) {
      const v = values[k];
      const type = Array.isArray(p.type) ? p.type[0] : p.type;
      if (type === 'boolean') {
        input[k] = Boolean(v);
        continue;
      }
      const text = String(v ?? '').trim();
      if (text === '') {
        if (required.has(k)) errs[k] = 'required';
        continue;
      }
      if (type === 'number' || type === 'integer') {
        const n = Number(text);
        if (!Number.isFinite(n) || (type === 'integer' && !Number.isInteger(n))) errs[k] = type === 'integer' ? 'a whole number' : 'a number';
        else if (p.minimum !== undefined && n < p.minimum) errs[k] = `at least ${p.minimum}`;
        else if (p.maximum !== undefined && n > p.maximum) errs[k] = `at most ${p.maximum}`;
        else input[k] = n;
      } else input[k] = text;
    }
    const pr = Number(priority);
    if (!Number.isInteger(pr) || Math.abs(pr) > 1000) errs.__priority = 'a whole number from -1000 to 1000';
    setErrors(errs);
    if (Object.keys(errs).length === 0) onSubmit(input, pr);
  };

  return (
    <form className="schema-form" onSubmit={submit} noValidate>
      {props.length === 0 && <p className="muted">This agent takes no input.</p>}
      {props.map(([k, p]) => {
        const id = `f-${k}`;
        const type = Array.isArray(p.type) ? p.type[0] : p.type;
        return (
          <div className="field" key={k}>
            <label htmlFor={id}>
              {p.title ?? k}
              {required.has(k) ? ' *' : ''}
            </label>
            {type === 'boolean' ? (
              <input id={id} type="checkbox" checked={Boolean(values[k])} onChange={(e) => setValues((v) => ({ ...v, [k]: e.target.checked }))} />
            ) : p.enum ? (
              <select id={id} value={String(values[k])} onChange={(e) => setValues((v) => ({ ...v, [k]: e.target.value }))}>
                {p.enum.map((x) => (
                  <option key={String(x)}>{String(x)}</option>
                ))}
              </select>
            ) : (
              <input
                id={id}
                inputMode={type === 'number' || type === 'integer' ? 'decimal' : undefined}
                value={String(values[k])}
                aria-invalid={Boolean(errors[k])}
                aria-describedby={`${id}-help`}
                onChange={(e) => setValues((v) => ({ ...v, [k]: e.target.value }))}
              />
            )}
            <small id={`${id}-help`} className={errors[k] ? 'error-text' : 'muted'}>
              {errors[k] ? `Must be ${errors[k]}` : (p.description ?? '')}
            </small>
          </div>
        );
      })}
      <div className="field">
        <label htmlFor="f-priority">Priority</label>
        <input id="f-priority" value={priority} onChange={(e) => setPriority(e.target.value)} aria-invalid={Boolean(errors.__priority)} />
        {errors.__priority && <small className="error-text">Must be {errors.__priority}</small>}
      </div>
      <button type="submit" disabled={busy}>
        {busy ? 'Submitting…' : 'Submit task'}
      </button>
    </form>
  );
}
