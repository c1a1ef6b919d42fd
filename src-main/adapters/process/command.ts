import { accessSync, constants, statSync } from 'node:fs';
import { basename, delimiter, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { nodeSdkDir } from '../../paths.js';

/**
 * Resolves an agent's command to the program to run. A first element starting with "./" or "../"
 * (or any relative path) is relative to the agent's folder; a bare name is looked up on PATH.
 * Returns what is wrong when it cannot be run, so the attempt fails with that reason.
 */
export function resolveCommand(command: readonly string[], agentDir: string, pathEnv = process.env.PATH ?? ''): { argv: string[] } | { error: string } {
  const [program, ...args] = command;
  if (!program) return { error: 'the agent has an empty command' };
  const candidates = program.includes('/')
    ? [isAbsolute(program) ? program : resolve(agentDir, program)]
    : pathEnv
        .split(delimiter)
        .filter(Boolean)
        .map((d) => join(d, program));
  for (const c of candidates) {
    try {
      if (!statSync(c).isFile()) continue;
      accessSync(c, constants.X_OK);
      return { argv: [c, ...args] };
    } catch (e) {
      if (program.includes('/') && (e as NodeJS.ErrnoException).code === 'EACCES') {
        return { error: `agent command is not executable: ${c} (run chmod +x on it)` };
      }
    }
  }
  return program.includes('/')
    ? { error: `agent command not found: ${candidates[0]} (from "command" in ${join(agentDir, 'agent.json')})` }
    : { error: `agent command not found on PATH: ${program} (from "command" in ${join(agentDir, 'agent.json')})` };
}

/**
 * A TypeScript agent (`["node", "./agent.ts"]`) runs with the SDK's type-stripping hook
 * (clients/node/ts-hook.mjs), so it needs no build step on any Node the Manager supports.
 */
export function withTypeScriptHook(argv: string[], hook = join(nodeSdkDir(), 'ts-hook.mjs')): string[] {
  const [program, ...args] = argv;
  if (!program || !/^node(js)?(\.exe)?$/.test(basename(program))) return argv;
  const script = args.find((a) => !a.startsWith('-'));
  const href = pathToFileURL(hook).href;
  if (!script || !/\.m?ts$/.test(script) || args.includes(href)) return argv;
  return [program, '--import', href, ...args];
}
