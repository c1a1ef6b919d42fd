import { describe, expect, it } from 'vitest';
import { LoopDelay } from '../src-main/loop-delay.js';

describe("the thread's lateness (health.eventLoop)", () => {
  it('since the start and over a window: a slow minute long ago does not count in the last 10 s', () => {
    const d = new LoopDelay(50);
    const t0 = Date.now();
    // A minute ago: 100 samples, 5 of them 80 ms late.
    for (let i = 0; i < 100; i++) d.record(i % 20 === 0 ? 80 : 1, t0 - 60_000 + i * 50);
    // The last 10 s: 200 samples, the worst 12 ms.
    for (let i = 0; i < 200; i++) d.record(i === 100 ? 12.34 : 2, t0 - 10_000 + i * 50);
    const all = d.summary(undefined, t0);
    expect(all.maxMs).toBe(80);
    expect(all.p99Ms).toBe(80);
    expect(all.p50Ms).toBe(2);
    const recent = d.summary(10, t0);
    expect(recent).toEqual({ p50Ms: 2, p99Ms: 2, maxMs: 12.3, sinceSec: 0 });
    expect(d.summary(61, t0).p99Ms).toBe(80);
    expect(new LoopDelay().summary(5)).toMatchObject({ p50Ms: 0, p99Ms: 0, maxMs: 0 });
  });

  it('measures a real blocked turn', async () => {
    const d = new LoopDelay(20);
    d.start();
    try {
      await new Promise((r) => setTimeout(r, 60));
      const end = Date.now() + 120;
      while (Date.now() < end) {
        // the thread is held for 120 ms
      }
      const deadline = Date.now() + 10_000;
      while (d.summary(30).maxMs < 80) {
        if (Date.now() > deadline) throw new Error(`the blocked turn was not seen: ${JSON.stringify(d.summary(30))}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      d.stop();
    }
  });
});
