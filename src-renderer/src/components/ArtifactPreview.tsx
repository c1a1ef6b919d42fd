import { useQuery } from '@tanstack/react-query';
import { useEffect, useRef, useState } from 'react';
import { previewKind } from '../../../contracts/artifacts.js';
import { readable, type Api } from '../api.js';

/**
 * An artifact shown inline: an image, a player for a sound, the start of a text file. Only the
 * kinds the file's own extension names; the bytes come through the API (IPC in the desktop app),
 * so nothing is served from the artifact's folder to the page.
 */
export function ArtifactPreview(props: { api: Api; id: number; index: number; fileName: string; version: string; lazy?: boolean }) {
  // In a long list (the gallery), a preview is fetched once it scrolls into view.
  const [seen, setSeen] = useState(!props.lazy);
  const spot = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (seen || !spot.current) return;
    const io = new IntersectionObserver((entries) => entries.some((e) => e.isIntersecting) && setSeen(true), { rootMargin: '200px' });
    io.observe(spot.current);
    return () => io.disconnect();
  }, [seen]);
  const kind = previewKind(props.fileName).kind;
  if (kind === 'none') return null;
  if (!seen) return <div ref={spot} className="preview-spot" />;
  return <Loaded {...props} />;
}

function Loaded({ api, id, index, fileName, version }: { api: Api; id: number; index: number; fileName: string; version: string }) {
  const q = useQuery({
    queryKey: ['artifact-preview', id, index, version],
    queryFn: () => api.artifacts.preview.query({ id, index }),
    staleTime: Infinity,
  });
  if (q.isError) return <p className="muted">No preview: {readable(q.error)}</p>;
  if (!q.data)
    return (
      <p className="muted" aria-busy="true">
        Loading the preview of {fileName}…
      </p>
    );
  const p = q.data;
  if (p.kind === 'none') return <p className="muted">{p.reason}</p>;
  if (p.kind === 'text')
    return (
      <pre className="preview-text" aria-label={`Preview of ${fileName}`} tabIndex={0}>
        {p.text}
        {p.truncated && <span className="muted">{'\n'}… the rest is in the download</span>}
      </pre>
    );
  const src = `data:${p.mime};base64,${p.base64}`;
  if (p.kind === 'image') return <img className="preview-image" src={src} alt={`Preview of ${fileName}`} />;
  return <audio className="preview-audio" controls preload="metadata" src={src} aria-label={`Play ${fileName}`} />;
}
