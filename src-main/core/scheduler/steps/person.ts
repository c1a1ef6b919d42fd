import { seconds } from '../format.js';
import { OK, waitAt } from '../status.js';
import type { Filter } from './types.js';

/**
 * The GPU yielded to the person (game mode, focus mode: core/person/yield.ts): a GPU task below
 * the priority threshold does not start. CPU-only tasks, and urgent ones, go on. The bucket's head
 * is its highest-priority task: when it waits, so do those behind it.
 */
export const yieldToPerson: Filter = {
  name: 'person',
  check: (b, { input }, head) => {
    const hold = input.person;
    if (!hold || !b.request.gpu || b.request.gpu.count <= 0) return OK;
    if (head.priority >= hold.belowPriority) return OK;
    return waitAt('person', [], { yielding: { by: hold.by, reason: hold.reason } });
  },
};

/**
 * Idle-only work (`whenIdle`): it starts only once the person has been away long enough, by their
 * idle time (the desktop's, or fed through the API; never fed: away).
 */
export const idleOnly: Filter = {
  name: 'idle',
  check: (b, { input }) => {
    const g = input.idle;
    if (!b.whenIdle || !g || g.awayMs >= g.needMs) return OK;
    return waitAt('idle', [], {
      yielding: {
        by: 'idle',
        reason: `idle-only work: it starts once you have been away ${seconds(g.needMs)} (away ${seconds(g.awayMs)} now)`,
      },
    });
  },
};
