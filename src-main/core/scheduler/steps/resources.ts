import { fit } from '../fit.js';
import { OK, waitAt } from '../status.js';
import type { Fitter } from './types.js';

/** CPU, RAM and VRAM against what is free now; picks GPUs by best fit (see fit.ts). */
export const resources: Fitter = {
  name: 'resources',
  place: (b, { pool }) => {
    const f = fit(b.request, pool);
    return f.ok ? { status: OK, gpus: f.gpus } : { status: waitAt('resources', f.shortfalls), gpus: [] };
  },
};
