import { keepPreviousData, useQueries, useQuery, useQueryClient } from '@tanstack/react-query';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import type { TaskSort, TaskState, TaskView } from '../../../contracts/task.js';
import { TASK_STATES } from '../../../contracts/task.js';
import { etaText } from '../../../contracts/workflow.js';
import { readable, type Api } from '../api.js';
import { UploadButton } from '../components/DropZone.js';
import { Progress, StateBadge } from '../components/Progress.js';
import { RowMenu } from '../components/RowMenu.js';
import { age, duration, STATE_LABEL, when } from '../lib/format.js';
import { href } from '../lib/router.js';
import { useToast } from '../lib/toasts.js';

const PAGE = 200;

/** What a row says in its last column: why it waits, what it is doing, or what went wrong. */
function note(t: TaskView): string {
  if (t.state === 'queued') {
    const eta = t.eta ? etaText(t)!.replace(/, ends in .*$/, '') : null;
    return [eta, t.waitingReason].filter(Boolean).join(' · ');
  }
  if (t.state === 'running' || t.state === 'starting') return t.progressMessage ?? '';
  return t.error ?? '';
}
/** The Age cell's tooltip: when it was submitted, started and ended, with how long each took. */
function ageTitle(t: TaskView): string {
  const lines = [`submitted ${when(t.createdAt).full}`];
  if (t.startedAt) lines.push(`started ${when(t.startedAt).full} (waited ${duration(t.startedAt.getTime() - t.createdAt.getTime())})`);
  if (t.finishedAt) lines.push(`ended ${when(t.finishedAt).full}${t.startedAt ? ` (ran ${duration(t.finishedAt.getTime() - t.startedAt.getTime())})` : ''}`);
  return lines.join('\n');
}
const ROW = 40;
/** An expanded array shows this many of its tasks at once (it scrolls for more). */
const GROUP_ROWS = 6;

type Counts = Record<TaskState, number>;

/** "3 running · 40 queued · 57 succeeded": the states that have any, in lifecycle order. */
function countsText(c: Counts): string {
  return TASK_STATES.filter((s) => c[s] > 0)
    .map((s) => `${c[s]} ${(STATE_LABEL[s] ?? s).toLowerCase()}`)
    .join(' · ');
}

/** The state an array's bar is drawn in: running while any runs, failed once any failed and all ended. */
function groupState(c: Counts | undefined): TaskState {
  if (!c) return 'queued';
  if (c.running + c.starting > 0) return 'running';
  if (c.queued > 0) return 'queued';
  return c.failed + c.timed_out + c.interrupted > 0 ? 'failed' : c.cancelled > 0 && c.succeeded === 0 ? 'cancelled' : 'succeeded';
}

/** A task's cells after the selection box: the same in a plain row and in an array's expanded rows. */
function TaskCells({ t, who }: { t: TaskView; who: string }) {
  return (
    <>
      <span role="cell" className="c-id">
        <a href={href({ view: 'task', id: t.id })}>#{t.id}</a>
      </span>
      <span role="cell" className="c-agent" title={t.name ?? ''}>
        {who}
        {t.name ? <small> {t.name}</small> : null}
        {t.backend === 'slurm' ? (
          <small title={t.slurmJob ? `Slurm job ${t.slurmJob}${t.runsOn ? ` (${t.runsOn})` : ''}` : 'for the Slurm cluster'}>
            {' '}
            · slurm{t.slurmJob ? ` ${t.slurmJob}` : ''}
          </small>
        ) : null}
      </span>
      <span role="cell" className="c-state">
        <StateBadge state={t.state} />
      </span>
      <span role="cell" className="c-pri">
        {t.priority}
      </span>
      <span role="cell" className="c-prog">
        <Progress value={t.progress} state={t.state} label={`Task ${t.id} progress`} />
      </span>
      <span role="cell" className="c-age" title={ageTitle(t)}>
        {age(t.createdAt)}
      </span>
      <span role="cell" className="c-att">
        {t.attempts}/{t.maxAttempts}
      </span>
      <span role="cell" className="c-note" title={note(t)}>
        {note(t)}
      </span>
    </>
  );
}

/** An expanded array's tasks, first to last, each a link to its page. */
function ArrayMembers({ api, arrayId }: { api: Api; arrayId: number }) {
  const q = useQuery({
    queryKey: ['tasks', { arrayId }, 'members'],
    queryFn: () => api.tasks.page.query({ arrayId, sort: 'oldest', offset: 0, limit: 1000 }),
    refetchInterval: 2000,
  });
  if (!q.data) return <div className="group-members">Loading…</div>;
  return (
    <div className="group-members" role="rowgroup" aria-label={`Tasks of array ${arrayId}`} style={{ height: GROUP_ROWS * ROW }}>
      {q.data.items.map((m) => (
        <div key={m.id} className="row member" role="row" data-task-id={m.id} data-state={m.state}>
          <span role="cell" className="c-sel" />
          <TaskCells t={m} who={`[${m.arrayIndex}]`} />
        </div>
      ))}
      {q.data.total > q.data.items.length && (
        <p className="muted">
          and {q.data.total - q.data.items.length} more: <a href={href({ view: 'queue', array: arrayId })}>show them all</a>
        </p>
      )}
    </div>
  );
}
type Sort = TaskSort;

/** The sortable columns: what a click on each header sorts by (a second click turns ID and Age around). */
const SORT_BY: Partial<Record<string, { next: (s: Sort) => Sort; aria: (s: Sort) => 'ascending' | 'descending' | 'none' }>> = {
  ID: { next: (s) => (s === 'newest' ? 'oldest' : 'newest'), aria: (s) => (s === 'newest' ? 'descending' : s === 'oldest' ? 'ascending' : 'none') },
  Agent: { next: () => 'agent', aria: (s) => (s === 'agent' ? 'ascending' : 'none') },
  State: { next: () => 'state', aria: (s) => (s === 'state' ? 'ascending' : 'none') },
  Priority: { next: () => 'priority', aria: (s) => (s === 'priority' ? 'descending' : 'none') },
  Age: { next: (s) => (s === 'newest' ? 'oldest' : 'newest'), aria: (s) => (s === 'newest' ? 'ascending' : s === 'oldest' ? 'descending' : 'none') },
};
const COLUMNS: [string, string][] = [
  ['ID', 'c-id'],
  ['Agent', 'c-agent'],
  ['State', 'c-state'],
  ['Priority', 'c-pri'],
  ['Progress', 'c-prog'],
  ['Age', 'c-age'],
  ['Attempts', 'c-att'],
  ['Note', 'c-note'],
];

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}

/**
 * Every task, as a virtualized table: only the visible rows are in the DOM, and rows are fetched
 * by page (200 at a time) as they scroll into view, so 100,000 tasks stay smooth.
 */
export function QueueView({ api, agents, array }: { api: Api; agents: string[]; array?: number }) {
  const qc = useQueryClient();
  const toast = useToast();
  const [states, setStates] = useState<TaskState[]>([]);
  const [agent, setAgent] = useState('');
  const [searchText, setSearchText] = useState('');
  const search = useDebounced(searchText.trim(), 200);
  const [sort, setSort] = useState<Sort>('newest');
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [priority, setPriority] = useState('0');
  // Arrays show as one group row, unless a filter asks for tasks one by one.
  const grouped = array === undefined && states.length === 0 && !search;
  const filter = useMemo(
    () => ({
      state: states.length ? states : undefined,
      agent: agent || undefined,
      search: search || undefined,
      sort,
      ...(array !== undefined ? { arrayId: array } : {}),
      ...(grouped ? { arrayHeads: true } : {}),
    }),
    [states, agent, search, sort, array, grouped],
  );
  const [expanded, setExpanded] = useState<Set<number>>(new Set());
  const [menu, setMenu] = useState<{ t: TaskView; x: number; y: number } | null>(null);
  const [clearing, setClearing] = useState<'ask' | 'busy' | null>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const [dragging, setDragging] = useState<number | null>(null);
  const [dropOn, setDropOn] = useState<number | null>(null);

  const first = useQuery({
    queryKey: ['tasks', filter, 0],
    queryFn: () => api.tasks.page.query({ ...filter, offset: 0, limit: PAGE }),
    placeholderData: keepPreviousData,
  });
  const total = first.data?.total ?? 0;
  const parentRef = useRef<HTMLDivElement>(null);
  const byPageRef = useRef(new Map<number, TaskView[]>());
  const rows = useVirtualizer({
    count: total,
    getScrollElement: () => parentRef.current,
    estimateSize: (i) => {
      const t = byPageRef.current.get(Math.floor(i / PAGE))?.[i % PAGE];
      return t && expanded.has(t.id) ? ROW + GROUP_ROWS * ROW : ROW;
    },
    overscan: 20,
  });
  useEffect(() => rows.measure(), [expanded, rows]);
  const items = rows.getVirtualItems();
  const pages = useMemo(() => {
    const set = new Set<number>();
    for (const it of items) set.add(Math.floor(it.index / PAGE));
    return [...set].filter((p) => p > 0);
  }, [items]);
  const more = useQueries({
    queries: pages.map((p) => ({
      queryKey: ['tasks', filter, p],
      queryFn: () => api.tasks.page.query({ ...filter, offset: p * PAGE, limit: PAGE }),
      staleTime: 1000,
    })),
  });
  const byPage = new Map<number, TaskView[]>();
  if (first.data) byPage.set(0, first.data.items);
  pages.forEach((p, i) => {
    const d = more[i]?.data;
    if (d) byPage.set(p, d.items);
  });
  byPageRef.current = byPage;
  const rowAt = (i: number): TaskView | undefined => byPage.get(Math.floor(i / PAGE))?.[i % PAGE];
  // Each array on screen: its counts and combined progress.
  const heads = items.map((it) => rowAt(it.index)).filter((t): t is TaskView => t !== undefined && grouped && t.arrayId === t.id);
  const headIds = heads.map((t) => t.id);
  const summaries = useQuery({
    queryKey: ['arrays', headIds],
    queryFn: () => api.tasks.arrays.query({ ids: headIds }),
    enabled: headIds.length > 0,
    refetchInterval: 2000,
    placeholderData: keepPreviousData,
  });
  const summaryOf = (id: number) => summaries.data?.find((s) => s.arrayId === id);
  const toggleGroup = (id: number) =>
    setExpanded((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  // Queued rows are dragged to reorder the queue: in queue order only, where the list shows it.
  const canDrag = (t: TaskView) => sort === 'priority' && t.actions.move && !(grouped && t.arrayId === t.id);
  const dropBefore = async (target: TaskView) => {
    const id = dragging;
    setDragging(null);
    setDropOn(null);
    if (id === null || id === target.id) return;
    try {
      const moved = await api.tasks.move.mutate({ id, before: target.id });
      toast({ kind: 'info', text: `Task ${id} moved before task ${target.id} (priority ${moved.priority})` });
      void qc.invalidateQueries({ queryKey: ['tasks'] });
    } catch (e) {
      toast({ kind: 'error', text: readable(e) });
    }
  };

  const bulk = async (what: 'cancel' | 'retry' | 'priority') => {
    const ids = [...selected];
    try {
      const r =
        what === 'cancel'
          ? await api.tasks.cancelMany.mutate({ ids })
          : what === 'retry'
            ? await api.tasks.retryMany.mutate({ ids })
            : await api.tasks.setPriorityMany.mutate({ ids, priority: Number(priority) });
      const verb = what === 'cancel' ? 'Cancelled' : what === 'retry' ? 'Queued again' : `Priority ${priority} for`;
      if (r.done.length) toast({ kind: 'success', text: `${verb} ${r.done.length} task${r.done.length === 1 ? '' : 's'}` });
      if (r.failed.length) toast({ kind: 'error', text: `${r.failed.length} not done: ${r.failed[0]!.message}` });
      setSelected(new Set());
      void qc.invalidateQueries({ queryKey: ['tasks'] });
    } catch (e) {
      toast({ kind: 'error', text: readable(e) });
    }
  };

  const toggle = (id: number) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  const onRowKey = (e: KeyboardEvent<HTMLDivElement>, index: number, t: TaskView | undefined) => {
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      const next = Math.max(0, Math.min(total - 1, index + (e.key === 'ArrowDown' ? 1 : -1)));
      rows.scrollToIndex(next);
      requestAnimationFrame(() => (parentRef.current?.querySelector(`[data-index="${next}"]`) as HTMLElement | null)?.focus());
    } else if (e.key === 'Enter' && t) window.location.hash = href({ view: 'task', id: t.id });
    else if (e.key === ' ' && t) {
      e.preventDefault();
      toggle(t.id);
    }
  };

  // `/` jumps to search, from anywhere but a field being typed in.
  useEffect(() => {
    const onKey = (e: globalThis.KeyboardEvent) => {
      const el = e.target as HTMLElement | null;
      const typing = el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
      if (e.key === '/' && !typing && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        searchRef.current?.focus();
        searchRef.current?.select();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
  // At load, the keyboard starts on the list (its first row), unless something else has focus already.
  const focusedAtLoad = useRef(false);
  useEffect(() => {
    if (focusedAtLoad.current || !first.isSuccess) return;
    focusedAtLoad.current = true;
    if (document.activeElement && document.activeElement !== document.body) return;
    requestAnimationFrame(() => (parentRef.current?.querySelector('[data-index="0"]') as HTMLElement | null)?.focus({ preventScroll: true }));
  }, [first.isSuccess]);

  const clearFinished = async () => {
    setClearing('busy');
    try {
      const r = await api.tasks.clean.mutate({ agent: agent || undefined });
      toast({
        kind: r.removed ? 'success' : 'info',
        text: r.removed ? `Removed ${r.removed} ended task${r.removed === 1 ? '' : 's'}, with their logs and artifacts` : 'Nothing to clear: no task has ended',
      });
      setSelected(new Set());
      void qc.invalidateQueries({ queryKey: ['tasks'] });
    } catch (e) {
      toast({ kind: 'error', text: readable(e) });
    } finally {
      setClearing(null);
    }
  };
  const openMenu = (t: TaskView, x: number, y: number) => setMenu({ t, x, y });

  const validPriority = /^-?\d+$/.test(priority) && Math.abs(Number(priority)) <= 1000;
  return (
    <section className="queue" aria-label="Queue">
      <div className="toolbar">
        <input
          ref={searchRef}
          type="search"
          title="Search (press / to jump here)"
          placeholder="Search by id or name  /"
          aria-label="Search tasks by id or name"
          value={searchText}
          onChange={(e) => setSearchText(e.target.value)}
        />
        <select aria-label="Filter by agent" value={agent} onChange={(e) => setAgent(e.target.value)}>
          <option value="">All agents</option>
          {agents.map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
        <select aria-label="Sort" value={sort} onChange={(e) => setSort(e.target.value as Sort)}>
          <option value="newest">Newest first</option>
          <option value="oldest">Oldest first</option>
          <option value="priority">Queue order (priority, then place)</option>
          <option value="agent">Agent, A to Z</option>
          <option value="state">State (waiting, running, ended)</option>
        </select>
        <UploadButton />
        {clearing === null ? (
          <button onClick={() => setClearing('ask')} title="Remove every ended task (succeeded, failed, cancelled, timed out) with its log and artifacts">
            Clear finished
          </button>
        ) : (
          <span className="clear-confirm" role="group" aria-label="Clear finished">
            Remove every ended task{agent ? ` of ${agent}` : ''}, with its log and artifacts?
            <button className="danger" onClick={() => void clearFinished()} disabled={clearing === 'busy'}>
              Remove
            </button>
            <button className="link" onClick={() => setClearing(null)} disabled={clearing === 'busy'}>
              Keep
            </button>
          </span>
        )}
        {array !== undefined && (
          <a className="chip on" href={href({ view: 'queue' })} title="Show every task">
            Array #{array} ✕
          </a>
        )}
        <div className="chips" role="group" aria-label="Filter by state">
          {TASK_STATES.map((s) => (
            <button
              key={s}
              className={`chip ${states.includes(s) ? 'on' : ''}`}
              aria-pressed={states.includes(s)}
              onClick={() => setStates((l) => (l.includes(s) ? l.filter((x) => x !== s) : [...l, s]))}
            >
              {STATE_LABEL[s]}
            </button>
          ))}
        </div>
      </div>
      {selected.size > 0 && (
        <div className="bulk" role="toolbar" aria-label="Selected tasks">
          <span>{selected.size} selected</span>
          <button onClick={() => void bulk('cancel')}>Cancel</button>
          <button onClick={() => void bulk('retry')}>Retry</button>
          <label>
            Priority <input aria-label="New priority" value={priority} size={5} onChange={(e) => setPriority(e.target.value)} aria-invalid={!validPriority} />
          </label>
          <button disabled={!validPriority} onClick={() => void bulk('priority')} title={validPriority ? '' : 'a whole number from -1000 to 1000'}>
            Set priority
          </button>
          <button className="link" onClick={() => setSelected(new Set())}>
            Clear
          </button>
        </div>
      )}
      <div className="table" role="table" aria-label="Tasks" aria-rowcount={total}>
        <div className="row head" role="row">
          <span role="columnheader" className="c-sel">
            <input
              type="checkbox"
              aria-label="Select all loaded tasks"
              checked={selected.size > 0 && selected.size === (first.data?.items.length ?? -1)}
              onChange={(e) => setSelected(e.target.checked ? new Set(first.data?.items.map((t) => t.id)) : new Set())}
            />
          </span>
          {COLUMNS.map(([label, cls]) => {
            const by = SORT_BY[label];
            const aria = by?.aria(sort) ?? 'none';
            return (
              <span key={label} role="columnheader" className={cls} aria-sort={by ? aria : undefined}>
                {by ? (
                  <button className="sort" onClick={() => setSort(by.next(sort))} title={`Sort by ${label.toLowerCase()}`}>
                    {label}
                    <span aria-hidden="true">{aria === 'ascending' ? ' ▲' : aria === 'descending' ? ' ▼' : ''}</span>
                  </button>
                ) : (
                  label
                )}
              </span>
            );
          })}
        </div>
        {first.isError ? (
          <p className="empty" role="alert">
            {readable(first.error)}
          </p>
        ) : total === 0 && first.isSuccess ? (
          <div className="empty">
            {filter.state || filter.agent || filter.search ? (
              <p>No task matches these filters.</p>
            ) : (
              <>
                <p>
                  <strong>No tasks yet.</strong> Drop files anywhere on this window, submit one from <a href={href({ view: 'agents' })}>Agents</a>, or run{' '}
                  <code>agentmgr submit demo</code>.
                </p>
              </>
            )}
          </div>
        ) : (
          <div ref={parentRef} className="rows" data-testid="task-rows">
            <div style={{ height: rows.getTotalSize(), position: 'relative' }}>
              {items.map((it) => {
                const t = rowAt(it.index);
                const group = t && grouped && t.arrayId === t.id ? summaryOf(t.id) : undefined;
                if (t && grouped && t.arrayId === t.id) {
                  const open = expanded.has(t.id);
                  return (
                    <div
                      key={it.key}
                      data-index={it.index}
                      className="group-row"
                      role="row"
                      aria-expanded={open}
                      data-array-id={t.id}
                      style={{ position: 'absolute', top: 0, left: 0, right: 0, height: it.size, transform: `translateY(${it.start}px)` }}
                      onKeyDown={(e) => {
                        if (e.key === 'Enter' || e.key === ' ') {
                          e.preventDefault();
                          toggleGroup(t.id);
                        } else onRowKey(e, it.index, undefined);
                      }}
                      tabIndex={0}
                    >
                      <div className="row group-head">
                        <span role="cell" className="c-sel">
                          <button className="link" aria-label={`${open ? 'Collapse' : 'Expand'} array ${t.id}`} onClick={() => toggleGroup(t.id)}>
                            {open ? '▾' : '▸'}
                          </button>
                        </span>
                        <span role="cell" className="c-id">
                          <a href={href({ view: 'queue', array: t.id })}>Array #{t.id}</a>
                        </span>
                        <span role="cell" className="c-agent">
                          {t.agent}
                        </span>
                        <span role="cell" className="c-state" data-testid={`array-${t.id}-counts`} title={group ? countsText(group.counts) : ''}>
                          {group ? countsText(group.counts) : '…'}
                        </span>
                        <span role="cell" className="c-pri">
                          {t.priority}
                        </span>
                        <span role="cell" className="c-prog">
                          <Progress value={group?.progress ?? null} state={groupState(group?.counts)} label={`Array ${t.id} progress`} />
                        </span>
                        <span role="cell" className="c-age" title={ageTitle(t)}>
                          {age(t.createdAt)}
                        </span>
                        <span role="cell" className="c-att">
                          {group ? `${group.total} tasks` : ''}
                        </span>
                        <span role="cell" className="c-note">
                          {group?.throttle ? `at most ${group.throttle} at once` : ''}
                        </span>
                      </div>
                      {open && <ArrayMembers api={api} arrayId={t.id} />}
                    </div>
                  );
                }
                return (
                  <div
                    key={it.key}
                    data-index={it.index}
                    className={`row ${t && selected.has(t.id) ? 'selected' : ''} ${t && dropOn === t.id ? 'drop-before' : ''}`}
                    role="row"
                    tabIndex={0}
                    aria-selected={t ? selected.has(t.id) : false}
                    data-task-id={t?.id}
                    data-state={t?.state}
                    draggable={t ? canDrag(t) : false}
                    onDragStart={(e) => {
                      if (!t) return;
                      setDragging(t.id);
                      e.dataTransfer.effectAllowed = 'move';
                      e.dataTransfer.setData('text/plain', String(t.id));
                    }}
                    onDragOver={(e) => {
                      if (!t || dragging === null || !canDrag(t)) return;
                      e.preventDefault();
                      setDropOn(t.id);
                    }}
                    onDragLeave={() => setDropOn((d) => (d === t?.id ? null : d))}
                    onDrop={(e) => {
                      e.preventDefault();
                      if (t) void dropBefore(t);
                    }}
                    onDragEnd={() => {
                      setDragging(null);
                      setDropOn(null);
                    }}
                    style={{ position: 'absolute', top: 0, left: 0, right: 0, height: it.size, transform: `translateY(${it.start}px)` }}
                    onKeyDown={(e) => {
                      if (t && (e.key === 'ContextMenu' || (e.key === 'F10' && e.shiftKey))) {
                        e.preventDefault();
                        const box = e.currentTarget.getBoundingClientRect();
                        openMenu(t, box.left + 40, box.bottom);
                      } else onRowKey(e, it.index, t);
                    }}
                    onContextMenu={(e) => {
                      if (!t) return;
                      e.preventDefault();
                      openMenu(t, e.clientX, e.clientY);
                    }}
                    onDoubleClick={() => t && (window.location.hash = href({ view: 'task', id: t.id }))}
                  >
                    {t ? (
                      <>
                        <span role="cell" className="c-sel">
                          <input type="checkbox" aria-label={`Select task ${t.id}`} checked={selected.has(t.id)} onChange={() => toggle(t.id)} />
                        </span>
                        <TaskCells t={t} who={t.agent} />
                      </>
                    ) : (
                      <span className="loading-row">Loading…</span>
                    )}
                  </div>
                );
              })}
            </div>
          </div>
        )}
      </div>
      {menu && <RowMenu api={api} t={menu.t} x={menu.x} y={menu.y} onClose={() => setMenu(null)} />}
      <p className="count" aria-live="polite">
        {total.toLocaleString()} task{total === 1 ? '' : 's'}
      </p>
    </section>
  );
}
