import { z } from 'zod';

/**
 * What the UI can show of an artifact inline, from its file's own extension (never its label,
 * never its contents: an artifact is served as a download, and previewed only as these kinds).
 * HTML and other active formats are not previewed.
 */
export type PreviewKind = 'image' | 'audio' | 'text' | 'none';

const IMAGE: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  bmp: 'image/bmp',
};
const AUDIO: Record<string, string> = {
  wav: 'audio/wav',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
  opus: 'audio/ogg',
  oga: 'audio/ogg',
  flac: 'audio/flac',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
};
const TEXT = new Set(['txt', 'md', 'json', 'jsonl', 'csv', 'tsv', 'log', 'yaml', 'yml', 'toml', 'xml', 'srt', 'vtt', 'sha256', 'py', 'sh', 'ini', 'cfg']);

/** The largest image or sound shown inline, and how much of a text file. */
export const PREVIEW_MAX_BYTES = 16 * 1024 * 1024;
export const PREVIEW_TEXT_BYTES = 64 * 1024;

/** The file's own name: the last part of its path (the download name, with its extension). */
export function fileNameOf(path: string): string {
  return path.split(/[\\/]/).pop() || path;
}

export function previewKind(fileName: string): { kind: PreviewKind; mime: string } {
  const dot = fileName.lastIndexOf('.');
  const ext = dot >= 0 ? fileName.slice(dot + 1).toLowerCase() : '';
  if (IMAGE[ext]) return { kind: 'image', mime: IMAGE[ext] };
  if (AUDIO[ext]) return { kind: 'audio', mime: AUDIO[ext] };
  if (TEXT.has(ext)) return { kind: 'text', mime: 'text/plain' };
  return { kind: 'none', mime: 'application/octet-stream' };
}

/** An artifact's inline preview: its bytes as base64 (the start of a text file), or why there is none. */
export const ArtifactPreviewSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.enum(['image', 'audio']), mime: z.string(), base64: z.string(), sizeBytes: z.number().int() }),
  z.object({ kind: z.literal('text'), text: z.string(), truncated: z.boolean(), sizeBytes: z.number().int() }),
  z.object({ kind: z.literal('none'), reason: z.string() }),
]);
export type ArtifactPreview = z.infer<typeof ArtifactPreviewSchema>;

/** One artifact of the recent outputs (the gallery), newest first; `index` is its place in its task's list. */
export const RecentArtifactSchema = z.object({
  taskId: z.number().int(),
  agent: z.string(),
  index: z.number().int(),
  name: z.string(),
  fileName: z.string(),
  kind: z.enum(['image', 'audio', 'text', 'none']),
  sizeBytes: z.number().int(),
  createdAt: z.date(),
});
export type RecentArtifact = z.infer<typeof RecentArtifactSchema>;
