import type { YieldingView } from '../../../contracts/person.js';
import type { Clock, EventSink, Logger, PersonPort, TaskStore, TimerHandle } from '../ports.js';
import { DEFAULT_YIELD, PersonYield, type IdleGate, type PersonHold, type YieldConfig } from './yield.js';

/** Idle-only work starts once the person has been away this long, unless set (idleAfterMin). */
export const DEFAULT_IDLE_AFTER_MS = 10 * 60_000;

export const FOCUS_KEY = 'person.focus';

export interface PersonDeskDeps {
  person?: PersonPort;
  store: TaskStore;
  clock: Clock;
  events: EventSink;
  logger: Logger;
  config: () => Partial<YieldConfig> & { freeVram?: boolean; idleAfterMs?: number };
  /** Something changed what may start: schedule again. */
  changed: () => void;
  /** Game mode began with freeVram set: free the GPU (requeue preemptible GPU tasks below the threshold, unload residents). */
  freeVram: (belowPriority: number) => void;
}

/**
 * The Manager's side of yielding to the person: the game watcher's sightings, focus mode (kept
 * in the store, so it survives a restart), a timer for when a hold ends by itself, and the event
 * that tells the tray and the UI.
 */
export class PersonDesk {
  private readonly state = new PersonYield();
  private timer: TimerHandle | null = null;
  private unsubscribe: (() => void) | null = null;
  private last: string | null = null;
  private lastGate: boolean | null = null;
  /** The desktop's idle time (seconds), read at each look; absent: fed through the API (reportIdle). */
  private idleSource: (() => number | null) | null = null;

  constructor(private readonly deps: PersonDeskDeps) {}

  private get cfg(): YieldConfig {
    const c = this.deps.config();
    return { belowPriority: c.belowPriority ?? DEFAULT_YIELD.belowPriority, exitMs: c.exitMs ?? DEFAULT_YIELD.exitMs };
  }

  start(): void {
    const focus = this.deps.store.getSetting<number | 'on' | null>(FOCUS_KEY) ?? null;
    this.state.setFocus(focus === 'on' ? Infinity : typeof focus === 'number' ? focus : null);
    this.unsubscribe = this.deps.person?.subscribe(() => this.look()) ?? null;
    this.look();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private get idleAfterMs(): number {
    return this.deps.config().idleAfterMs ?? DEFAULT_IDLE_AFTER_MS;
  }

  /** Where the person's idle time comes from (Electron's powerMonitor in the desktop app). */
  setIdleSource(source: () => number | null): void {
    this.idleSource = source;
    this.look();
  }

  /** The person's idle time, fed from outside (headless: the API). */
  reportIdle(sec: number): void {
    this.state.reportIdle(sec, this.deps.clock.now());
    this.look();
  }

  /** Idle-only work's gate now; null: no idle time known (counted as away). */
  idle(): IdleGate | null {
    return this.state.idleGate(this.deps.clock.now(), this.idleAfterMs);
  }

  /** What holds GPU work back now, for the cycle; null: nothing. */
  hold(): PersonHold | null {
    return this.state.current(this.deps.clock.now(), this.cfg);
  }

  view(): YieldingView | null {
    const h = this.hold();
    if (!h) return null;
    const { belowPriority: _b, ...view } = h;
    return view;
  }

  /** Focus mode on (until `until`, or until turned off when null), or off. Written first: a refused write changes nothing. */
  setFocus(on: boolean, until: number | null = null): YieldingView | null {
    const value = on ? (until ?? 'on') : null;
    this.deps.store.setSetting(FOCUS_KEY, value);
    this.state.setFocus(on ? (until ?? Infinity) : null);
    this.deps.logger.info(
      on ? 'focus mode on: GPU tasks below the threshold wait' : 'focus mode off',
      on && until ? { until: new Date(until).toISOString() } : {},
    );
    this.look();
    return this.view();
  }

  /** Reads the watcher, and tells everyone when what holds changed; arms a timer for when it ends by itself. */
  look(): void {
    const now = this.deps.clock.now();
    const cfg = this.cfg;
    const idleSec = this.idleSource?.() ?? null;
    if (idleSec !== null) this.state.reportIdle(idleSec, now);
    const gate = this.state.idleGate(now, this.idleAfterMs);
    const open = gate === null || gate.awayMs >= gate.needMs;
    if (open !== this.lastGate) {
      // Idle-only work may start now, or must wait from now on.
      if (this.lastGate !== null) this.deps.logger.info(open ? 'the person is away: idle-only work may start' : 'the person is back: idle-only work waits');
      this.lastGate = open;
      this.deps.changed();
    }
    const began = this.state.sawGames(this.deps.person?.games() ?? [], now, cfg);
    const view = this.view();
    const key = view ? `${view.by}|${view.program}|${view.until}` : null;
    if (key !== this.last) {
      this.last = key;
      this.deps.events.emit({ type: 'yielding', yielding: view });
      if (view) this.deps.logger.info(`the GPU is yielded to the person: ${view.reason}`);
      else this.deps.logger.info('the GPU is no longer yielded to the person: GPU tasks start again');
      this.deps.changed();
    }
    if (began && this.deps.config().freeVram) this.deps.freeVram(cfg.belowPriority);
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
    const next = this.state.nextChange(now, cfg, this.idleAfterMs);
    if (next !== null) this.timer = this.deps.clock.setTimeout(() => this.look(), Math.max(0, next - now) + 1);
  }
}
