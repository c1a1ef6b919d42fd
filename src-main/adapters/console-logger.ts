import type { Logger } from '../core/ports.js';

export type LogLevel = 'info' | 'warn' | 'silent';
const RANK: Record<string, number> = { info: 0, warn: 1, error: 2, silent: 3 };

/** Log lines on stderr, one per event, with fields as key=value; below `level` nothing is printed. */
export function consoleLogger(level: LogLevel = 'info'): Logger {
  const line = (lvl: string, message: string, fields?: Record<string, unknown>): void => {
    if (RANK[lvl]! < RANK[level]!) return;
    const f = fields
      ? ' ' +
        Object.entries(fields)
          .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
          .join(' ')
      : '';
    process.stderr.write(`${new Date().toISOString()} ${lvl} ${message}${f}\n`);
  };
  return {
    info: (m, f) => line('info', m, f),
    warn: (m, f) => line('warn', m, f),
    error: (m, f) => line('error', m, f),
  };
}
