import { z } from 'zod';

/** Stable error codes every client can branch on; the message says what to fix. README's API section lists each with its HTTP status (a test keeps the two in step). */
export const API_ERROR_CODES = [
  'UNKNOWN_AGENT',
  'INVALID_INPUT',
  'UNSATISFIABLE',
  'NOT_FOUND',
  'INVALID_STATE',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'PAYLOAD_TOO_LARGE',
  'INTERNAL',
] as const;
export const ApiErrorCodeSchema = z.enum(API_ERROR_CODES);
export type ApiErrorCode = z.infer<typeof ApiErrorCodeSchema>;

export const ApiErrorSchema = z.object({
  code: ApiErrorCodeSchema,
  message: z.string(),
  /** For batch submissions: which item (0-based) was refused. */
  index: z.number().int().optional(),
});

/**
 * The one formatter of schema problems: "priority: too big (at most 1000); name: ...". The first
 * `max` issues, each with the path it is at. For the API, the CLI, manifests and agent output.
 */
export function describeIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[], max = 5): string {
  return issues
    .slice(0, max)
    .map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
}
