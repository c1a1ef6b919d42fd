import type { QueryClient } from '@tanstack/react-query';
import type { TaskView } from '../../../contracts/task.js';
import type { Api } from '../api.js';

type Page = { items: TaskView[]; total: number; offset: number };

/**
 * One subscription to task changes for the whole UI. A changed task is patched into every cached
 * page and detail at once (a change is on screen within a frame); list membership and counts are
 * refetched shortly after, a few times a second at most. Ends come as their own event
 * (`tasks.ended`): `onEnd` runs once per end, with what the list showed before.
 */
export function startLiveUpdates(api: Api, qc: QueryClient, onEnd: (t: TaskView, before: TaskView | undefined) => void): () => void {
  let refetch: ReturnType<typeof setTimeout> | null = null;
  const shown = new Map<number, TaskView>();
  const scheduleRefetch = () => {
    if (refetch) return;
    refetch = setTimeout(() => {
      refetch = null;
      void qc.invalidateQueries({ queryKey: ['tasks'] });
      void qc.invalidateQueries({ queryKey: ['status'] });
    }, 300);
  };
  const sub = api.tasks.changes.subscribe(undefined, {
    onData: (t) => {
      let before: TaskView | undefined;
      qc.setQueriesData<Page>({ queryKey: ['tasks'] }, (page) => {
        if (!page) return page;
        const i = page.items.findIndex((x) => x.id === t.id);
        if (i < 0) return page;
        before = page.items[i];
        const items = page.items.slice();
        items[i] = t;
        return { ...page, items };
      });
      qc.setQueryData(['task', t.id], (old: (TaskView & Record<string, unknown>) | undefined) => (old ? { ...old, ...t } : old));
      if (before) shown.set(t.id, before);
      // A task the lists do not show yet, or one that moved on (or within the queue): membership,
      // order and counts change.
      if (!before || before.state !== t.state || before.seq !== t.seq || before.priority !== t.priority || before.blocked !== t.blocked) {
        scheduleRefetch();
        void qc.invalidateQueries({ queryKey: ['task', t.id] });
      }
    },
  });
  const ended = api.tasks.ended.subscribe(undefined, {
    onData: (t) => {
      onEnd(t, shown.get(t.id));
      void qc.invalidateQueries({ queryKey: ['gallery'] }); // its outputs are in
      shown.delete(t.id);
    },
  });
  const q = api.queue.changes.subscribe(undefined, {
    onData: (c) => {
      void qc.invalidateQueries({ queryKey: ['status'] });
      // Tasks removed for good (clean, remove): off every list, and their detail is gone.
      if ('removed' in c && c.removed) {
        for (const id of c.removed) qc.removeQueries({ queryKey: ['task', id] });
        void qc.invalidateQueries({ queryKey: ['gallery'] });
        void qc.invalidateQueries({ queryKey: ['tasks'] });
      }
    },
  });
  return () => {
    sub.unsubscribe();
    ended.unsubscribe();
    q.unsubscribe();
    if (refetch) clearTimeout(refetch);
  };
}
