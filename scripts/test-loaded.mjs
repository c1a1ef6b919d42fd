#!/usr/bin/env node
// The Vitest suite with every core kept busy by another program, as on a workstation that is
// also compiling or gaming: tests must wait for conditions, not for fixed times.
// Load: `stress-ng --cpu N` where installed, else N busy Node loops. Extra arguments go to Vitest.
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

const cores = availableParallelism();
const haveStress = spawnSync('stress-ng', ['--version'], { stdio: 'ignore' }).status === 0;
const load = haveStress
  ? [spawn('stress-ng', ['--cpu', String(cores), '--quiet'], { stdio: 'ignore', detached: true })]
  : Array.from({ length: cores }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore', detached: true }));
console.log(`test:loaded: ${cores} cores kept busy by ${haveStress ? 'stress-ng' : 'busy loops'}`);

const stopLoad = () => {
  for (const p of load) {
    try {
      process.kill(-p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
};
process.on('exit', stopLoad);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

const vitest = spawn('npx', ['vitest', 'run', ...process.argv.slice(2)], { stdio: 'inherit' });
vitest.on('exit', (code, signal) => {
  stopLoad();
  process.exit(code ?? (signal ? 1 : 0));
});
