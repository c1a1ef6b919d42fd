import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import type { PreviewKind } from '../../../contracts/artifacts.js';
import { readable, type Api } from '../api.js';
import { ArtifactPreview } from '../components/ArtifactPreview.js';
import { Stamp } from '../components/Stamp.js';
import { bytes } from '../lib/format.js';
import { href } from '../lib/router.js';

const SHOW: { value: PreviewKind | 'all'; label: string }[] = [
  { value: 'all', label: 'All outputs' },
  { value: 'image', label: 'Images' },
  { value: 'audio', label: 'Sounds' },
  { value: 'text', label: 'Text' },
  { value: 'none', label: 'Other files' },
];

/** The newest outputs of every task, as ComfyUI's history: previews, each linked to its task. */
export function GalleryView({ api }: { api: Api }) {
  const [show, setShow] = useState<PreviewKind | 'all'>('all');
  const q = useQuery({ queryKey: ['gallery'], queryFn: () => api.artifacts.recent.query({ limit: 120 }) });
  const items = (q.data ?? []).filter((a) => show === 'all' || a.kind === show);
  return (
    <section aria-label="Gallery">
      <div className="toolbar">
        <h2>Recent outputs</h2>
        <label>
          Show{' '}
          <select value={show} onChange={(e) => setShow(e.target.value as PreviewKind | 'all')} aria-label="Show outputs of kind">
            {SHOW.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      {q.isError && <p role="alert">{readable(q.error)}</p>}
      {q.data && q.data.length === 0 && <p className="empty">No outputs yet. Files a task writes as artifacts appear here, newest first.</p>}
      {q.data && q.data.length > 0 && items.length === 0 && <p className="empty">None of the recent outputs is of this kind.</p>}
      <ul className="gallery">
        {items.map((a) => {
          return (
            <li key={`${a.taskId}/${a.index}`} aria-label={`${a.name} from task ${a.taskId}`}>
              <ArtifactPreview api={api} id={a.taskId} index={a.index} fileName={a.fileName} version={`${a.sizeBytes}:${a.createdAt.getTime()}`} lazy />
              <div>
                <a href={href({ view: 'task', id: a.taskId })}>{a.name}</a>
              </div>
              <div className="meta">
                {a.fileName !== a.name && <code>{a.fileName}</code>} {bytes(a.sizeBytes)} · #{a.taskId} {a.agent} · <Stamp at={a.createdAt} />
              </div>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
