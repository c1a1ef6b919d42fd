import { useState } from 'react';
import type { AgentView } from '../../../contracts/agent-manifest.js';
import { readable, type Api } from '../api.js';
import { SchemaForm } from '../components/SchemaForm.js';
import { resources } from '../lib/format.js';
import { href } from '../lib/router.js';
import { useToast } from '../lib/toasts.js';

/** Each agent: what it does, what files it takes, declared vs learned resources, a submit form. */
export function AgentsView({
  api,
  agents,
  problems,
  selected,
}: {
  api: Api;
  agents: AgentView[];
  problems: { path: string; message: string }[];
  selected?: string;
}) {
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  const current = agents.find((a) => a.name === selected) ?? agents[0];
  const submit = async (agent: string, input: Record<string, unknown>, priority: number) => {
    setBusy(true);
    try {
      const t = await api.tasks.submit.mutate({ agent, input, priority });
      toast({ kind: 'success', text: `Submitted task #${t.id}`, href: href({ view: 'task', id: t.id }) });
    } catch (e) {
      toast({ kind: 'error', text: readable(e) });
    } finally {
      setBusy(false);
    }
  };
  if (agents.length === 0) {
    return (
      <p className="empty">
        No agents are installed. Put a folder with an <code>agent.json</code> in the data dir&apos;s <code>agents</code> folder, then restart the Manager.
      </p>
    );
  }
  return (
    <section className="agents" aria-label="Agents">
      <ul className="agent-list" role="list">
        {agents.map((a) => (
          <li key={a.name}>
            <a href={href({ view: 'agents', agent: a.name })} aria-current={current?.name === a.name ? 'page' : undefined}>
              <strong>{a.title}</strong>
              <small>{a.name}</small>
            </a>
          </li>
        ))}
      </ul>
      {current && (
        <article className="agent">
          <h2>{current.title}</h2>
          <p>{current.description || <span className="muted">No description.</span>}</p>
          <dl>
            <dt>Accepts</dt>
            <dd>{current.accepts.length ? current.accepts.map((x) => (x === '*' ? 'any file' : x)).join(', ') : 'no files (input only)'}</dd>
            <dt>Declared</dt>
            <dd>{resources(current.resources)}</dd>
            <dt>Learned</dt>
            <dd>
              {current.learned ? (
                `${resources(current.learned.request)} (from ${current.learned.samples} runs)`
              ) : (
                <span className="muted">not yet: learned after 3 measured runs</span>
              )}
            </dd>
            <dt>Retries</dt>
            <dd>
              {current.retry.maxAttempts} attempt{current.retry.maxAttempts === 1 ? '' : 's'}, backoff {current.retry.backoffSec} s
            </dd>
            {current.concurrency !== null && (
              <>
                <dt>At once</dt>
                <dd>at most {current.concurrency}</dd>
              </>
            )}
          </dl>
          <h3>Submit a task</h3>
          <SchemaForm key={current.name} schema={current.inputSchema} busy={busy} onSubmit={(input, priority) => void submit(current.name, input, priority)} />
        </article>
      )}
      {problems.length > 0 && (
        <div className="card problems" role="alert">
          <h3>Agents that did not load</h3>
          <ul>
            {problems.map((p) => (
              <li key={p.path}>
                <code>{p.path}</code>: {p.message}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
