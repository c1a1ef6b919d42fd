// Submit throughput and latency: 100,000 tasks in batches through the API, and 1,000 single
// submits over HTTP (p50, p99); against the same rows inserted by a raw better-sqlite3 prepared
// statement in one transaction, in the same run.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from '../dist/src-main/cli/client.js';
import { openDb } from '../dist/src-main/adapters/sqlite/db.js';
import { serve, tempDir } from './lib.mjs';

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

/** The floor of the machine: a bare Node HTTP server answering the same requests, same client. */
async function bareRoundTrips(n) {
  const code =
    "require('http').createServer((q, s) => { let b = ''; q.on('data', (d) => (b += d)); q.on('end', () => s.end(JSON.stringify({ ok: b.length }))); }).listen(0, '127.0.0.1', function () { console.log('port ' + this.address().port); });";
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise((resolve) => child.stdout.on('data', (d) => resolve(/port (\d+)/.exec(String(d))?.[1])));
    const body = JSON.stringify({ json: { agent: 'demo', input: { seconds: 1 } } });
    const once = async () =>
      (await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body })).arrayBuffer();
    for (let i = 0; i < 20; i++) await once();
    const lat = [];
    for (let i = 0; i < n; i++) {
      const a = performance.now();
      await once();
      lat.push(performance.now() - a);
    }
    return lat;
  } finally {
    child.kill();
  }
}

export async function submitBench({ tasks, singles }) {
  const t = tempDir('agentmgr-bench-submit-');
  try {
    // Baseline: raw inserts of the same rows, one transaction.
    const raw = openDb(join(t.dir, 'raw.sqlite'));
    const stmt = raw.sqlite.prepare(
      `INSERT INTO tasks (agent, name, state, desired, priority, input, cpu, memory_mb, gpu_count, vram_mb, request_pinned, attempts, max_attempts, backoff_sec, timeout_sec, created_at, updated_at) VALUES ('demo', NULL, 'queued', 'run', 0, '{"seconds":1}', 0.1, 64, 0, 0, 0, 0, 1, 2, 86400, ?, ?)`,
    );
    const r0 = performance.now();
    raw.sqlite.transaction(() => {
      for (let i = 0; i < tasks; i++) stmt.run(Date.now(), Date.now());
    })();
    const rawMs = performance.now() - r0;
    const one = raw.sqlite.prepare(
      `INSERT INTO tasks (agent, state, input, cpu, memory_mb, max_attempts, backoff_sec, created_at, updated_at) VALUES ('demo', 'queued', '{}', 1, 64, 1, 2, 0, 0)`,
    );
    const rawSingle = [];
    for (let i = 0; i < singles; i++) {
      const a = performance.now();
      one.run();
      rawSingle.push(performance.now() - a);
    }
    raw.close();

    const data = join(t.dir, 'data');
    const server = await serve(data, { AGENTMGR_NVIDIA_SMI: '/nonexistent' });
    const token = readFileSync(join(data, 'api-token'), 'utf8').trim();
    const { api, close } = createClient({ url: server.url, token });
    try {
      await api.queue.pause.mutate(); // measure submitting, not running
      const b0 = performance.now();
      for (let done = 0; done < tasks; done += 10_000) {
        await api.tasks.submitBatch.mutate(Array.from({ length: Math.min(10_000, tasks - done) }, () => ({ agent: 'demo', input: { seconds: 1 } })));
      }
      const batchMs = performance.now() - b0;
      await server.stop();
      // Single submits on a fresh store (an HTTP request each, as a script would send them).
      const t2 = tempDir('agentmgr-bench-single-');
      const s2 = await serve(join(t2.dir, 'data'), { AGENTMGR_NVIDIA_SMI: '/nonexistent' });
      const tok2 = readFileSync(join(t2.dir, 'data', 'api-token'), 'utf8').trim();
      // Paused, so what is measured is submitting, not agents starting on the same two cores.
      await fetch(`${s2.url}/trpc/queue.pause`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${tok2}`, 'Content-Type': 'application/json' },
        body: '{}',
      });
      for (let i = 0; i < 20; i++) {
        const r = await fetch(`${s2.url}/trpc/tasks.submit`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${tok2}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ json: { agent: 'demo' } }),
        });
        await r.arrayBuffer(); // warm-up, not measured
      }
      const lat = [];
      for (let i = 0; i < singles; i++) {
        const a = performance.now();
        const r = await fetch(`${s2.url}/trpc/tasks.submit`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${tok2}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ json: { agent: 'demo', input: { seconds: 1 } } }),
        });
        await r.arrayBuffer();
        lat.push(performance.now() - a);
      }
      await s2.stop();
      t2.cleanup();
      const bare = await bareRoundTrips(singles);
      const rate = Math.round((tasks / batchMs) * 1000);
      const rawRate = Math.round((tasks / rawMs) * 1000);
      const r2 = (x) => Math.round(x * 100) / 100;
      return [
        {
          name: `batch submit, ${tasks.toLocaleString('en')} tasks in batches of 10,000 through the API`,
          unit: 'tasks/s',
          value: rate,
          baseline: { name: 'raw better-sqlite3 prepared insert, one transaction', value: rawRate },
          ratio: r2(rate / rawRate),
          target: '≥ 50,000 tasks/s',
          met: rate >= 50_000,
          how: "tasks.submitBatch over HTTP (superjson), each batch validated (zod + the agent's JSON Schema), sized, checked against the machine, committed in one transaction, and queued; queue paused",
        },
        {
          name: `single submit latency over HTTP, p50 / p99 of ${singles.toLocaleString('en')}`,
          unit: 'ms (p99)',
          value: r2(pct(lat, 99)),
          baseline: { name: `raw single-row insert p99 (p50 of submit: ${r2(pct(lat, 50))} ms)`, value: r2(pct(rawSingle, 99)) },
          ratio: r2(pct(lat, 99) / Math.max(0.001, pct(rawSingle, 99))),
          target: 'p99 < 5 ms',
          met: pct(lat, 99) < 5,
          how: `sequential POST /trpc/tasks.submit from Node fetch on loopback to a fresh store (queue paused, 20 warm-up requests), measured from request to full response. For scale, a bare Node HTTP server answering the same requests from the same client: p50 ${r2(pct(bare, 50))} ms, p99 ${r2(pct(bare, 99))} ms`,
        },
      ];
    } finally {
      close();
      await server.stop();
    }
  } finally {
    t.cleanup();
  }
}
