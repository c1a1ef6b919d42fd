import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CliError } from './client.js';

export type Options = NonNullable<ParseArgsConfig['options']>;

export const COMMON: Options = {
  json: { type: 'boolean' },
  'data-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

/** util.parseArgs with errors that name the command and point to its help. */
export function parse(command: string, argv: string[], options: Options) {
  try {
    return parseArgs({ args: argv, options: { ...COMMON, ...options }, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = (e as Error).message;
    const ambiguous = /Option '(--[\w-]+)[^']*' argument is ambiguous/.exec(msg);
    if (ambiguous)
      throw new CliError(`${ambiguous[1]} needs a value; for a value that starts with "-", write ${ambiguous[1]}=VALUE\nsee \`agentmgr help ${command}\``, 2);
    throw new CliError(`${msg.split('\n')[0]!.replace(/\. To specify.*$/, '')}\nsee \`agentmgr help ${command}\``, 2);
  }
}

export function intArg(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`, 2);
  return n;
}

export function numArg(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw new CliError(`${name} must be a number from ${min} to ${max}, got "${raw}"`, 2);
  return n;
}

export function taskIds(positionals: string[], command: string): number[] {
  if (positionals.length === 0) throw new CliError(`${command} needs a task id; \`agentmgr list\` shows them`, 2);
  return positionals.map((p) => {
    const n = Number(p.replace(/^#/, ''));
    if (!Number.isInteger(n) || n <= 0) throw new CliError(`"${p}" is not a task id (a positive whole number)`, 2);
    return n;
  });
}
