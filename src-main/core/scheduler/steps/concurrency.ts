import { OK, waitAt } from '../status.js';
import type { Filter } from './types.js';

/** At most `maxConcurrency` of our tasks at once. */
export const globalConcurrency: Filter = {
  name: 'concurrency',
  check: (_b, { input, pool }) =>
    pool.running >= input.maxConcurrency
      ? waitAt('concurrency', [
          { resource: 'tasks', requested: 1, free: 0, capacity: input.maxConcurrency, heldBy: [{ by: 'ours', amount: pool.running, tasks: pool.running }] },
        ])
      : OK,
};

/** At most the agent's own `concurrency` of its tasks at once. */
export const agentConcurrency: Filter = {
  name: 'agent-concurrency',
  check: (b, { input, pool }) => {
    const limit = input.agentLimit(b.agent);
    const n = pool.perAgent.get(b.agent) ?? 0;
    if (limit === null || n < limit) return OK;
    return waitAt('agent-concurrency', [
      { resource: 'agent-tasks', agent: b.agent, requested: 1, free: 0, capacity: limit, heldBy: [{ by: 'ours', amount: n, tasks: n }] },
    ]);
  },
};

/** At most an array's `throttle` of its tasks at once (`--array 0-99%4`, `--throttle 4`). */
export const arrayThrottle: Filter = {
  name: 'array-throttle',
  check: (b, { pool }) => {
    if (b.array === null || b.throttle === null) return OK;
    const n = pool.perArray.get(b.array) ?? 0;
    if (n < b.throttle) return OK;
    return waitAt('array-throttle', [
      { resource: 'array-tasks', array: b.array, requested: 1, free: 0, capacity: b.throttle, heldBy: [{ by: 'ours', amount: n, tasks: n }] },
    ]);
  },
};
