import { EventEmitter } from 'node:events';
import type { AppEvent, EventSink } from '../../core/ports.js';

/** What flows to subscribers: the Manager's events, and live telemetry samples. */
export type BusEvent = AppEvent;

/** In-process pub/sub of Manager events and telemetry, feeding every live subscription. */
export class EventBus implements EventSink {
  private readonly ee = new EventEmitter();

  /** `onError`: a subscriber that throws is reported here, never back into the Manager. */
  constructor(private readonly onError: (e: unknown) => void = (e) => console.error('event subscriber failed', e)) {
    this.ee.setMaxListeners(0);
  }

  emit(event: BusEvent): void {
    this.ee.emit('event', event);
  }

  on(listener: (e: BusEvent) => void): () => void {
    const guarded = (e: BusEvent): void => {
      try {
        listener(e);
      } catch (err) {
        this.onError(err);
      }
    };
    this.ee.on('event', guarded);
    return () => this.ee.off('event', guarded);
  }

  /**
   * The events that `pick` maps to a value, as an async iterable that ends when `signal` aborts.
   * Values are queued while the consumer is busy (a slow client never blocks the Manager).
   */
  async *stream<T>(pick: (e: BusEvent) => T | undefined, signal: AbortSignal | undefined): AsyncGenerator<T> {
    const queue: T[] = [];
    let wake: (() => void) | null = null;
    const off = this.on((e) => {
      const v = pick(e);
      if (v === undefined) return;
      queue.push(v);
      wake?.();
    });
    const onAbort = (): void => wake?.();
    signal?.addEventListener('abort', onAbort);
    try {
      while (!signal?.aborted) {
        if (queue.length === 0) {
          await new Promise<void>((r) => (wake = r));
          wake = null;
          continue;
        }
        yield queue.shift()!;
      }
    } finally {
      off();
      signal?.removeEventListener('abort', onAbort);
    }
  }
}
