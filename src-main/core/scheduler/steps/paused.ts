import { OK, waitAt } from '../status.js';
import type { Prefilter } from './types.js';

/** A paused queue starts nothing; running tasks go on. */
export const paused: Prefilter = {
  name: 'paused',
  check: ({ input }) => (input.paused ? waitAt('paused', []) : OK),
};
