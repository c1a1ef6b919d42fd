/** The agents that take a file, by its extension ("*" takes any file). */
export function agentsFor(fileName: string, agents: readonly { name: string; accepts: readonly string[] }[]): string[] {
  const dot = fileName.lastIndexOf('.');
  const ext = dot > 0 ? fileName.slice(dot).toLowerCase() : '';
  const exact = agents.filter((a) => ext !== '' && a.accepts.includes(ext)).map((a) => a.name);
  const any = agents.filter((a) => a.accepts.includes('*') && !exact.includes(a.name)).map((a) => a.name);
  return [...exact, ...any];
}

export interface DroppedItem {
  name: string;
  size: number;
  kind: 'file' | 'folder';
}

/** What a drop means, before anything is submitted: the files, what takes them, what cannot go. */
export function planDrop(items: readonly DroppedItem[], agents: readonly { name: string; accepts: readonly string[] }[]) {
  if (items.length === 0) return { error: 'Nothing was dropped. Drop one or more files from your file manager.' } as const;
  const folders = items.filter((i) => i.kind === 'folder').map((i) => i.name);
  const files = items.filter((i) => i.kind === 'file');
  const matched = files.map((f) => ({ ...f, agents: agentsFor(f.name, agents) }));
  const unaccepted = matched.filter((f) => f.agents.length === 0).map((f) => f.name);
  const accepted = matched.filter((f) => f.agents.length > 0);
  const notes: string[] = [];
  if (folders.length) notes.push(`Folders are not taken (${folders.join(', ')}): drop the files in them instead.`);
  if (unaccepted.length) notes.push(`No agent takes ${unaccepted.join(', ')}.`);
  const empty = accepted.filter((f) => f.size === 0).map((f) => f.name);
  if (empty.length) notes.push(`${empty.join(', ')} ${empty.length === 1 ? 'is' : 'are'} empty (0 bytes): an agent may have nothing to work on.`);
  if (accepted.length === 0) return { error: notes.join(' ') || 'No agent takes these files.' } as const;
  return { files: accepted, notes } as const;
}
