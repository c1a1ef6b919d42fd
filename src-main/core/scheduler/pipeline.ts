import { before } from './queue.js';
import { bindInPool } from './steps/bind.js';
import { agentConcurrency, arrayThrottle, globalConcurrency } from './steps/concurrency.js';
import { fairShare } from './steps/fair-share.js';
import { projectQuota } from './steps/quota.js';
import { keepForLongWaiter } from './steps/keep.js';
import { paused } from './steps/paused.js';
import { idleOnly, yieldToPerson } from './steps/person.js';
import { resources } from './steps/resources.js';
import type { Pipeline } from './steps/types.js';

export type { Pipeline };

/**
 * The scheduling pipeline, in the order a cycle runs it (read it as Nomad's stack.go):
 *
 * 1. prefilters, once per cycle: a paused queue starts nothing. (Retry backoffs come before
 *    even that: a task waiting one out is not in a bucket; the cycle promotes the due ones. A
 *    held task, or one waiting for its dependencies, is not in the queue at all: see
 *    workflow/.)
 * 2. filters, per bucket of interchangeable tasks (one agent, request and project), cheapest
 *    first: the person's hold on the GPU (game and focus mode), idle-only work, the global limit, the agent's, the array's throttle, then the project's quotas. All
 *    are checked, so a task held back by a limit also says what else it lacks.
 * 3. the fit, last and dearest: CPU, RAM and VRAM against what is free now, picking GPUs.
 * 4. score: the order tasks are considered in across buckets: priority, then within one the
 *    project furthest below its share (rank: fair share), then queue order; a task that does
 *    not fit does not block those behind it (backfill).
 * 5. reserve: the first task held back by resources alone for too long has what is free kept for
 *    it, so a stream of small tasks cannot starve it.
 * 6. bind: each placement is recorded in the pool as it is made.
 *
 * A new filter (dependencies, quotas, GPU limits, game mode) is one file in steps/ and one line
 * here.
 */
export function schedulingPipeline(opts: { fairShare?: boolean } = {}): Pipeline {
  return {
    prefilters: [paused],
    filters: [yieldToPerson, idleOnly, globalConcurrency, agentConcurrency, arrayThrottle, projectQuota],
    fit: resources,
    score: before,
    rank: opts.fairShare === false ? undefined : fairShare,
    reserve: keepForLongWaiter,
    bind: bindInPool,
  };
}
