import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../src-main/adapters/events/event-bus.js';

describe('EventBus', () => {
  it('a subscriber that throws is reported, and neither the Manager nor the other subscribers see it', () => {
    const errors: unknown[] = [];
    const bus = new EventBus((e) => errors.push(e));
    const seen: string[] = [];
    bus.on(() => {
      throw new Error('a broken notification');
    });
    bus.on((e) => seen.push(e.type));
    expect(() => bus.emit({ type: 'queue', paused: true })).not.toThrow();
    expect(seen).toEqual(['queue']);
    expect(errors).toEqual([expect.objectContaining({ message: 'a broken notification' })]);
  });

  it('off stops delivery; a stream ends when its signal aborts', async () => {
    const bus = new EventBus();
    const seen: string[] = [];
    const off = bus.on((e) => seen.push(e.type));
    off();
    bus.emit({ type: 'queue', paused: false });
    expect(seen).toEqual([]);
    const ctrl = new AbortController();
    const stream = bus.stream((e) => (e.type === 'queue' ? e.paused : undefined), ctrl.signal);
    const first = stream.next();
    bus.emit({ type: 'queue', paused: true });
    expect(await first).toEqual({ value: true, done: false });
    const second = stream.next();
    ctrl.abort();
    expect(await second).toEqual({ value: undefined, done: true });
  });
});
