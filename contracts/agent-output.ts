import { z } from 'zod';

/**
 * The agent output protocol: each stdout line that is a JSON object with one of these `type`s is an
 * event; every other line (and all of stderr) is a log line.
 */
export const ProgressEventSchema = z
  .object({
    type: z.literal('progress'),
    progress: z.number().min(0).max(1),
    message: z.string().max(1000).optional(),
  })
  .strict();
export const ResultEventSchema = z.object({ type: z.literal('result'), data: z.unknown() }).strict();
export const ArtifactEventSchema = z.object({ type: z.literal('artifact'), path: z.string().min(1).max(4096), name: z.string().max(255).optional() }).strict();
export const LogEventSchema = z.object({ type: z.literal('log'), message: z.string(), level: z.enum(['debug', 'info', 'warn', 'error']).optional() }).strict();

export const AgentEventSchema = z.discriminatedUnion('type', [ProgressEventSchema, ResultEventSchema, ArtifactEventSchema, LogEventSchema]);
export type AgentEvent = z.infer<typeof AgentEventSchema>;
export const AGENT_EVENT_TYPES = ['progress', 'result', 'artifact', 'log'] as const;
