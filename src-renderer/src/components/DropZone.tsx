import { useEffect, useState, type ReactNode } from 'react';
import { useEscape } from '../lib/keys.js';
import type { AgentView } from '../../../contracts/agent-manifest.js';
import { authHeaders, inElectron, readable, type Api } from '../api.js';
import { planDrop, type DroppedItem } from '../lib/drop.js';
import { bytes } from '../lib/format.js';
import { href } from '../lib/router.js';
import { useToast } from '../lib/toasts.js';

/** The event the upload button sends with the files chosen (see UploadButton). */
export const CHOSEN_EVENT = 'agentmgr:files-chosen';

/** "Upload files…": a file picker beside drag-and-drop; the files go through the same dialog. */
export function UploadButton() {
  return (
    <label className="button upload" title="Choose files to run through an agent (or drop them anywhere on the window)">
      Upload files…
      <input
        type="file"
        multiple
        className="visually-hidden"
        aria-label="Upload files"
        onChange={(e) => {
          const files = Array.from(e.target.files ?? []);
          e.target.value = ''; // choosing the same file again is a new choice
          if (files.length) window.dispatchEvent(new CustomEvent(CHOSEN_EVENT, { detail: files }));
        }}
      />
    </label>
  );
}

interface Pending {
  files: (DroppedItem & { agents: string[]; file: File })[];
  notes: string[];
}

function electronPath(file: File): string {
  const bridge = (window as { agentmgrFiles?: { pathFor(f: File): string } }).agentmgrFiles;
  const path = bridge?.pathFor(file);
  if (!path) throw new Error(`cannot tell where ${file.name} is on disk`);
  return path;
}

async function upload(file: File, token: string | null): Promise<string> {
  const r = await fetch(`/upload?name=${encodeURIComponent(file.name)}`, {
    method: 'POST',
    headers: { ...authHeaders(token), 'Content-Type': 'application/octet-stream' },
    body: file,
  });
  const body = (await r.json()) as { path?: string; error?: { message: string } };
  if (!r.ok || !body.path) throw new Error(body.error?.message ?? `upload failed (HTTP ${r.status})`);
  return body.path;
}

/**
 * Drop files anywhere on the window: the agents whose `accepts` match are proposed, the person
 * confirms (and can set the priority), and one task is created per file. In a browser the files
 * are uploaded to the Manager first.
 */
export function DropZone({
  api,
  agents,
  loaded,
  token,
  children,
}: {
  api: Api;
  agents: AgentView[];
  loaded: boolean;
  token: string | null;
  children: ReactNode;
}) {
  const toast = useToast();
  const [over, setOver] = useState(false);
  const [pending, setPending] = useState<Pending | null>(null);
  const [choice, setChoice] = useState<Record<string, string>>({});
  const [priority, setPriority] = useState('0');
  const [busy, setBusy] = useState<string | null>(null);
  // Each drop starts from the defaults: the priority set for one drop is not kept for the next.
  const open = (p: Pending) => {
    setChoice(Object.fromEntries(p.files.map((f) => [f.name, f.agents[0]!])));
    setPriority('0');
    setPending(p);
  };
  useEscape(pending !== null && busy === null, () => setPending(null));

  useEffect(() => {
    let depth = 0;
    const enter = (e: DragEvent) => {
      if (!e.dataTransfer?.types.includes('Files')) return;
      e.preventDefault();
      depth++;
      setOver(true);
    };
    const leave = () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) setOver(false);
    };
    const overFn = (e: DragEvent) => {
      if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
    };
    const drop = (e: DragEvent) => {
      e.preventDefault();
      depth = 0;
      setOver(false);
      const dt = e.dataTransfer;
      const items: (DroppedItem & { file: File })[] = [];
      const list = dt ? Array.from(dt.items ?? []) : [];
      if (list.length) {
        for (const it of list) {
          if (it.kind !== 'file') continue;
          const f = it.getAsFile();
          const entry = it.webkitGetAsEntry?.();
          if (!f) continue;
          items.push({ name: f.name, size: f.size, kind: entry?.isDirectory ? 'folder' : 'file', file: f });
        }
      } else for (const f of Array.from(dt?.files ?? [])) items.push({ name: f.name, size: f.size, kind: 'file', file: f });
      take(items);
    };
    // Files chosen with the upload button take the same way as dropped ones.
    const chosen = (e: Event) => take((e as CustomEvent<File[]>).detail.map((f) => ({ name: f.name, size: f.size, kind: 'file' as const, file: f })));
    const take = (items: (DroppedItem & { file: File })[]) => {
      if (!loaded) {
        toast({ kind: 'error', text: 'The list of agents is still loading; drop the files again in a moment.' });
        return;
      }
      if (inElectron() && items.length > 0) {
        void inspectInMain(items);
        return;
      }
      const plan = planDrop(items, agents);
      if ('error' in plan) {
        toast({ kind: 'error', text: plan.error ?? 'No agent takes these files.' });
        return;
      }
      const files = plan.files.map((f) => ({ ...f, file: items.find((i) => i.name === f.name && i.size === f.size)!.file }));
      open({ files, notes: [...plan.notes] });
    };
    window.addEventListener(CHOSEN_EVENT, chosen);
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragleave', leave);
    window.addEventListener('dragover', overFn);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener(CHOSEN_EVENT, chosen);
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('dragover', overFn);
      window.removeEventListener('drop', drop);
    };
  }, [agents, loaded, toast]);

  /** In the desktop app the main process checks each dropped path (regular, readable, links resolved). */
  const inspectInMain = async (items: (DroppedItem & { file: File })[]) => {
    try {
      const paths = items.map((i) => electronPath(i.file));
      const checked = await api.files.inspect.query({ paths });
      const good: (DroppedItem & { file: File })[] = [];
      const notes: string[] = [];
      checked.forEach((c, i) => {
        if (c.ok) good.push({ ...items[i]!, name: c.name, size: c.sizeBytes, kind: 'file', realPath: c.realPath } as DroppedItem & { file: File });
        else notes.push(c.error);
      });
      const plan = planDrop(good, agents);
      if ('error' in plan) {
        toast({ kind: 'error', text: [...notes, plan.error].join(' ') });
        return;
      }
      const files = plan.files.map((f) => {
        const g = good.find((x) => x.name === f.name)!;
        return { ...f, file: g.file, realPath: (g as { realPath?: string }).realPath };
      });
      open({ files, notes: [...notes, ...plan.notes] });
    } catch (e) {
      toast({ kind: 'error', text: readable(e) });
    }
  };

  const confirm = async () => {
    if (!pending) return;
    const pr = Number(priority);
    if (!Number.isInteger(pr) || Math.abs(pr) > 1000) {
      toast({ kind: 'error', text: 'Priority must be a whole number from -1000 to 1000' });
      return;
    }
    const subs = [];
    try {
      for (const [i, f] of pending.files.entries()) {
        setBusy(`Uploading ${f.name} (${i + 1} of ${pending.files.length})…`);
        // In Electron the file stays where it is and its path is passed; a browser uploads it.
        const checked = (f as { realPath?: string }).realPath;
        const path = inElectron() ? (checked ?? electronPath(f.file)) : await upload(f.file, token);
        subs.push({ agent: choice[f.name]!, input: { file: path }, priority: pr, name: f.name });
      }
      setBusy('Submitting…');
      const r = await api.tasks.submitBatch.mutate(subs);
      toast({
        kind: 'success',
        text: `Submitted ${r.count} task${r.count === 1 ? '' : 's'}`,
        href: r.count === 1 ? href({ view: 'task', id: r.ids[0]! }) : href({ view: 'queue' }),
      });
      setPending(null);
    } catch (e) {
      toast({ kind: 'error', text: readable(e) });
    } finally {
      setBusy(null);
    }
  };

  return (
    <>
      {children}
      {over && (
        <div className="drop-overlay" aria-hidden="true">
          <p>Drop files to run them through an agent</p>
        </div>
      )}
      {pending && (
        <div className="modal-back" role="presentation">
          <div className="modal" role="dialog" aria-modal="true" aria-labelledby="drop-title">
            <h2 id="drop-title">
              Run {pending.files.length} file{pending.files.length === 1 ? '' : 's'}
            </h2>
            {pending.notes.map((n) => (
              <p key={n} className="warn">
                {n}
              </p>
            ))}
            <table>
              <thead>
                <tr>
                  <th scope="col">File</th>
                  <th scope="col">Size</th>
                  <th scope="col">Agent</th>
                </tr>
              </thead>
              <tbody>
                {pending.files.map((f) => (
                  <tr key={f.name}>
                    <td>{f.name}</td>
                    <td>{bytes(f.size)}</td>
                    <td>
                      <select
                        aria-label={`Agent for ${f.name}`}
                        value={choice[f.name]}
                        onChange={(e) => setChoice((c) => ({ ...c, [f.name]: e.target.value }))}
                      >
                        {f.agents.map((a) => (
                          <option key={a}>{a}</option>
                        ))}
                      </select>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            <label>
              Priority <input value={priority} onChange={(e) => setPriority(e.target.value)} size={6} aria-label="Priority" />
            </label>
            {busy && <p aria-live="polite">{busy}</p>}
            <div className="actions">
              <button className="link" onClick={() => setPending(null)} disabled={busy !== null}>
                Cancel
              </button>
              <button onClick={() => void confirm()} disabled={busy !== null} autoFocus>
                Create {pending.files.length} task{pending.files.length === 1 ? '' : 's'}
              </button>
            </div>
          </div>
        </div>
      )}
    </>
  );
}
