import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { decode, type Envelope } from '../../src-main/cli/rpc.js';

/** What the CLI's own decoder reads must be what superjson itself would give. */
const same = async (value: unknown) => {
  const e = superjson.serialize(value) as Envelope;
  const theirs = superjson.deserialize(structuredClone(e) as Parameters<typeof superjson.deserialize>[0]);
  expect(await decode(structuredClone(e))).toEqual(theirs);
  return e;
};

describe("the CLI's answer decoder", () => {
  it('reads Dates, undefineds and objects shared between two places as superjson does', async () => {
    const status = { state: 'absent', message: 'no driver', at: new Date(1_700_000_000_000) };
    const e = await same({ snapshot: { at: new Date(5), gpuStatus: status }, view: { gpuStatus: status, note: undefined }, list: [status, status] });
    expect(e.meta?.referentialEqualities).toBeDefined(); // the shape `resources` answers with
    await same({ a: 1, b: [new Date(0)], 'dotted.key': { x: new Date(9) } });
    await same(new Date(3));
    await same([1, 'two', null]);
  });

  it('leaves what it does not read itself (a cycle, a Map, a shared root) to superjson', async () => {
    const loop: Record<string, unknown> = { name: 'loop' };
    loop.self = loop;
    const r = (await decode(superjson.serialize(loop) as Envelope)) as Record<string, unknown>;
    expect(r.self).toBe(r);
    await same({ m: new Map([['k', 1]]), s: new Set([1, 2]) });
    const shared = { n: 1 };
    await same([shared, { again: shared }]);
  });
});
