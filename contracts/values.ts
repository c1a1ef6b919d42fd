/**
 * The contracts' plain values, without zod: what the CLI needs on its start path (a command
 * answers in milliseconds only if it loads no schema library). task.ts builds its schemas on these.
 */

/**
 * Observed task states. `queued` covers waiting for resources and waiting out a retry backoff
 * (`notBefore`); the terminal ones are listed in TERMINAL_STATES.
 */
export const TASK_STATES = ['queued', 'starting', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted'] as const;
export type TaskStateName = (typeof TASK_STATES)[number];

export const TERMINAL_STATES: readonly TaskStateName[] = ['succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted'];

export const PRIORITY = { min: -1000, max: 1000 } as const;

/**
 * What a dependent waits for (Slurm's spelling): `afterok` each of them succeeded, `afternotok`
 * each ended without success, `afterany` each ended, `after` each started (or ended).
 */
export const DEPENDENCY_TYPES = ['afterok', 'afternotok', 'afterany', 'after'] as const;

/** At most this many tasks in one array (and in one submission's `each`). */
export const MAX_ARRAY = 100_000;

export const PROJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const PROJECT_NAME_RULE = 'a project name is 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit';
