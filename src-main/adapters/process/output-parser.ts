import { AGENT_EVENT_TYPES, AgentEventSchema, type AgentEvent } from '../../../contracts/agent-output.js';
import { describeIssues } from '../../../contracts/errors.js';

export type ParsedLine = { kind: 'event'; event: AgentEvent } | { kind: 'log'; text: string; problem?: string };

const MAX_EVENT_LINE = 1024 * 1024;

/**
 * One stdout line of an agent. A JSON object whose `type` is an event type becomes that event if it
 * is well formed; if it is not, the line is kept as log text and `problem` says what was wrong.
 * Anything else is a log line. Never throws.
 */
export function parseOutputLine(line: string): ParsedLine {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}') || trimmed.length > MAX_EVENT_LINE) return { kind: 'log', text: line };
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    return { kind: 'log', text: line };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'log', text: line };
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || !(AGENT_EVENT_TYPES as readonly string[]).includes(type)) return { kind: 'log', text: line };
  const parsed = AgentEventSchema.safeParse(value);
  if (parsed.success) return { kind: 'event', event: parsed.data };
  return { kind: 'log', text: line, problem: `malformed "${type}" event (${describeIssues(parsed.error.issues, 1) || 'invalid'})` };
}
