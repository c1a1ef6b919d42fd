import type { StopRequest } from '../../../core/ports.js';
import type { Escalation } from './escalate.js';

/**
 * A cancel asked for by the user, or a preemption (its own grace and log line): SIGTERM to the
 * family, unless it is already being stopped.
 */
export function requestCancel(escalation: Escalation, now: number, request?: StopRequest): void {
  if (request) escalation.begin('cancelled', `${request.note}: SIGTERM to the process group, SIGKILL after ${request.graceMs} ms`, now, request.graceMs);
  else escalation.begin('cancelled', 'cancel requested: SIGTERM to the process group', now);
}
