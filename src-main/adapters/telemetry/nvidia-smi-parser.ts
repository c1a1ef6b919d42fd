import type { GpuSnapshot } from '../../../contracts/telemetry.js';

/** The exact queries the collector makes; the fake nvidia-smi in test/fixtures answers these. */
export const GPU_FIELDS = [
  'index',
  'uuid',
  'name',
  'memory.total',
  'memory.used',
  'memory.free',
  'utilization.gpu',
  'temperature.gpu',
  'power.draw',
  'power.limit',
] as const;
export const APP_FIELDS = ['timestamp', 'gpu_uuid', 'pid', 'process_name', 'used_memory'] as const;

export const GPU_QUERY_ARGS = [`--query-gpu=${GPU_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];
export const APP_QUERY_ARGS = [`--query-compute-apps=${APP_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];

export type GpuRow = Omit<GpuSnapshot, 'processes'>;
export interface AppRow {
  /** The sample this row belongs to, as nvidia-smi stamps it ("2026/11/29 10:00:00.123"). */
  timestamp: string;
  gpuUuid: string;
  pid: number;
  name: string;
  usedMB: number | null;
}

/** "[N/A]", "[Not Supported]", "N/A", "" and the like are no reading. */
function num(s: string | undefined): number | null {
  if (s === undefined) return null;
  const t = s.trim();
  if (t === '' || t.startsWith('[') || /^n\/?a$/i.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

/** Splits a csv,noheader row; the field at `textIndex` (a name) may itself hold ", ". */
function split(line: string, count: number, textIndex: number): string[] | null {
  const parts = line.split(', ');
  if (parts.length < count) return null;
  if (parts.length > count) {
    const extra = parts.length - count;
    parts.splice(textIndex, extra + 1, parts.slice(textIndex, textIndex + extra + 1).join(', '));
  }
  return parts.map((p) => p.trim());
}

export interface ParseResult<T> {
  rows: T[];
  /** Lines that were not rows: driver errors, warnings. */
  problems: string[];
}

export function parseGpuCsv(text: string): ParseResult<GpuRow> {
  const rows: GpuRow[] = [];
  const problems: string[] = [];
  for (const line of text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    const f = split(line, GPU_FIELDS.length, 2);
    const index = f ? num(f[0]) : null;
    const total = f ? num(f[3]) : null;
    const used = f ? num(f[4]) : null;
    if (!f || index === null || !/^GPU-|^MIG-/.test(f[1] ?? '')) {
      problems.push(line);
      continue;
    }
    if (total === null || used === null) {
      // A GPU that does not report its memory (the GB10's unified memory, MIG rows in a restricted
      // container): listed, with its memory unknown, so nothing is scheduled on its VRAM.
      rows.push({
        index,
        uuid: f[1]!,
        name: f[2]!,
        totalMB: 0,
        usedMB: 0,
        freeMB: 0,
        utilizationPct: num(f[6]),
        temperatureC: num(f[7]),
        powerW: num(f[8]),
        powerLimitW: num(f[9]),
        memoryUnknown: true,
      });
      continue;
    }
    rows.push({
      index,
      uuid: f[1]!,
      name: f[2]!,
      totalMB: total,
      usedMB: used,
      freeMB: num(f[5]) ?? total - used,
      utilizationPct: num(f[6]),
      temperatureC: num(f[7]),
      powerW: num(f[8]),
      powerLimitW: num(f[9]),
    });
  }
  return { rows, problems };
}

export function parseAppsCsv(text: string): ParseResult<AppRow> {
  const rows: AppRow[] = [];
  const problems: string[] = [];
  for (const line of text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    if (/^no running (compute )?processes found$/i.test(line)) continue;
    const f = split(line, APP_FIELDS.length, 3);
    const pid = f ? num(f[2]) : null;
    if (!f || pid === null) {
      problems.push(line);
      continue;
    }
    rows.push({ timestamp: f[0]!, gpuUuid: f[1]!, pid, name: f[3]!, usedMB: num(f[4]) });
  }
  return { rows, problems };
}
