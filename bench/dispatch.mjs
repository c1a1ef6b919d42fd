// Dispatch throughput: 2,000 no-op tasks (/bin/true) at a concurrency of 8, from the first submit
// to the last completion, through `agentmgr serve` and `agentmgr submit --batch`; against a plain
// Node loop that spawns /bin/true with the same limit, and GNU parallel -j8, in the same run.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentmgr, serve, tempDir } from './lib.mjs';

const run = (args, env, input) => agentmgr(args, env, input);

function plainLoop(n, limit) {
  return new Promise((resolve) => {
    let started = 0;
    let done = 0;
    const t0 = performance.now();
    const next = () => {
      if (started >= n) return;
      started++;
      spawn('/bin/true', [], { stdio: 'ignore' }).on('exit', () => {
        done++;
        if (done === n) resolve(performance.now() - t0);
        else next();
      });
    };
    for (let i = 0; i < limit; i++) next();
  });
}

export async function dispatchBench({ tasks }) {
  const t = tempDir('agentmgr-bench-dispatch-');
  const agents = join(t.dir, 'agents');
  mkdirSync(join(agents, 'noop'), { recursive: true });
  writeFileSync(join(agents, 'noop', 'agent.json'), JSON.stringify({ name: 'noop', command: ['/bin/true'], resources: { cpu: 0, memoryMB: 0 } }));
  const env = { AGENTMGR_DATA_DIR: join(t.dir, 'data'), AGENTMGR_NVIDIA_SMI: '/nonexistent' };
  const server = await serve(join(t.dir, 'data'), env, ['--agents-dir', agents, '--max-concurrency', '8']);
  try {
    const lines = Array.from({ length: tasks }, () => '{"agent":"noop"}').join('\n');
    const t0 = performance.now();
    const ids = JSON.parse(await run(['submit', '--batch', '-', '--json'], env, lines)).map((t) => t.id);
    await run(['wait', ...ids.map(String), '--json'], env);
    const manager = performance.now() - t0;
    const loop = await plainLoop(tasks, 8);
    let parallel = null;
    if (spawnSync('parallel', ['--version'], { stdio: 'ignore' }).status === 0) {
      const p0 = performance.now();
      spawnSync('sh', ['-c', `seq ${tasks} | parallel -j8 /bin/true`], { stdio: 'ignore' });
      parallel = performance.now() - p0;
    }
    const rate = (ms) => Math.round((tasks / ms) * 1000);
    return {
      name: `dispatch throughput, ${tasks.toLocaleString('en')} no-op tasks at concurrency 8`,
      unit: 'tasks/s',
      value: rate(manager),
      baseline: {
        name: `plain Node loop spawning /bin/true${parallel ? `; GNU parallel -j8: ${rate(parallel)} tasks/s` : ' (GNU parallel not installed)'}`,
        value: rate(loop),
      },
      ratio: Math.round((loop / manager) * 100) / 100,
      target: '≥ 0.8 of the plain loop',
      met: loop / manager >= 0.8,
      how: 'agentmgr serve --max-concurrency 8 with an agent whose command is /bin/true; one `agentmgr submit --batch` then `agentmgr wait` on all ids; every attempt is durable (3 guarded SQLite transactions), gets its own process group under the exit-status wrapper, a log folder and files',
    };
  } finally {
    await server.stop();
    t.cleanup();
  }
}
