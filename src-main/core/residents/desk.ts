import type { FreeVramResult, ResidentKind, ResidentView } from '../../../contracts/residents.js';
import type { Ledger } from '../ledger/ledger.js';
import type { Clock, Logger, ResidentPort, ResidentSnapshot, TaskStore, TelemetrySource } from '../ports.js';
import { DEFAULT_RESIDENT_IDLE_MS } from '../scheduler/loop.js';
import { askMB, holderNames, residentViews, type FreePlan, type UnloadAsk } from './ladder.js';

export interface ResidentDeskDeps {
  residents?: ResidentPort;
  telemetry: TelemetrySource;
  ledger: Ledger;
  store: TaskStore;
  clock: Clock;
  logger: Logger;
  idleMs: () => number | undefined;
}

/**
 * The Manager's side of the residents (Ollama, ComfyUI, llama-server): their last snapshot matched
 * to telemetry, which of our running tasks each is serving (those it is never asked to unload
 * under, and whose VRAM counts as theirs), the unloads the ladder and `pause --free-vram` ask for,
 * and the views.
 */
/** Activity a resident shows this soon after one of our tasks stopped driving it was that task's. */
const OURS_SLACK_MS = 5000;

export class ResidentDesk {
  private snaps: ResidentSnapshot[] = [];
  /** When each resident was last seen serving one of our tasks. */
  private readonly servedUntil = new Map<ResidentKind, number>();

  constructor(private readonly deps: ResidentDeskDeps) {}

  get enabled(): boolean {
    return this.deps.residents !== undefined;
  }

  private get idleMs(): number {
    return this.deps.idleMs() ?? DEFAULT_RESIDENT_IDLE_MS;
  }

  /** Reads the residents against the latest telemetry, and names their processes for the explanations. */
  refresh(): void {
    const port = this.deps.residents;
    if (!port) return;
    this.snaps = port.current(this.deps.telemetry.current());
    this.deps.ledger.setResidents(this.snaps);
    this.deps.ledger.setHolders(holderNames(this.list(), this.deps.clock.now(), this.idleMs));
  }

  /**
   * Each resident, with the running tasks of ours it serves now (read live from the ledger). What
   * it did for them is not the person's activity: a model one of our tasks left loaded may be
   * freed at once for the next task, without waiting out the idle time meant for the person.
   */
  list(): ResidentSnapshot[] {
    const now = this.deps.clock.now();
    const serving = new Map<ResidentKind, number[]>();
    for (const r of this.deps.ledger.running()) {
      if (!r.drives) continue;
      serving.set(r.drives, [...(serving.get(r.drives) ?? []), r.taskId]);
      this.servedUntil.set(r.drives, now);
    }
    return this.snaps.map((s) => {
      const tasks = serving.get(s.kind);
      if (tasks) return { ...s, serving: tasks };
      const ours = this.servedUntil.get(s.kind);
      // The server notices a request's end a poll or two later: activity that soon after was ours.
      if (ours !== undefined && s.lastActiveAt !== null && s.lastActiveAt <= ours + OURS_SLACK_MS) return { ...s, lastActiveAt: null };
      return s;
    });
  }

  /** What the server reports a model needs in VRAM (MB), for a task that names it; null when it cannot say. */
  modelVramMB(kind: ResidentKind, model: string): number | null {
    return this.deps.residents?.modelVramMB?.(kind, model) ?? null;
  }

  /** Its URL as configured, for an agent that drives it; null when that integration is off. */
  url(kind: ResidentKind): string | null {
    return this.snaps.find((s) => s.kind === kind)?.url ?? null;
  }

  /** The first rung of the ladder: asks a resident to unload, and says so on the waiting task. */
  askUnload(ask: UnloadAsk, plan: FreePlan): void {
    const mb = Math.round(askMB(ask));
    this.deps.residents!.unload(ask.kind, ask.models);
    this.deps.store.addEvent(plan.forTask, null, 'freeing', { resident: ask.kind, models: ask.models, mb }, this.deps.clock.now());
    this.deps.logger.info('asked a resident to unload, to make room for a waiting task', {
      resident: ask.label,
      models: ask.models ?? 'all',
      mb,
      task: plan.forTask,
    });
  }

  /** `pause --free-vram`'s last step: every resident holding VRAM asked to unload, unless it may not be. */
  freeAll(): FreeVramResult['residents'] {
    const out: FreeVramResult['residents'] = [];
    for (const s of this.list()) {
      const vramMB = Math.round([...s.perGpuMB.values()].reduce((a, b) => a + b, 0) || s.models.reduce((a, m) => a + (m.vramMB ?? 0), 0));
      if (s.models.length === 0 && vramMB === 0) continue;
      const why = !s.reachable
        ? 'it does not answer'
        : s.policy === 'never'
          ? 'its policy is never'
          : !s.unloadable
            ? 'its API cannot unload models'
            : s.serving && s.serving.length > 0
              ? `it is serving task ${s.serving.join(', ')}, which runs on`
              : null;
      if (why === null) this.deps.residents!.unload(s.kind, null);
      out.push({ kind: s.kind, label: s.label, vramMB, asked: why === null, why });
    }
    return out;
  }

  views(unloading: FreePlan | null): ResidentView[] {
    return residentViews(this.list(), this.deps.clock.now(), this.idleMs, unloading);
  }
}
