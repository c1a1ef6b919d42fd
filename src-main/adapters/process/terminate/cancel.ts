import type { Escalation } from './escalate.js';

/** A cancel asked for by the user: SIGTERM to the family, unless it is already being stopped. */
export function requestCancel(escalation: Escalation, now: number): void {
  escalation.begin('cancelled', 'cancel requested: SIGTERM to the process group', now);
}
