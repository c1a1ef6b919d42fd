import { useQueryClient } from '@tanstack/react-query';
import { useEffect, useRef, type KeyboardEvent } from 'react';
import { TERMINAL_STATES, type TaskView } from '../../../contracts/task.js';
import { readable, type Api } from '../api.js';
import { useEscape } from '../lib/keys.js';
import { href } from '../lib/router.js';
import { useToast } from '../lib/toasts.js';

type Item = { label: string; run: () => Promise<string | null> | string | null; danger?: boolean };

/**
 * A task row's context menu (right click, the context-menu key, or Shift+F10): what can be done
 * to this task now. Arrow keys move, Enter runs, Escape or a click elsewhere closes.
 */
export function RowMenu({ api, t, x, y, onClose }: { api: Api; t: TaskView; x: number; y: number; onClose: () => void }) {
  const qc = useQueryClient();
  const toast = useToast();
  const ref = useRef<HTMLDivElement>(null);
  useEscape(true, onClose);
  const close = useRef(onClose);
  close.current = onClose;
  useEffect(() => {
    (ref.current?.querySelector('[role="menuitem"]') as HTMLElement | null)?.focus();
    const away = (e: MouseEvent) => {
      if (!ref.current?.contains(e.target as Node)) close.current();
    };
    window.addEventListener('mousedown', away);
    return () => window.removeEventListener('mousedown', away);
  }, []);

  const a = t.actions;
  const ended = (TERMINAL_STATES as readonly string[]).includes(t.state);
  const items: Item[] = [
    { label: 'Open', run: () => ((window.location.hash = href({ view: 'task', id: t.id })), null) },
    ...(a.cancel ? [{ label: 'Cancel', run: async () => (await api.tasks.cancel.mutate({ id: t.id }), `Cancel asked for task ${t.id}`), danger: true }] : []),
    ...(a.retry ? [{ label: 'Retry', run: async () => (await api.tasks.retry.mutate({ id: t.id }), `Task ${t.id} queued again`) }] : []),
    ...(a.hold ? [{ label: 'Hold', run: async () => (await api.tasks.hold.mutate({ id: t.id }), `Task ${t.id} held: it waits until released`) }] : []),
    ...(a.release ? [{ label: 'Release', run: async () => (await api.tasks.release.mutate({ id: t.id }), `Task ${t.id} released`) }] : []),
    ...(a.move
      ? [
          { label: 'Move to top', run: async () => (await api.tasks.move.mutate({ id: t.id, to: 'top' }), `Task ${t.id} is next of its priority`) },
          { label: 'Move to bottom', run: async () => (await api.tasks.move.mutate({ id: t.id, to: 'bottom' }), `Task ${t.id} is last of its priority`) },
        ]
      : []),
    {
      label: 'Copy ID',
      run: async () => {
        await navigator.clipboard.writeText(String(t.id));
        return `Copied ${t.id}`;
      },
    },
    ...(ended
      ? [
          {
            label: 'Remove',
            danger: true,
            run: async () => {
              const r = await api.tasks.remove.mutate({ ids: [t.id] });
              if (r.failed.length) throw new Error(r.failed[0]!.message);
              return `Task ${t.id} removed, with its log and artifacts`;
            },
          },
        ]
      : []),
  ];
  const pick = async (item: Item) => {
    onClose();
    try {
      const said = await item.run();
      void qc.invalidateQueries({ queryKey: ['tasks'] });
      if (said) toast({ kind: 'info', text: said });
    } catch (e) {
      toast({ kind: 'error', text: `${item.label} task ${t.id}: ${readable(e)}` });
    }
  };
  const onKey = (e: KeyboardEvent<HTMLDivElement>) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    e.preventDefault();
    const all = Array.from(ref.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? []);
    const i = all.indexOf(document.activeElement as HTMLElement);
    all[(i + (e.key === 'ArrowDown' ? 1 : all.length - 1)) % all.length]?.focus();
  };
  // Kept inside the window.
  const left = Math.min(x, window.innerWidth - 200);
  const top = Math.min(y, window.innerHeight - 40 * items.length - 16);
  return (
    <div ref={ref} className="row-menu" role="menu" aria-label={`Task ${t.id}`} style={{ left, top: Math.max(0, top) }} onKeyDown={onKey}>
      {items.map((item) => (
        <button key={item.label} role="menuitem" className={item.danger ? 'danger' : ''} onClick={() => void pick(item)}>
          {item.label}
        </button>
      ))}
    </div>
  );
}
