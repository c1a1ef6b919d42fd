// Memory: the Manager's resident memory idle with 100,000 tasks in the store, and at its peak while
// 2,000 tasks flow. Start-up: `agentmgr serve` from launch to a healthy API, with an empty store and
// with 100,000 tasks. Baselines in the same run: a bare Node process (memory), and a bare Node
// HTTP server from launch to its first answer (start-up).
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '../dist/src-main/cli/client.js';
import { BIN, rssMB, serve, sleep, tempDir } from './lib.mjs';

async function healthyAfterLaunch(dataDir, env, args = []) {
  const t0 = performance.now();
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', dataDir, '--quiet', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  while (!/listening on (http:\/\/\S+)/.test(out)) {
    if (child.exitCode !== null) throw new Error(out);
    await sleep(2);
  }
  const url = /listening on (http:\/\/\S+)/.exec(out)[1];
  const token = readFileSync(join(dataDir, 'api-token'), 'utf8').trim();
  for (;;) {
    const r = await fetch(`${url}/trpc/health`, { headers: { Authorization: `Bearer ${token}` } }).catch(() => null);
    if (r?.ok) break;
    await sleep(2);
  }
  const ms = performance.now() - t0;
  return {
    ms,
    child,
    url,
    token,
    stop: () =>
      new Promise((res) => {
        child.once('exit', res);
        child.kill('SIGINT');
      }),
  };
}

async function bareServerStart() {
  const t0 = performance.now();
  const child = spawn(
    process.execPath,
    ['-e', "require('http').createServer((q, s) => s.end('ok')).listen(0, '127.0.0.1', function () { console.log(this.address().port) })"],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const port = await new Promise((r) => child.stdout.once('data', (d) => r(String(d).trim())));
  await (await fetch(`http://127.0.0.1:${port}/`)).text();
  const ms = performance.now() - t0;
  const rss = rssMB(child.pid);
  child.kill();
  return { ms, rss };
}

export async function memoryStartupBench({ tasks, flow }) {
  const t = tempDir('agentmgr-bench-mem-');
  const env = { AGENTMGR_NVIDIA_SMI: '/nonexistent' };
  try {
    const bare = await bareServerStart();
    const empty = await healthyAfterLaunch(join(t.dir, 'empty'), env);
    await empty.stop();

    const data = join(t.dir, 'data');
    const agents = join(t.dir, 'agents');
    mkdirSync(join(agents, 'noop'), { recursive: true });
    writeFileSync(join(agents, 'noop', 'agent.json'), JSON.stringify({ name: 'noop', command: ['/bin/true'], resources: { cpu: 0, memoryMB: 0 } }));
    const filler = await serve(data, env, ['--agents-dir', agents]);
    const token = readFileSync(join(data, 'api-token'), 'utf8').trim();
    let { api, close } = createClient({ url: filler.url, token });
    await api.queue.pause.mutate();
    for (let done = 0; done < tasks; done += 10_000)
      await api.tasks.submitBatch.mutate(Array.from({ length: Math.min(10_000, tasks - done) }, () => ({ agent: 'noop' })));
    close();
    await filler.stop();

    const full = await healthyAfterLaunch(data, env, ['--agents-dir', agents, '--max-concurrency', '8']);
    await sleep(2000);
    const idle = rssMB(full.child.pid);
    // 2,000 tasks flow: resume the (paused) queue with 100,000 noop tasks queued, watch the peak
    // until 2,000 more have ended.
    ({ api, close } = createClient({ url: full.url, token: full.token }));
    let peak = idle;
    const before = (await api.queue.status.query()).counts.succeeded;
    await api.queue.resume.mutate();
    for (;;) {
      peak = Math.max(peak, rssMB(full.child.pid));
      if ((await api.queue.status.query()).counts.succeeded - before >= flow) break;
      await sleep(100);
    }
    await api.queue.pause.mutate();
    close();
    await full.stop();
    const emptyAgain = await healthyAfterLaunch(join(t.dir, 'empty'), env);
    await emptyAgain.stop();
    const r1 = (x) => Math.round(x * 10) / 10;
    return [
      {
        name: `resident memory, idle with ${tasks.toLocaleString('en')} tasks in the store`,
        unit: 'MB',
        value: r1(idle),
        baseline: { name: 'a bare Node HTTP server', value: r1(bare.rss) },
        ratio: r1(idle / bare.rss),
        target: '< 150 MB',
        met: idle < 150,
        how: 'VmRSS of the agentmgr serve process 2 s after start, with the tasks queued (loaded into the scheduler)',
      },
      {
        name: `resident memory at its peak while ${flow.toLocaleString('en')} tasks flow`,
        unit: 'MB',
        value: r1(peak),
        baseline: { name: 'a bare Node HTTP server', value: r1(bare.rss) },
        ratio: r1(peak / bare.rss),
        target: '< 150 MB',
        met: peak < 150,
        how: `VmRSS sampled every 100 ms while ${flow.toLocaleString('en')} /bin/true tasks ran at concurrency 8 from a queue of ${tasks.toLocaleString('en')}`,
      },
      {
        name: 'start-up to a healthy API, empty store',
        unit: 'ms',
        value: Math.round(Math.min(empty.ms, emptyAgain.ms)),
        baseline: { name: 'a bare Node HTTP server, launch to first answer', value: Math.round(bare.ms) },
        ratio: r1(Math.min(empty.ms, emptyAgain.ms) / bare.ms),
        target: '< 1000 ms',
        met: Math.min(empty.ms, emptyAgain.ms) < 1000,
        how: 'from spawning `agentmgr serve` to the first 200 from /trpc/health (best of two; the first includes creating the data dir and database)',
      },
      {
        name: `start-up to a healthy API, ${tasks.toLocaleString('en')} tasks in the store`,
        unit: 'ms',
        value: Math.round(full.ms),
        baseline: { name: 'a bare Node HTTP server, launch to first answer', value: Math.round(bare.ms) },
        ratio: r1(full.ms / bare.ms),
        target: '< 1000 ms',
        met: full.ms < 1000,
        how: 'the same, with the queue loaded from SQLite at start',
      },
    ];
  } finally {
    t.cleanup();
  }
}
