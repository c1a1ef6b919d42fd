import { keepFor } from '../reservation.js';
import type { Reserver } from './types.js';

/** Keeps what is free for the first task that resources alone have held back too long. */
export const keepForLongWaiter: Reserver = {
  name: 'keep',
  dueAt: (entry, { input }) => (input.reserveAfterMs === null ? null : entry.since + input.reserveAfterMs),
  keep: (entry, { pool }) => keepFor(entry.id, entry.request, pool),
};
