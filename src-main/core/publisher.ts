import { isTerminal } from './lifecycle/states.js';
import type { Ledger } from './ledger/ledger.js';
import type { TaskRecord } from './model/task.js';
import type { Clock, EventSink, TelemetrySource, TimerHandle } from './ports.js';

/**
 * What the Manager tells its subscribers: each task change (with `task-ended` once a task
 * reaches a terminal state), and the ledger's ResourceView, at most once per `everyMs` (the last
 * change in a burst is always sent).
 */
export class Publisher {
  private lastResourcesAt = -Infinity;
  private resourcesTimer: TimerHandle | null = null;
  private stopped = false;
  private readonly watchers: ((t: TaskRecord) => void)[] = [];

  constructor(
    private readonly deps: { events: EventSink; clock: Clock; telemetry: TelemetrySource; ledger: Ledger },
    private readonly everyMs: () => number,
  ) {}

  task(t: TaskRecord): TaskRecord {
    this.deps.events.emit({ type: 'task', task: t });
    return t;
  }

  /**
   * Calls `fn` with each task announced as ended, or as begun on its first attempt, after the
   * announcement: what the workflow (dependencies) follows.
   */
  watch(fn: (t: TaskRecord) => void): void {
    this.watchers.push(fn);
  }

  /** A task that moved to `t.state` by this write: tells `task-ended` too when that is its end. */
  moved(t: TaskRecord): TaskRecord {
    this.task(t);
    if (isTerminal(t.state)) {
      this.deps.events.emit({ type: 'task-ended', task: t });
      for (const w of this.watchers) w(t);
    }
    return t;
  }

  /** A task that began an attempt by this write. */
  begun(t: TaskRecord): TaskRecord {
    this.task(t);
    if (t.attempts === 1) for (const w of this.watchers) w(t);
    return t;
  }

  resources(): void {
    if (this.stopped || this.resourcesTimer) return;
    const { clock } = this.deps;
    const wait = this.lastResourcesAt + this.everyMs() - clock.now();
    if (wait <= 0) return this.sendResources();
    this.resourcesTimer = clock.setTimeout(() => {
      this.resourcesTimer = null;
      this.sendResources();
    }, wait);
  }

  stop(): void {
    this.stopped = true;
    if (this.resourcesTimer) this.deps.clock.clearTimeout(this.resourcesTimer);
    this.resourcesTimer = null;
  }

  private sendResources(): void {
    if (this.stopped) return;
    const now = this.deps.clock.now();
    this.lastResourcesAt = now;
    this.deps.events.emit({ type: 'resources', view: this.deps.ledger.view(this.deps.telemetry.current(), now) });
  }
}
