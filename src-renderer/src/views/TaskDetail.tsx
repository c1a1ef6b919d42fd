import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { authHeaders, inElectron, readable, type Api } from '../api.js';
import { ArtifactPreview } from '../components/ArtifactPreview.js';
import { fileNameOf } from '../../../contracts/artifacts.js';
import { Progress, StateBadge } from '../components/Progress.js';
import { Stamp } from '../components/Stamp.js';
import { bytes, duration, mb, resources } from '../lib/format.js';
import { href } from '../lib/router.js';
import { etaText } from '../../../contracts/workflow.js';
import { useToast } from '../lib/toasts.js';

const MAX_LOG_CHARS = 2_000_000;

/** One task: live progress and log, attempts, result, artifacts, input, requested vs measured. */
export function TaskDetail({ api, id, token }: { api: Api; id: number; token: string | null }) {
  const qc = useQueryClient();
  const toast = useToast();
  const q = useQuery({
    queryKey: ['task', id],
    queryFn: () => api.tasks.get.query({ id }),
    // While it runs, the measured peak moves: look again now and then (state changes come live).
    refetchInterval: (query) => (query.state.data?.actions.cancel ? 2000 : false),
  });
  const [log, setLog] = useState('');
  const [follow, setFollow] = useState(true);
  const logRef = useRef<HTMLPreElement>(null);

  useEffect(() => {
    setLog('');
    let attempt = 0;
    const sub = api.tasks.followLogs.subscribe(
      { id, tailBytes: 256 * 1024 },
      {
        onData: (c) => {
          if (!c.text) return;
          setLog((l) => {
            const head = c.attempt !== attempt && attempt !== 0 ? `\n──── attempt ${c.attempt} ────\n` : '';
            attempt = c.attempt;
            const next = l + head + c.text;
            return next.length > MAX_LOG_CHARS ? next.slice(-MAX_LOG_CHARS) : next;
          });
        },
        onError: (e) => toast({ kind: 'error', text: readable(e) }),
      },
    );
    return () => sub.unsubscribe();
  }, [api, id, toast]);

  useEffect(() => {
    if (follow && logRef.current) logRef.current.scrollTop = logRef.current.scrollHeight;
  }, [log, follow]);

  const act = async (what: 'cancel' | 'retry' | 'retryAll' | 'hold' | 'release' | 'top' | 'bottom') => {
    const said = {
      cancel: `Cancelling task ${id}`,
      retry: `Task ${id} is queued again`,
      retryAll: `Task ${id} and what waited on it are queued again`,
      hold: `Task ${id} is held`,
      release: `Task ${id} is released`,
      top: `Task ${id} moved to the top of its priority`,
      bottom: `Task ${id} moved to the bottom of its priority`,
    };
    try {
      if (what === 'top' || what === 'bottom') await api.tasks.move.mutate({ id, to: what });
      else if (what === 'retryAll') await api.tasks.retry.mutate({ id, withDependents: true });
      else await api.tasks[what].mutate({ id });
      void qc.invalidateQueries({ queryKey: ['task', id] });
      void qc.invalidateQueries({ queryKey: ['tasks'] });
      toast({ kind: 'info', text: said[what] });
    } catch (e) {
      toast({ kind: 'error', text: readable(e) });
    }
  };

  const download = async (index: number, name: string, open: boolean) => {
    try {
      const r = await fetch(`/artifacts/${id}/${index}`, { headers: authHeaders(token) });
      if (!r.ok) throw new Error(((await r.json()) as { error?: { message?: string } }).error?.message ?? `HTTP ${r.status}`);
      const url = URL.createObjectURL(await r.blob());
      if (open) window.open(url, '_blank', 'noopener');
      else {
        const a = document.createElement('a');
        a.href = url;
        a.download = name;
        a.click();
      }
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (e) {
      toast({ kind: 'error', text: `Could not fetch ${name}: ${readable(e)}` });
    }
  };

  const openInDesktop = async (index: number, reveal: boolean) => {
    try {
      await api.artifacts.open.mutate({ id, index, reveal });
    } catch (e) {
      toast({ kind: 'error', text: readable(e) });
    }
  };

  if (q.isError) return <p role="alert">{readable(q.error)}</p>;
  if (!q.data) return <p aria-busy="true">Loading task {id}…</p>;
  const t = q.data;
  const peak = t.peak;
  return (
    <section className="detail" aria-label={`Task ${t.id}`}>
      <nav className="crumbs">
        <a href={href({ view: 'queue' })}>Queue</a> / Task #{t.id}
      </nav>
      <header className="detail-head">
        <h2>
          #{t.id} {t.agent}
          {t.name ? <small> {t.name}</small> : null}
        </h2>
        <StateBadge state={t.state} />
        <div className="actions">
          {t.actions.cancel && (
            <button className="danger" onClick={() => void act('cancel')}>
              Cancel
            </button>
          )}
          {t.actions.retry && <button onClick={() => void act('retry')}>Retry</button>}
          {t.actions.retry && t.dependents.length > 0 && (
            <button onClick={() => void act('retryAll')} title="Also the tasks cancelled because this one did not meet their dependency">
              Retry with dependents
            </button>
          )}
          {t.actions.move && <button onClick={() => void act('top')}>Move to top</button>}
          {t.actions.move && <button onClick={() => void act('bottom')}>Move to bottom</button>}
          {t.actions.hold && <button onClick={() => void act('hold')}>Hold</button>}
          {t.actions.release && <button onClick={() => void act('release')}>Release</button>}
        </div>
      </header>
      <div className="detail-progress">
        <Progress value={t.progress} state={t.state} label={`Task ${t.id} progress`} />
        <span>{t.progressMessage}</span>
      </div>
      {t.waitingReason && (
        <p className="waiting" role="status">
          Waiting: {t.waitingReason}
        </p>
      )}
      {etaText(t) && (
        <p className="muted" data-testid="eta" title={t.eta ? `${t.eta.startAt.toLocaleString()} – ${t.eta.endAt.toLocaleString()}` : ''}>
          Estimate: {etaText(t)}
        </p>
      )}
      {t.error && (
        <p className="error-text" role="alert">
          {t.error}
        </p>
      )}
      <div className="grid2">
        <div className="card">
          <h3>Resources</h3>
          <dl>
            <dt>Requested</dt>
            <dd>{resources(t.resources)}</dd>
            <dt>Measured peak</dt>
            <dd>{peak ? `${peak.cpu ?? '–'} CPU · ${mb(peak.memoryMB)} RAM${t.resources.gpu ? ` · ${mb(peak.vramMB)} VRAM` : ''}` : 'not started yet'}</dd>
            <dt>Priority</dt>
            <dd>{t.priority}</dd>
            <dt>Project</dt>
            <dd>{t.project}</dd>
            <dt>Timeout</dt>
            <dd>{t.timeoutSec ? `${t.timeoutSec} s` : 'none'}</dd>
            <dt>Submitted</dt>
            <dd>
              <Stamp at={t.createdAt} />
            </dd>
            {t.startedAt && (
              <>
                <dt>Started</dt>
                <dd>
                  <Stamp at={t.startedAt} /> (waited {duration(t.startedAt.getTime() - t.createdAt.getTime())})
                </dd>
              </>
            )}
            {t.finishedAt && (
              <>
                <dt>Ended</dt>
                <dd>
                  <Stamp at={t.finishedAt} />
                  {t.startedAt && ` (ran ${duration(t.finishedAt.getTime() - t.startedAt.getTime())})`}
                </dd>
              </>
            )}
            {t.backend === 'slurm' && (
              <>
                <dt>Runs on</dt>
                <dd>
                  the Slurm cluster{t.slurmJob ? `, job ${t.slurmJob}` : ' (not submitted yet)'}
                  {t.runsOn ? ` (${t.runsOn})` : ''}
                  {t.offloaded && <small className="muted offloaded"> — {t.offloaded}</small>}
                </dd>
              </>
            )}
            {t.arrayId !== null && (
              <>
                <dt>Array</dt>
                <dd>
                  <a href={href({ view: 'queue', array: t.arrayId })}>#{t.arrayId}</a>, index {t.arrayIndex}
                </dd>
              </>
            )}
          </dl>
          {t.dependencies && (
            <>
              <h3>Waits for</h3>
              <p className="muted">{t.dependencies.mode === 'any' ? 'Any one of these:' : 'All of these:'}</p>
              <ul className="deps" aria-label="Dependencies">
                {t.dependencies.items.map((d) => (
                  <li key={`${d.type}:${d.id}`}>
                    <code>{d.type}</code> <a href={href({ view: 'task', id: d.id })}>#{d.id}</a> <StateBadge state={d.state} />
                  </li>
                ))}
                {t.dependencies.total > t.dependencies.items.length && <li>and {t.dependencies.total - t.dependencies.items.length} more</li>}
              </ul>
            </>
          )}
          {t.dependents.length > 0 && (
            <>
              <h3>Needed by</h3>
              <p aria-label="Dependents">
                {t.dependents.map((d) => (
                  <a key={d} href={href({ view: 'task', id: d })}>
                    #{d}{' '}
                  </a>
                ))}
              </p>
            </>
          )}
        </div>
        <div className="card">
          <h3>Input</h3>
          <pre className="json">{JSON.stringify(t.input, null, 2)}</pre>
          {t.result !== null && (
            <>
              <h3>Result</h3>
              <pre className="json">{JSON.stringify(t.result, null, 2)}</pre>
            </>
          )}
        </div>
      </div>
      <div className="card">
        <h3>Attempts</h3>
        {t.attemptList.length === 0 ? (
          <p className="muted">None yet.</p>
        ) : (
          <table className="attempts">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Outcome</th>
                <th scope="col">Exit</th>
                <th scope="col">Reason</th>
                <th scope="col">Started</th>
                <th scope="col">Ended</th>
                <th scope="col">Took</th>
              </tr>
            </thead>
            <tbody>
              {t.attemptList.map((a) => (
                <tr key={a.number}>
                  <td>{a.number}</td>
                  <td>
                    <StateBadge state={a.outcome} />
                  </td>
                  <td>{a.signal ?? a.exitCode ?? '–'}</td>
                  <td>{a.reason ?? ''}</td>
                  <td>
                    <Stamp at={a.startedAt} />
                  </td>
                  <td>{a.endedAt ? <Stamp at={a.endedAt} /> : ''}</td>
                  <td>{a.endedAt ? duration(a.endedAt.getTime() - a.startedAt.getTime()) : `${duration(Date.now() - a.startedAt.getTime())} so far`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      {t.artifacts.length > 0 && (
        <div className="card">
          <h3>Artifacts</h3>
          <ul className="artifacts">
            {t.artifacts.map((a, i) => (
              <li key={a.path}>
                <div className="artifact-head">
                  <span>{a.name}</span> {fileNameOf(a.path) !== a.name && <code className="muted">{fileNameOf(a.path)}</code>}{' '}
                  <small>{bytes(a.sizeBytes)}</small>
                  {inElectron() ? (
                    <>
                      <button className="link" onClick={() => void openInDesktop(i, false)}>
                        Open
                      </button>
                      <button className="link" onClick={() => void openInDesktop(i, true)}>
                        Show in folder
                      </button>
                    </>
                  ) : (
                    <>
                      <button className="link" onClick={() => void download(i, fileNameOf(a.path), true)}>
                        Open
                      </button>
                      <button className="link" onClick={() => void download(i, fileNameOf(a.path), false)}>
                        Download
                      </button>
                    </>
                  )}
                </div>
                <ArtifactPreview api={api} id={t.id} index={i} fileName={fileNameOf(a.path)} version={`${a.attempt}:${a.sizeBytes}:${a.createdAt.getTime()}`} />
              </li>
            ))}
          </ul>
        </div>
      )}
      <div className="card">
        <div className="log-head">
          <h3>Log</h3>
          <label>
            <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
          </label>
        </div>
        <pre className="log" ref={logRef} aria-label="Task log" tabIndex={0} onWheel={(e) => e.deltaY < 0 && setFollow(false)}>
          {log || (t.attempts === 0 ? 'No output yet: the task has not started.' : '')}
        </pre>
      </div>
    </section>
  );
}
