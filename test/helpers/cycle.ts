import type { ResourceRequest } from '../../contracts/resources.js';
import { runCycle, type CycleInput } from '../../src-main/core/scheduler/cycle.js';
import { QueueIndex, type QueueEntry } from '../../src-main/core/scheduler/queue.js';
import { node } from './fakes.js';

/** A queued task as the cycle sees it: agent "a", the default project, in id order. */
export function queued(id: number, request: ResourceRequest, over: Partial<QueueEntry> = {}): QueueEntry {
  return { id, agent: 'a', project: 'default', request, notBefore: null, priority: 0, since: over.since ?? 0, seq: id, array: null, throttle: null, ...over };
}

/** One scheduling cycle over `entries` on an idle 8 GB card (256 MB margin), with `over` on top. */
export function cycleOver(entries: QueueEntry[], now: number, over: Partial<CycleInput> = {}) {
  const queue = new QueueIndex();
  queue.addAll(entries, now);
  return runCycle({
    now,
    paused: false,
    maxConcurrency: 10,
    reserveAfterMs: null,
    agentLimit: () => null,
    node: node(),
    running: [],
    vramMarginMB: 256,
    memoryMarginMB: 0,
    queue,
    ...over,
  });
}
