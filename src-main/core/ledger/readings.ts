import type { NodeSnapshot, RunningUsage } from '../model/node.js';

interface Reading {
  at: number;
  mb: number;
}

/**
 * Reconciles nvidia-smi's two readings of a GPU's memory. The GPU-wide figure (`--query-gpu`)
 * and each process's (`--query-compute-apps`) come from two loops, so a snapshot pairs samples
 * that may be a few intervals apart. While a model loads, subtracting a per-process reading newer
 * than the GPU-wide one would hide what other programs hold; one older than it, right after a
 * task frees memory, would do the same. So what other programs hold is estimated per sample as
 *
 *   GPU-wide used − Σ over our tasks of the least each was read at within the window,
 *
 * (never less than what other programs are listed with; a task's readings count from the first
 * that shows it using memory), and the estimate used is the largest
 * of those samples within the window, plus the newest sample older than it (with a window of 0:
 * the latest sample alone). With a window at
 * least as long as the two loops can be apart, a task whose use only grows until it stops (a
 * model load), or only shrinks, is never subtracted for more than it held at the GPU-wide
 * sample's moment: the estimate never falls below what other programs really hold. Each of our
 * tasks is counted, separately, at the larger of its reservation and its latest reading, so no
 * task is counted twice once its readings agree: two tasks that fit run together from the start.
 *
 * Runs present before the first sample (adopted at start) have no history to pair with; their
 * readings are not subtracted until a whole window has been seen.
 *
 * A resident server's processes are other programs' in each sample, but what one holds for our
 * tasks that drive it is theirs (see Ledger.served): each sample keeps what the server was listed
 * with, and the estimate takes off, per sample, no more than that and no more than those tasks
 * reserve now. So a process list newer than the GPU-wide figure (the model loading) takes the
 * model off only the sample that cannot show it, and the older samples keep what the desktop
 * holds; a model loaded before its task started is credited at once.
 */
export class Readings {
  /** Per GPU: the estimate of what others hold, per sample, oldest first. */
  private readonly samples = new Map<number, { at: number; foreignMB: number; residents: ReadonlyMap<string, number> }[]>();
  /** Per run, per GPU: its own readings within the window, oldest first. */
  private readonly perRun = new Map<number, Map<number, Reading[]>>();
  private firstAt: number | null = null;
  private readonly unpaired = new Set<number>();

  constructor(private readonly windowMs: () => number) {}

  added(taskId: number): void {
    if (this.firstAt === null) this.unpaired.add(taskId);
  }

  deleted(taskId: number): void {
    this.perRun.delete(taskId);
    this.unpaired.delete(taskId);
  }

  /** `residents`: per GPU, what each resident server's processes are listed with in this snapshot. */
  observe(node: NodeSnapshot, runs: Iterable<RunningUsage>, now: number, residents: ReadonlyMap<number, ReadonlyMap<string, number>> = new Map()): void {
    const w = this.windowMs();
    if (this.firstAt === null) this.firstAt = now;
    const paired = now - this.firstAt >= w;
    if (paired) this.unpaired.clear();
    const list = [...runs].filter((r) => r.pgid !== null);
    const ours = new Set(list.map((r) => r.pgid));
    for (const g of node.gpus) {
      let listedForeign = 0;
      const byGroup = new Map<number, number>();
      for (const p of g.processes ?? []) {
        const mb = p.usedMB ?? 0;
        if (p.pgid != null && ours.has(p.pgid)) byGroup.set(p.pgid, (byGroup.get(p.pgid) ?? 0) + mb);
        else listedForeign += mb;
      }
      let low = 0;
      // Without per-process readings nothing on this GPU is known to be ours: all of it is foreign.
      if (g.processes !== null) {
        for (const r of list) {
          const mb = byGroup.get(r.pgid!) ?? 0;
          const readings = this.readingsOf(r.taskId, g.index);
          // Until it is first seen using memory here there is nothing to subtract: the samples
          // from before its start keep the estimate up while its readings disagree.
          if (mb === 0 && readings.length === 0) continue;
          readings.push({ at: now, mb });
          trim(readings, now - w, false);
          if (!this.unpaired.has(r.taskId)) low += Math.min(...readings.map((x) => x.mb));
        }
      }
      const series = this.samples.get(g.index) ?? [];
      series.push({ at: now, foreignMB: Math.max(0, g.usedMB - low, listedForeign), residents: residents.get(g.index) ?? new Map() });
      trim(series, now - w, true);
      this.samples.set(g.index, series);
    }
  }

  /**
   * The estimate for each GPU as of `now`: the largest within the window (and the newest before
   * it), each sample less what resident servers held there for our tasks, up to `reserved` (per
   * GPU, per server: what the running tasks that drive it reserve there).
   */
  foreign(now: number, reserved: ReadonlyMap<number, ReadonlyMap<string, number>> = new Map()): Map<number, number> {
    const w = this.windowMs();
    const from = now - w;
    const out = new Map<number, number>();
    for (const [index, series] of this.samples) {
      const cap = reserved.get(index);
      let most = 0;
      for (let i = series.length - 1; i >= 0; i--) {
        let served = 0;
        if (cap) for (const [kind, mb] of cap) served += Math.min(mb, series[i]!.residents.get(kind) ?? 0);
        most = Math.max(most, series[i]!.foreignMB - served);
        if (series[i]!.at < from || w === 0) break;
      }
      out.set(index, most);
    }
    return out;
  }

  private readingsOf(taskId: number, gpu: number): Reading[] {
    let byGpu = this.perRun.get(taskId);
    if (!byGpu) this.perRun.set(taskId, (byGpu = new Map()));
    let list = byGpu.get(gpu);
    if (!list) byGpu.set(gpu, (list = []));
    return list;
  }
}

/** Drops what is older than `from`, keeping the newest one older than it when `keepOne`. */
function trim(list: { at: number }[], from: number, keepOne: boolean): void {
  let drop = 0;
  while (drop < list.length - 1 && list[drop]!.at < from) drop++;
  if (keepOne && drop > 0 && list[drop]!.at >= from) drop--;
  if (drop > 0) list.splice(0, drop);
}
