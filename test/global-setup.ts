import { execFileSync } from 'node:child_process';

/** The CLI tests run the built `agentmgr`: build it (incrementally) so they never test stale code. */
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.node.json'], { stdio: 'inherit' });
}
