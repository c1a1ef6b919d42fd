import type { ResourceRequest } from '../../../contracts/resources.js';
import type { Pool } from '../ledger/pool.js';
import type { NodeSnapshot, RunningUsage } from '../model/node.js';
import { usageRate } from '../projects/projects.js';
import { fit } from './fit.js';

/** A running task as preemption sees it. */
export interface PreemptCandidate extends RunningUsage {
  priority: number;
  preemptible: boolean;
  startedAt: number;
}

/** What a cycle asks to be preempted, and for whom. */
export interface PreemptPlan {
  forTask: number;
  priority: number;
  victims: number[];
}

/** The work a victim would lose: its elapsed resource-seconds (see projects.ts usageRate). */
export function lostWork(r: PreemptCandidate, now: number): number {
  return (usageRate(r.request) * Math.max(0, now - r.startedAt)) / 1000;
}

/**
 * Who may be preempted for a task of `priority`: preemptible, of lower priority, and running for
 * at least `minRunMs` (so nothing thrashes). A non-preemptible task never is.
 */
export function eligible(running: readonly RunningUsage[], priority: number, now: number, minRunMs: number): PreemptCandidate[] {
  return running.filter(
    (r): r is PreemptCandidate =>
      r.preemptible === true && r.priority !== undefined && r.priority < priority && r.startedAt !== undefined && now - r.startedAt >= minRunMs,
  );
}

/**
 * The cheapest set of candidates whose stop lets `request` fit `pool`: fewest resource-seconds
 * lost. Greedy by lost work, then each one not needed is put back (dearest first). Null when even
 * stopping all of them would not make it fit: then nothing is preempted.
 */
export function chooseVictims(request: ResourceRequest, pool: Pool, node: NodeSnapshot, candidates: readonly PreemptCandidate[], now: number): number[] | null {
  if (candidates.length === 0) return null;
  const fitsWithout = (set: readonly PreemptCandidate[]) => fit(request, released(pool, node, set)).ok;
  if (!fitsWithout(candidates)) return null;
  const byLoss = [...candidates].sort((a, b) => lostWork(a, now) - lostWork(b, now) || b.startedAt - a.startedAt || a.taskId - b.taskId);
  let chosen: PreemptCandidate[] = [];
  for (const c of byLoss) {
    chosen.push(c);
    if (fitsWithout(chosen)) break;
  }
  for (const c of [...chosen].reverse()) {
    const without = chosen.filter((x) => x !== c);
    if (without.length > 0 && fitsWithout(without)) chosen = without;
  }
  return chosen.map((c) => c.taskId).sort((a, b) => a - b);
}

/** The pool as it would be once `gone` have ended: what each holds (reserved or measured, the larger) given back. */
export function released(pool: Pool, node: NodeSnapshot, gone: readonly RunningUsage[]): Pool {
  const p: Pool = {
    ...pool,
    gpus: pool.gpus.map((g) => ({ ...g })),
    perAgent: new Map(pool.perAgent),
    perArray: new Map(pool.perArray),
    perProject: new Map([...pool.perProject].map(([k, v]) => [k, { ...v }])),
  };
  for (const r of gone) {
    p.cpuHeld -= r.request.cpu;
    const mem = Math.max(r.request.memoryMB, r.measuredMemoryMB ?? 0);
    p.memOursMB -= mem;
    p.memFreeMB += mem;
    p.running -= 1;
    p.perAgent.set(r.agent, (p.perAgent.get(r.agent) ?? 1) - 1);
    if (r.array != null) p.perArray.set(r.array, (p.perArray.get(r.array) ?? 1) - 1);
    const use = p.perProject.get(r.project ?? 'default');
    if (use) {
      use.running -= 1;
      use.vramMB -= r.request.gpu ? r.request.gpu.vramMB * r.request.gpu.count : 0;
      use.rate -= usageRate(r.request);
    }
    for (const g of p.gpus) {
      const reserved = r.request.gpu && r.gpus.includes(g.index) ? r.request.gpu.vramMB : 0;
      let measured = 0;
      for (const proc of node.gpus.find((x) => x.index === g.index)?.processes ?? []) if (r.pgid !== null && proc.pgid === r.pgid) measured += proc.usedMB ?? 0;
      const held = Math.max(reserved, measured);
      if (held === 0) continue;
      g.oursMB -= held;
      g.oursTasks -= 1;
      g.freeMB += held;
    }
  }
  return p;
}
