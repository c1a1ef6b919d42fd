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
  const all = { ...COMMON, ...options };
  // `--priority -5`: a negative number after a flag that takes a value is that value, not a flag.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      args.push(...argv.slice(i));
      break;
    }
    const next = argv[i + 1];
    if (a.startsWith('--') && !a.includes('=') && all[a.slice(2)]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      args.push(`${a}=${next}`);
      i++;
    } else args.push(a);
  }
  try {
    return parseArgs({ args, options: all, allowPositionals: true, strict: true });
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
  const n = raw.trim() === '' ? NaN : Number(raw);
  if (Number.isFinite(n) && n < 0 && min >= 0) throw new CliError(`${name} cannot be negative, got "${raw}"`, 2);
  if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`, 2);
  return n;
}

export function numArg(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = raw.trim() === '' ? NaN : Number(raw);
  if (Number.isFinite(n) && n < 0 && min >= 0) throw new CliError(`${name} cannot be negative, got "${raw}"`, 2);
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

const UNIT_SEC: Record<string, number> = { s: 1, m: 60, min: 60, h: 3600, d: 86_400, w: 7 * 86_400 };

/** "90s", "30m", "1h30m", "7d", "2w" in seconds; null if it is not one. */
export function parseDuration(text: string): number | null {
  const t = text.replace(/\s+/g, '');
  const parts = [...t.matchAll(/(\d+(?:\.\d+)?)(s|min|m|h|d|w)/gi)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== t) return null;
  return Math.round(parts.reduce((a, p) => a + Number(p[1]) * UNIT_SEC[p[2]!.toLowerCase()]!, 0));
}

/** A duration flag: "7d", "12h", "30m", "1h30m", or plain seconds. */
export function durationArg(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const sec = /^\d+$/.test(raw.trim()) ? Number(raw) : parseDuration(raw);
  if (sec === null || sec < 0) throw new CliError(`${name} takes a duration like 7d, 12h, 30m or 1h30m (or seconds), got "${raw}"`, 2);
  return sec;
}
