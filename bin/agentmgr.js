#!/usr/bin/env node
// The `agentmgr` command. Runs the built CLI (npm run build); see README.md.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const built = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'src-main', 'cli', 'main.js');
if (!existsSync(built)) {
  process.stderr.write('agentmgr: not built yet; run `npm run build` in ' + join(dirname(built), '..', '..', '..') + '\n');
  process.exit(2);
}
const { runCli } = await import(built);
await runCli(process.argv.slice(2));
