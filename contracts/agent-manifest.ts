import { z } from 'zod';
import { RESIDENT_KINDS } from './residents.js';
import { ResourceRequestSchema } from './resources.js';

export const AGENT_NAME_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Where a task runs: this machine, the Slurm cluster, or (auto) the cluster when it can never fit here. */
export const BackendChoiceSchema = z.enum(['local', 'slurm', 'auto']);
export type BackendChoice = z.infer<typeof BackendChoiceSchema>;
/** Where a task was sent (auto decided at submit). */
export const BackendSchema = z.enum(['local', 'slurm']);
export type Backend = z.infer<typeof BackendSchema>;

/** A file extension as agents declare it: lower case, with its dot (".png"); "*" takes any file. */
export const ExtensionSchema = z
  .string()
  .regex(/^(\*|\.?[A-Za-z0-9][A-Za-z0-9._-]{0,31})$/, 'a file extension such as ".png", or "*" for any file')
  .transform((ext) => (ext === '*' || ext.startsWith('.') ? ext : `.${ext}`).toLowerCase());

/** Resources a task may take from its input (input property names), e.g. {"vramMB": "vramMB"}. */
export const ResourceInputsSchema = z
  .object({
    cpu: z.string().min(1).optional(),
    memoryMB: z.string().min(1).optional(),
    vramMB: z.string().min(1).optional(),
  })
  .strict();

export const ResidentUseSchema = z
  .object({
    kind: z.enum(RESIDENT_KINDS, { error: `a resident is one of ${RESIDENT_KINDS.join(', ')}` }),
    modelInput: z.string().min(1).optional(),
  })
  .strict();
export type ResidentUse = z.infer<typeof ResidentUseSchema>;

/**
 * agent.json. Every field but name and command has a default, so the smallest agent is
 * `{"name": "x", "command": ["./run.sh"]}`.
 */
export const AgentManifestSchema = z
  .object({
    name: z.string().regex(AGENT_NAME_PATTERN, 'lower-case letters, digits, ".", "_" or "-", at most 64'),
    title: z.string().min(1).max(100).optional(),
    description: z.string().max(2000).default(''),
    command: z.array(z.string().min(1)).min(1, 'the command needs at least the program to run'),
    accepts: z.array(ExtensionSchema).max(100).default([]),
    inputSchema: z.record(z.string(), z.unknown()).default({ type: 'object' }),
    // A partial request is merged with the defaults: {"gpu": {...}} alone keeps 1 core and 256 MB.
    resources: ResourceRequestSchema.partial({ cpu: true, memoryMB: true })
      .default({ cpu: 1, memoryMB: 256 })
      .transform((r) => ({ ...r, cpu: r.cpu ?? 1, memoryMB: r.memoryMB ?? 256 })),
    timeoutSec: z
      .number()
      .int()
      .min(1)
      .max(30 * 24 * 3600)
      .nullable()
      .default(null),
    retry: z
      .object({
        maxAttempts: z.number().int().min(1).max(100).default(1),
        backoffSec: z
          .number()
          .min(0)
          .max(24 * 3600)
          .default(5),
      })
      .strict()
      .default({ maxAttempts: 1, backoffSec: 5 }),
    /** How long a task of it usually takes, for the queue's estimates until it has run (learned after). */
    expectedSec: z
      .number()
      .positive()
      .max(30 * 24 * 3600)
      .nullable()
      .default(null),
    /** At most this many tasks of this agent at once; null for no limit of its own. */
    concurrency: z.number().int().min(1).max(10_000).nullable().default(null),
    /**
     * Its tasks may be stopped (SIGTERM, then SIGKILL after preemptGraceSec) and queued again
     * to make room for a higher-priority task; the agent is told in AGENT_PREEMPTIBLE.
     */
    preemptible: z.boolean().default(false),
    /** Its time to checkpoint after SIGTERM when preempted (AGENT_PREEMPT_GRACE_SEC). */
    preemptGraceSec: z.number().int().min(0).max(3600).default(30),
    resourceInputs: ResourceInputsSchema.default({}),
    env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).default({}),
    /**
     * The resident AI server its tasks drive (see residents.ts), and the input property that names
     * the model. While such a task runs, what that server holds in VRAM counts as the task's (up to
     * its request), the server is not asked to unload under it, and the agent is told its URL in
     * AGENT_RESIDENT_URL; a task whose model the server reports gets its VRAM request from it.
     */
    resident: ResidentUseSchema.nullable().default(null),
    /** Its tasks start only once the person has been away `idleAfterMin` minutes (idle-only work); a submission may say otherwise. */
    whenIdle: z.boolean().default(false),
    /**
     * Where its tasks run: `local` (this machine), `slurm` (the configured cluster), or `auto`
     * (the cluster when a task can never fit this machine); a submission may say otherwise.
     */
    backend: BackendChoiceSchema.default('local'),
  })
  .strict();
export type AgentManifest = z.infer<typeof AgentManifestSchema>;

const LearnedSchema = z.object({
  samples: z.number().int(),
  request: ResourceRequestSchema,
  p95: z.object({ vramMB: z.number().nullable(), memoryMB: z.number().nullable(), cpu: z.number().nullable() }),
});

export const AgentViewSchema = z.object({
  name: z.string(),
  title: z.string(),
  description: z.string(),
  accepts: z.array(z.string()),
  inputSchema: z.record(z.string(), z.unknown()),
  resources: ResourceRequestSchema,
  timeoutSec: z.number().nullable(),
  expectedSec: z.number().nullable(),
  retry: z.object({ maxAttempts: z.number(), backoffSec: z.number() }),
  concurrency: z.number().nullable(),
  preemptible: z.boolean(),
  preemptGraceSec: z.number(),
  resident: ResidentUseSchema.nullable(),
  whenIdle: z.boolean(),
  backend: BackendChoiceSchema,
  dir: z.string(),
  source: z.enum(['bundled', 'data-dir', 'extra']),
  /** What its recent successful attempts really used (95th percentile of their peaks) and the
   * request new tasks get from it; null until enough attempts were measured. */
  learned: LearnedSchema.nullable(),
  /** The same, from its attempts on the Slurm cluster (sacct's peaks): kept apart, as the cluster's GPUs are not this machine's. */
  learnedOnCluster: LearnedSchema.nullable().optional(),
});
export type AgentView = z.infer<typeof AgentViewSchema>;

/** A manifest that could not be loaded: where it is and what to fix. */
export const AgentProblemSchema = z.object({ path: z.string(), message: z.string() });
export type AgentProblem = z.infer<typeof AgentProblemSchema>;
