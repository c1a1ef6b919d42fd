import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

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
