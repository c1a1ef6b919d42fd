import { modelSpare, withResidentSpare } from '../../ledger/pool.js';
import { fit } from '../fit.js';
import { OK, waitAt } from '../status.js';
import type { Fitter } from './types.js';

/** CPU, RAM and VRAM against what is free now; picks GPUs by best fit (see fit.ts). */
export const resources: Fitter = {
  name: 'resources',
  place: (b, { pool, input }) => {
    // A task whose model its resident server has loaded already may use what that model holds.
    const kind = b.model !== null ? (input.drives?.(b.agent) ?? null) : null;
    const held = kind ? input.observed?.residentSpare?.get(kind) : undefined;
    const spare = held && b.model !== null ? modelSpare(held, b.model) : null;
    const f = fit(b.request, spare ? withResidentSpare(pool, spare, b.request) : pool);
    return f.ok ? { status: OK, gpus: f.gpus } : { status: waitAt('resources', f.shortfalls), gpus: [] };
  },
};
