import type { Clock, EventSink, Logger, TaskStore, TimerHandle } from './ports.js';

/** Why the Manager cannot do its work right now, and since when. */
export interface Degraded {
  since: number;
  reason: string;
}

/** How often a degraded Manager tries its store again. */
export const PROBE_MS = 2000;

/**
 * Degraded mode. The work of every timer and event handler runs through `guarded`: a store error
 * there (SQLITE_FULL on a full disk, a read-only file) must not throw out of the timer and end
 * the process. The Manager goes degraded instead: it stops starting tasks, keeps watching the
 * running ones (their ends are kept until they can be written), says why in health and status,
 * and tries the store again every PROBE_MS until it can write; then `onRecovered` carries on.
 */
export class Health {
  private state: Degraded | null = null;
  private probeTimer: TimerHandle | null = null;
  private stopped = false;
  /** Set by the Manager: records what waited (pending ends, progress) and schedules again. */
  onRecovered: () => void = () => {};

  constructor(private readonly deps: { store: TaskStore; clock: Clock; events: EventSink; logger: Logger }) {}

  degraded(): Degraded | null {
    return this.state;
  }

  guarded(what: string, work: () => void): void {
    try {
      work();
    } catch (e) {
      // Only the store's own errors mean "cannot write"; anything else is a bug, said as one.
      if (isStoreError(e)) this.degrade(what, e);
      else this.deps.logger.error(`internal error during ${what}`, { error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.probeTimer) this.deps.clock.clearTimeout(this.probeTimer);
    this.probeTimer = null;
  }

  private degrade(what: string, e: unknown): void {
    const { clock, logger, events } = this.deps;
    const message = e instanceof Error ? e.message : String(e);
    const code = (e as { code?: unknown }).code;
    const reason =
      code === 'SQLITE_FULL'
        ? `the disk is full: the task database cannot be written (${message}); free some space and the Manager carries on by itself`
        : `the task database cannot be written (${message}); the Manager retries every ${PROBE_MS / 1000} s`;
    if (!this.state) {
      this.state = { since: clock.now(), reason };
      logger.error('degraded: not starting tasks until the store can be written', { during: what, error: message });
      events.emit({ type: 'health', degraded: this.state });
    }
    if (!this.probeTimer && !this.stopped) this.probeTimer = clock.setTimeout(() => this.probe(), PROBE_MS);
  }

  private probe(): void {
    this.probeTimer = null;
    if (this.stopped) return;
    try {
      this.deps.store.setSetting('health.probe', this.deps.clock.now());
    } catch (e) {
      this.degrade('probe', e);
      return;
    }
    this.state = null;
    this.deps.logger.info('the store can be written again: carrying on');
    this.deps.events.emit({ type: 'health', degraded: null });
    this.onRecovered();
  }
}

/** An error of the store itself (better-sqlite3's SqliteError codes all start with SQLITE_). */
function isStoreError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_');
}
