import type { ResidentKind, ResidentPolicy, ResidentView } from '../../../contracts/residents.js';
import type { ResourceRequest } from '../../../contracts/resources.js';
import type { Pool } from '../ledger/pool.js';
import { fit } from '../scheduler/fit.js';
import { seconds } from '../scheduler/format.js';

/** A resident AI server as the core sees it (the adapter fills it from its API and nvidia-smi). */
export interface ResidentState {
  kind: ResidentKind;
  label: string;
  policy: ResidentPolicy;
  /** It answered its last poll. */
  reachable: boolean;
  /** It is working on something now (ComfyUI's queue); servers that cannot say are never busy. */
  busy: boolean;
  /** The last moment it was seen busy or serving a request; null when never. */
  lastActiveAt: number | null;
  /** Its loaded models. */
  models: { name: string; vramMB: number | null }[];
  /** Whether one model can be unloaded at a time (Ollama, llama.cpp); else all go at once (ComfyUI). */
  perModel: boolean;
  /** Whether its API can unload at all (llama-server only in router mode). */
  unloadable: boolean;
  /** What it holds on each GPU now (MB): its processes' readings in nvidia-smi. */
  perGpuMB: ReadonlyMap<number, number>;
  /** Our running tasks it is serving (their agents drive it): it is never asked to unload under them. */
  serving?: readonly number[];
}

/** One unload to ask for: some of a resident's models (all of them when `models` is null), and what it frees. */
export interface UnloadAsk {
  kind: ResidentKind;
  label: string;
  models: string[] | null;
  /** What it should free on each GPU (MB). */
  byGpu: Map<number, number>;
}

/** What a cycle asks residents to free, and for whom. */
export interface FreePlan {
  forTask: number;
  asks: UnloadAsk[];
}

/** Whether a resident may be asked to unload now, under its policy. */
export function mayFree(r: ResidentState, now: number, idleMs: number): boolean {
  if (!r.reachable || !r.unloadable || r.policy === 'never' || total(r.perGpuMB) <= 0) return false;
  if (r.serving && r.serving.length > 0) return false;
  if (r.policy === 'always') return true;
  return !r.busy && (r.lastActiveAt === null || now - r.lastActiveAt >= idleMs);
}

const total = (m: ReadonlyMap<number, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
export const askMB = (a: UnloadAsk): number => total(a.byGpu);

/**
 * The units a resident can be unloaded in: one per model where it unloads models one by one and
 * says what each holds (each model's share of what its processes hold on each GPU), else one for
 * all of it.
 */
export function units(r: ResidentState): UnloadAsk[] {
  const known = r.models.filter((m) => m.vramMB !== null && m.vramMB > 0);
  const sum = known.reduce((a, m) => a + m.vramMB!, 0);
  if (!r.perModel || known.length !== r.models.length || sum <= 0 || r.models.length < 2) {
    return [{ kind: r.kind, label: r.label, models: r.perModel ? r.models.map((m) => m.name) : null, byGpu: new Map(r.perGpuMB) }];
  }
  return known.map((m) => ({
    kind: r.kind,
    label: r.label,
    models: [m.name],
    byGpu: new Map([...r.perGpuMB].map(([g, mb]) => [g, (mb * m.vramMB!) / sum])),
  }));
}

/** The pool once `asks` are done: what they free no longer held by other programs. */
export function afterUnloads(pool: Pool, asks: readonly UnloadAsk[]): Pool {
  const gpus = pool.gpus.map((g) => ({ ...g }));
  for (const a of asks) {
    for (const [index, mb] of a.byGpu) {
      const g = gpus.find((x) => x.index === index);
      if (!g) continue;
      const freed = Math.min(mb, g.foreignMB);
      g.foreignMB -= freed;
      g.freeMB += freed;
    }
  }
  return { ...pool, gpus };
}

/**
 * The cheapest unloads that let `request` fit: smallest first until it fits, then each one not
 * needed put back (largest first), so no model is unloaded that the task does not need gone.
 * Null when unloading everything allowed would still not make it fit: then nothing is asked.
 */
export function chooseUnloads(request: ResourceRequest, pool: Pool, candidates: readonly ResidentState[]): UnloadAsk[] | null {
  const all = candidates.flatMap(units).filter((u) => askMB(u) > 0);
  if (all.length === 0 || !fit(request, afterUnloads(pool, all)).ok) return null;
  const bySize = [...all].sort((a, b) => askMB(a) - askMB(b));
  let chosen: UnloadAsk[] = [];
  for (const u of bySize) {
    chosen.push(u);
    if (fit(request, afterUnloads(pool, chosen)).ok) break;
  }
  for (const u of [...chosen].reverse()) {
    const without = chosen.filter((x) => x !== u);
    if (without.length > 0 && fit(request, afterUnloads(pool, without)).ok) chosen = without;
  }
  return merge(chosen);
}

/** One ask per resident. */
function merge(asks: readonly UnloadAsk[]): UnloadAsk[] {
  const out = new Map<ResidentKind, UnloadAsk>();
  for (const a of asks) {
    const was = out.get(a.kind);
    if (!was) {
      out.set(a.kind, { ...a, byGpu: new Map(a.byGpu), models: a.models ? [...a.models] : null });
      continue;
    }
    was.models = was.models && a.models ? [...was.models, ...a.models] : null;
    for (const [g, mb] of a.byGpu) was.byGpu.set(g, (was.byGpu.get(g) ?? 0) + mb);
  }
  return [...out.values()];
}

/**
 * How each resident's processes are named in explanations, by pid: "Ollama: llama3.1:8b" with
 * "idle 3 min, can be freed".
 */
export function holderNames(
  residents: readonly (ResidentState & { pids: readonly number[] })[],
  now: number,
  idleMs: number,
): Map<number, { name: string; note: string }> {
  const out = new Map<number, { name: string; note: string }>();
  for (const r of residents) {
    const name = r.models.length > 0 ? `${r.label}: ${r.models.map((m) => m.name).join(', ')}` : r.label;
    const serving = r.serving && r.serving.length > 0 ? `serving task ${r.serving.join(', ')}` : null;
    const activity = serving ?? (r.busy ? 'busy' : r.lastActiveAt !== null ? `idle ${seconds(Math.max(0, now - r.lastActiveAt))}` : 'idle');
    const freeing = mayFree(r, now, idleMs)
      ? 'can be freed'
      : serving
        ? 'kept while it does'
        : !r.unloadable
          ? 'its API cannot unload it'
          : r.policy === 'never'
            ? 'kept loaded (policy never)'
            : r.policy === 'when-idle'
              ? `can be freed once idle ${seconds(idleMs)}`
              : 'cannot be freed now';
    for (const pid of r.pids) out.set(pid, { name, note: `${activity}, ${freeing}` });
  }
  return out;
}

/** The residents as the API shows them: what each holds, whether it may be freed now, and whether it is being. */
export function residentViews(
  snaps: readonly (ResidentState & { url: string; state: ResidentView['state']; message: string | null; pids: number[] })[],
  now: number,
  idleMs: number,
  unloading: FreePlan | null,
): ResidentView[] {
  return snaps.map((r) => ({
    kind: r.kind,
    label: r.label,
    url: r.url,
    policy: r.policy,
    state: r.state,
    message: r.message,
    busy: r.busy,
    lastActiveAt: r.lastActiveAt,
    models: r.models,
    vramMB: Math.round(total(r.perGpuMB)),
    pids: r.pids,
    serving: [...(r.serving ?? [])],
    canFree: mayFree(r, now, idleMs),
    freeing: unloading?.asks.some((a) => a.kind === r.kind) ?? false,
  }));
}
