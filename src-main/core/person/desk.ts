import type { YieldingView } from '../../../contracts/person.js';
import type { Clock, EventSink, Logger, PersonPort, TaskStore, TimerHandle } from '../ports.js';
import { DEFAULT_YIELD, PersonYield, type PersonHold, type YieldConfig } from './yield.js';

export const FOCUS_KEY = 'person.focus';

export interface PersonDeskDeps {
  person?: PersonPort;
  store: TaskStore;
  clock: Clock;
  events: EventSink;
  logger: Logger;
  config: () => Partial<YieldConfig> & { freeVram?: boolean };
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
    const next = this.state.nextChange(now, cfg);
    if (next !== null) this.timer = this.deps.clock.setTimeout(() => this.look(), Math.max(0, next - now) + 1);
  }
}
