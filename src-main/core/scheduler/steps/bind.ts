import { reserve } from '../../ledger/pool.js';
import type { Bind } from './types.js';

/** The placement is recorded in the pool at once, so one cycle never promises the same twice. */
export const bindInPool: Bind = (entry, gpus, { pool }) => reserve(pool, entry.agent, entry.request, gpus, entry.array, entry.project);
