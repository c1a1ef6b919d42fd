// How long an `agentmgr` command takes, start to exit, against `node -e 0` in the same run:
// what a person waits for at the prompt (pueue, task-spooler and squeue answer in milliseconds).
import { spawnSync } from 'node:child_process';
import { BIN, serve, tempDir } from './lib.mjs';

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timeRuns(args, env, runs) {
  const ms = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    ms.push(performance.now() - t0);
    if (r.status !== 0) throw new Error(`${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  }
  return median(ms);
}

export async function cliStartBench({ runs = 15 } = {}) {
  const t = tempDir('agentmgr-bench-cli-');
  const env = { AGENTMGR_DATA_DIR: t.dir, AGENTMGR_NVIDIA_SMI: '/nonexistent/nvidia-smi', AGENTMGR_GAME_PROGRAMS: '' };
  const server = await serve(t.dir, env);
  try {
    const r = spawnSync(process.execPath, [BIN, 'submit', 'demo', '--input', '{"seconds":0}', '--json'], { env: { ...process.env, ...env }, encoding: 'utf8' });
    const id = String(JSON.parse(r.stdout).id);
    // Paused, so a submit measures the CLI and the Manager's answer, not a demo agent starting
    // beside it (on a 2-core machine that start takes the other core).
    spawnSync(process.execPath, [BIN, 'pause'], { env: { ...process.env, ...env } });
    const floor = timeRuns(['-e', '0'], env, runs);
    const commands = [
      ['status', ['status']],
      ['list', ['list', '--limit', '20']],
      ['show', ['show', id]],
      ['submit', ['submit', 'demo', '--input', '{"seconds":0}']],
    ];
    return commands.map(([name, args]) => {
      const ms = timeRuns([BIN, ...args], env, runs);
      return {
        name: `CLI \`${name}\`, start to exit`,
        unit: 'ms',
        value: Math.round(ms),
        baseline: { name: '`node -e 0`', value: Math.round(floor) },
        ratio: Math.round((ms / floor) * 100) / 100,
        target: '< 150 ms',
        met: ms < 150,
        how: `median of ${runs} runs of \`agentmgr ${args.join(' ')}\` against a running agentmgr serve (its queue paused)`,
      };
    });
  } finally {
    await server.stop();
    t.cleanup();
  }
}
