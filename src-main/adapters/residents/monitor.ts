import { RESIDENT_KINDS, RESIDENT_LABELS, sameModel, type ResidentKind, type ResidentPolicy } from '../../../contracts/residents.js';
import type { NodeSnapshot } from '../../core/model/node.js';
import type { Logger, ResidentPort, ResidentSnapshot } from '../../core/ports.js';
import { readProcStat } from '../process/proc-stat.js';
import { CLIENTS, ollamaVramEstimateMB, type Polled, type ResidentClient } from './clients.js';
import { ResidentHttpError } from './http-json.js';
import { findListener, stillThere, withDescendants } from './listener.js';

export type ResidentConfig = Record<ResidentKind, { url: string; policy: ResidentPolicy }>;

export interface MonitorOptions {
  /** How often each resident is asked what it holds (default 2 s). */
  pollMs?: number;
  /** Every call's deadline (default 1.5 s): a resident that answers slowly or never holds nothing up. */
  timeoutMs?: number;
  logger: Logger;
  now?: () => number;
}

interface Entry {
  kind: ResidentKind;
  client: ResidentClient;
  url: string;
  policy: ResidentPolicy;
  state: ResidentSnapshot['state'];
  message: string | null;
  polled: Polled | null;
  lastActiveAt: number | null;
  lastActivity: string | null;
  failures: number;
  timer: NodeJS.Timeout | null;
  polling: boolean;
  /** Bumped when its URL changes: an answer to an older URL's poll is dropped. */
  generation: number;
  listener: { pid: number; startTime: string } | null;
  searchedAt: number;
  pids: number[];
}

const MAX_BACKOFF_MS = 60_000;
const LISTENER_SEARCH_EVERY_MS = 10_000;

/**
 * The residents (Ollama, ComfyUI, llama-server), each polled on its own timer through its own
 * HTTP API, every call with a deadline; a failing one is retried with backoff and shows as a
 * status, and the Manager goes on treating its VRAM as any other program's. Its processes are
 * found by the socket listening on its port (and their children), or by process name.
 */
export class ResidentMonitor implements ResidentPort {
  private readonly entries = new Map<ResidentKind, Entry>();
  private readonly listeners = new Set<() => void>();
  private stopped = false;
  private readonly pollMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;

  constructor(
    config: ResidentConfig,
    private readonly o: MonitorOptions,
  ) {
    this.pollMs = o.pollMs ?? 2000;
    this.timeoutMs = o.timeoutMs ?? 1500;
    this.now = o.now ?? Date.now;
    for (const kind of RESIDENT_KINDS) this.entries.set(kind, this.fresh(kind, config[kind].url, config[kind].policy, 0));
  }

  start(): void {
    for (const e of this.entries.values()) this.schedule(e, 0);
  }

  stop(): void {
    this.stopped = true;
    for (const e of this.entries.values()) if (e.timer) clearTimeout(e.timer);
  }

  /** Applies changed URLs and policies at once (a changed URL starts over: polled now). */
  configure(config: ResidentConfig): void {
    for (const kind of RESIDENT_KINDS) {
      const e = this.entries.get(kind)!;
      const next = config[kind];
      if (next.url !== e.url) {
        if (e.timer) clearTimeout(e.timer);
        const f = this.fresh(kind, next.url, next.policy, e.generation + 1);
        this.entries.set(kind, f);
        this.schedule(f, 0);
      } else e.policy = next.policy;
    }
    this.changed();
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  current(node: NodeSnapshot): ResidentSnapshot[] {
    const out: ResidentSnapshot[] = [];
    for (const e of this.entries.values()) {
      if (e.url === '') continue;
      const perGpu = new Map<number, number>();
      const pids = new Set(e.pids);
      for (const g of node.gpus) {
        for (const p of g.processes ?? []) {
          if (!pids.has(p.pid) && !(e.client.processName?.test(p.name) ?? false)) continue;
          pids.add(p.pid);
          perGpu.set(g.index, (perGpu.get(g.index) ?? 0) + (p.usedMB ?? 0));
        }
      }
      // Its processes not in nvidia-smi's list (a container, another user): what it reports, where
      // that can be placed on a GPU. A guess only decides whether to ask; what starts waits for
      // telemetry to show the memory free.
      if (perGpu.size === 0 && e.polled) {
        if (e.polled.reportedByGpu) for (const [g, mb] of e.polled.reportedByGpu) perGpu.set(g, mb);
        else if (node.gpus.length === 1) {
          const mb = e.polled.models.reduce((a, m) => a + (m.vramMB ?? 0), 0);
          if (mb > 0) perGpu.set(node.gpus[0]!.index, mb);
        }
      }
      out.push({
        kind: e.kind,
        label: RESIDENT_LABELS[e.kind],
        url: e.url,
        policy: e.policy,
        state: e.state,
        message: e.message ?? e.polled?.note ?? null,
        reachable: e.state === 'ok',
        busy: e.polled?.busy ?? false,
        lastActiveAt: e.lastActiveAt,
        models: e.polled?.models ?? [],
        perModel: e.client.perModel,
        unloadable: e.polled?.unloadable ?? false,
        perGpuMB: perGpu,
        pids: [...pids].sort((a, b) => a - b),
      });
    }
    return out;
  }

  modelVramMB(kind: ResidentKind, model: string): number | null {
    const polled = this.entries.get(kind)?.polled;
    if (!polled) return null;
    const loaded = polled.models.find((m) => sameModel(m.name, model));
    if (loaded?.vramMB) return loaded.vramMB;
    const weights = [...(polled.available ?? [])].find(([name]) => sameModel(name, model))?.[1];
    return weights ? ollamaVramEstimateMB(weights) : null;
  }

  unload(kind: ResidentKind, models: string[] | null): void {
    const e = this.entries.get(kind);
    if (!e || e.url === '') return;
    const generation = e.generation;
    e.client.unload(e.url, models, this.timeoutMs).then(
      () => {
        if (this.entries.get(kind)?.generation === generation) this.schedule(e, 250);
      },
      (err: unknown) => {
        this.o.logger.warn(`${RESIDENT_LABELS[kind]} did not take the unload`, { error: err instanceof Error ? err.message : String(err) });
        if (this.entries.get(kind)?.generation === generation) this.schedule(e, 250);
      },
    );
  }

  private fresh(kind: ResidentKind, url: string, policy: ResidentPolicy, generation: number): Entry {
    return {
      kind,
      client: CLIENTS[kind],
      url,
      policy,
      state: 'unreachable',
      message: url === '' ? null : 'not asked yet',
      polled: null,
      lastActiveAt: null,
      lastActivity: null,
      failures: 0,
      timer: null,
      polling: false,
      generation,
      listener: null,
      searchedAt: -Infinity,
      pids: [],
    };
  }

  private schedule(e: Entry, ms: number): void {
    if (this.stopped || e.url === '') return;
    if (e.timer) clearTimeout(e.timer);
    e.timer = setTimeout(() => {
      e.timer = null;
      void this.poll(e);
    }, ms);
    e.timer.unref();
  }

  private async poll(e: Entry): Promise<void> {
    if (e.polling) return;
    e.polling = true;
    const generation = e.generation;
    let polled: Polled | null = null;
    let failure: ResidentHttpError | null = null;
    try {
      polled = await e.client.poll(e.url, this.timeoutMs);
    } catch (err) {
      failure = err instanceof ResidentHttpError ? err : new ResidentHttpError(err instanceof Error ? err.message : String(err), 'error');
    } finally {
      e.polling = false;
    }
    if (this.stopped || this.entries.get(e.kind) !== e || e.generation !== generation) return;
    const before = JSON.stringify([e.state, e.polled, e.lastActiveAt, e.pids]);
    const now = this.now();
    if (polled) {
      // Activity: busy now, a model newly loaded, or (Ollama) a model's expiry moved by a request.
      const loadedMore = polled.models.some((m) => !(e.polled?.models ?? []).some((x) => x.name === m.name));
      const served = polled.activity !== null && e.lastActivity !== null && polled.activity !== e.lastActivity;
      if (polled.busy || loadedMore || served) e.lastActiveAt = now;
      e.lastActivity = polled.activity;
      e.polled = polled;
      e.state = 'ok';
      e.message = null;
      e.failures = 0;
      this.findPids(e, now);
      this.schedule(e, this.pollMs);
    } else {
      e.failures += 1;
      const wait = Math.min(MAX_BACKOFF_MS, this.pollMs * 2 ** e.failures);
      if (e.state === 'ok' || e.failures === 1)
        this.o.logger.warn(`${RESIDENT_LABELS[e.kind]} is not answering; its VRAM counts as any other program's`, { error: failure!.message });
      e.state = failure!.kind;
      e.message = `${failure!.message}; tried again in ${Math.round(wait / 1000)} s`;
      e.polled = null;
      e.lastActivity = null;
      this.schedule(e, wait);
    }
    if (JSON.stringify([e.state, e.polled, e.lastActiveAt, e.pids]) !== before) this.changed();
  }

  /** Its server process (listening on its port) and that one's children; the search is cached. */
  private findPids(e: Entry, now: number): void {
    if (e.listener && !stillThere(e.listener.pid, e.listener.startTime)) e.listener = null;
    if (!e.listener && now - e.searchedAt >= LISTENER_SEARCH_EVERY_MS) {
      e.searchedAt = now;
      const pid = findListener(portOf(e.url));
      const st = pid === null ? null : readProcStat(pid);
      if (pid !== null && st) e.listener = { pid, startTime: st.startTime };
    }
    e.pids = e.listener ? withDescendants(e.listener.pid) : [];
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }
}

function portOf(url: string): number {
  const u = new URL(url);
  return u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
}
