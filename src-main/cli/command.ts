import type { Options } from './args.js';
import type { ApiClient } from './rpc.js';

export const out = process.stdout;
export const tty = Boolean(process.stdout.isTTY);
export const print = (s: string): void => void out.write(s.endsWith('\n') ? s : s + '\n');
export const printJson = (v: unknown): void => print(JSON.stringify(v, null, 2));

export type Handler = (api: ApiClient, positionals: string[], values: Record<string, unknown>) => Promise<number>;

/** One `agentmgr` command that talks to a Manager: its flags and what it does. */
export interface Command {
  options: Options;
  run: Handler;
}
