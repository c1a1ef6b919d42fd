import type { ClusterNode } from '../../core/ports.js';
import type { SlurmCli } from './cli.js';

/** A node in one of these states (or with one of these flags) takes no new job now. */
const UNUSABLE = new Set([
  'DOWN',
  'DRAIN',
  'DRAINED',
  'DRAINING',
  'FAIL',
  'FAILING',
  'MAINT',
  'NOT_RESPONDING',
  'NO_RESPOND',
  'POWERED_DOWN',
  'POWER_DOWN',
  'POWERING_DOWN',
  'POWERING_UP',
  'REBOOT_REQUESTED',
  'REBOOT_ISSUED',
  'RESERVED',
  'FUTURE',
  'UNKNOWN',
  'INVALID',
]);

/** 23.02+ wraps numbers as {set, infinite, number}. */
function num(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (v && typeof v === 'object' && 'number' in v) {
    const o = v as { set?: boolean; number?: unknown };
    return o.set === false ? null : typeof o.number === 'number' ? o.number : null;
  }
  return null;
}

/**
 * How many GPUs a GRES string names: "gpu:1", "gpu:l40s:4(S:0-1)", "gpu:a100:2(IDX:0,2),tmpsize:7T".
 * The parentheses (sockets, indices) may hold commas of their own: they go first.
 */
export function gpuCount(gres: unknown): number {
  if (typeof gres !== 'string') return 0;
  let n = 0;
  for (const item of gres.replace(/\([^)]*\)/g, '').split(',')) {
    const m = /^gpu(?::[A-Za-z][\w.-]*)?:(\d+)$/.exec(item.trim());
    if (m) n += Number(m[1]);
  }
  return n;
}

/** A nested field of a JSON document (undefined where any step is missing). */
function at(o: unknown, ...path: string[]): unknown {
  let v = o;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function usable(states: readonly string[]): boolean {
  const s = states.map((x) => x.toUpperCase().replace(/[*~#$@!%+^-]+$/, ''));
  return s.some((x) => x === 'IDLE' || x === 'MIXED') && !s.some((x) => UNUSABLE.has(x));
}

/**
 * `sinfo -N --json`: what each node has free now. 22.05 lists `nodes` (idle_cpus, real_memory,
 * alloc_memory, gres, gres_used, state and state_flags); 23.02+ lists `sinfo`, one entry per node
 * and partition with -N (cpus.idle, memory.maximum and .allocated, gres.total and .used, node.state).
 * Both are read; a node listed under several partitions comes back once, with all of them.
 */
export function parseSinfoJson(out: string): ClusterNode[] {
  let doc: { nodes?: unknown; sinfo?: unknown; errors?: unknown };
  try {
    doc = JSON.parse(out) as typeof doc;
  } catch {
    throw new Error(`sinfo --json printed something that is not JSON: ${out.slice(0, 120)}`);
  }
  const errors = Array.isArray(doc.errors) ? doc.errors : [];
  if (errors.length > 0) {
    const e = errors[0] as { error?: unknown; description?: unknown };
    throw new Error(`sinfo: ${[e.error, e.description].filter((x) => typeof x === 'string' && x !== '').join(': ') || JSON.stringify(e)}`);
  }
  const byName = new Map<string, ClusterNode>();
  const add = (n: ClusterNode): void => {
    const seen = byName.get(n.name);
    if (seen) seen.partitions = [...new Set([...seen.partitions, ...n.partitions])];
    else byName.set(n.name, n);
  };
  if (Array.isArray(doc.nodes)) {
    for (const raw of doc.nodes as Record<string, unknown>[]) {
      const flags = Array.isArray(raw.state_flags) ? raw.state_flags.map(String) : [];
      const real = num(raw.real_memory) ?? 0;
      add({
        name: String(raw.name ?? ''),
        partitions: Array.isArray(raw.partitions) ? raw.partitions.map(String) : [],
        usable: usable([String(raw.state ?? ''), ...flags]),
        idleCpus: num(raw.idle_cpus) ?? 0,
        freeMemoryMB: Math.max(0, real - (num(raw.alloc_memory) ?? 0)),
        freeGpus: Math.max(0, gpuCount(raw.gres) - gpuCount(raw.gres_used)),
      });
    }
  } else if (Array.isArray(doc.sinfo)) {
    for (const raw of doc.sinfo as Record<string, unknown>[]) {
      const names = list(at(raw, 'nodes', 'nodes'));
      // Without -N one entry may stand for several nodes: its figures are their sum, so it is skipped.
      if (names.length !== 1) continue;
      const total = num(at(raw, 'memory', 'maximum')) ?? 0;
      const part = at(raw, 'partition', 'name');
      add({
        name: String(names[0]),
        partitions: typeof part === 'string' ? [part] : [],
        usable: usable(list(at(raw, 'node', 'state')).map(String)),
        idleCpus: num(at(raw, 'cpus', 'idle')) ?? 0,
        freeMemoryMB: Math.max(0, total - (num(at(raw, 'memory', 'allocated')) ?? 0)),
        freeGpus: Math.max(0, gpuCount(at(raw, 'gres', 'total')) - gpuCount(at(raw, 'gres', 'used'))),
      });
    }
  } else throw new Error('sinfo --json printed neither a "nodes" nor a "sinfo" list');
  return [...byName.values()].filter((n) => n.name !== '');
}

/** The cluster's default partition, from `scontrol show partition -o` (Default=YES); null: none said. */
export function defaultPartition(out: string): string | null {
  for (const line of out.split('\n')) {
    const name = /(?:^|\s)PartitionName=(\S+)/.exec(line)?.[1];
    if (name && /(?:^|\s)Default=YES(?:\s|$)/.test(line)) return name;
  }
  return null;
}

/**
 * What the cluster has free for a job now, in the partitions its jobs go to (the setting's, else
 * the cluster's default): one `sinfo -N --json` per ask. Throws when the cluster cannot say.
 */
export class SlurmCapacity {
  private defaultPart: string | null = null;

  constructor(
    private readonly cli: SlurmCli,
    /** slurmPartition as set (sbatch takes a comma-separated list); null: the default. */
    private readonly partition: string | null,
  ) {}

  async partitions(): Promise<string[]> {
    if (this.partition) return this.partition.split(',').filter(Boolean);
    if (this.defaultPart === null) {
      const r = await this.cli.run('scontrol', ['show', 'partition', '-o']);
      if (!r.ok) throw new Error(`scontrol show partition: ${r.message}`);
      this.defaultPart = defaultPartition(r.stdout) ?? '';
    }
    return this.defaultPart ? [this.defaultPart] : [];
  }

  async freeNodes(): Promise<ClusterNode[]> {
    const parts = await this.partitions();
    const r = await this.cli.run('sinfo', ['-N', '--json']);
    if (!r.ok) throw new Error(`sinfo: ${r.message}`);
    const nodes = parseSinfoJson(r.stdout);
    // No default partition said: any partition will do.
    return parts.length === 0 ? nodes : nodes.filter((n) => n.partitions.some((p) => parts.includes(p)));
  }
}
