#!/usr/bin/env node
// The check of issue 3, point 11: the collector and its parser against a real nvidia-smi.
//
// Needs only the built collector (dist/, no node_modules) and Node. On a GPU machine:
//   node scripts/real-gpu-check.mjs [--out DIR] [--hold-mb N]
// It records what nvidia-smi printed for the collector's exact queries, parses it, runs the
// collector (both -lms loops) for a few seconds while a process holds VRAM (PyTorch, when it is
// there), and checks every parsed field against the raw text. Prints a report (and writes
// real-gpu.json and real-gpu.txt to --out); exits 1 if a check fails. AGENTMGR_NVIDIA_SMI picks
// another binary (the fake one in test/fixtures, to try the script without a GPU).
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const outDir = opt('--out', null);
const holdMB = Number(opt('--hold-mb', '2048'));
const binary = process.env.AGENTMGR_NVIDIA_SMI ?? 'nvidia-smi';

const { APP_QUERY_ARGS, GPU_QUERY_ARGS, parseAppsCsv, parseGpuCsv } = await import('../dist/src-main/adapters/telemetry/nvidia-smi-parser.js');
const { NvidiaSmiCollector } = await import('../dist/src-main/adapters/telemetry/nvidia-smi-collector.js');

const report = { at: new Date().toISOString(), binary, raw: {}, parsed: {}, collector: null, holder: null, checks: [] };
const check = (name, ok, detail = '') => report.checks.push({ name, ok: Boolean(ok), detail: String(detail) });

async function sh(file, argv) {
  try {
    const r = await run(file, argv, { timeout: 20_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    return { code: e.code ?? null, stdout: e.stdout ?? '', stderr: e.stderr ?? String(e.message) };
  }
}

/** A process that holds VRAM, in its own process group, so the apps query has a row to show. */
async function startHolder() {
  const code = `import sys, time, torch\nx = torch.empty(${holdMB} * 1024 * 1024, dtype=torch.uint8, device='cuda')\nx.fill_(1)\ntorch.cuda.synchronize()\nprint('holding', flush=True)\ntime.sleep(60)\n`;
  const child = spawn('python3', ['-c', code], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let said = '';
  const ready = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 60_000);
    child.stdout.on('data', (d) => {
      said += d;
      if (said.includes('holding')) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    child.stderr.on('data', (d) => (said += d));
    child.on('error', (e) => {
      said += String(e);
      clearTimeout(timer);
      resolve(false);
    });
    child.on('exit', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  return { child, ready, said: said.slice(-2000) };
}

const num = (s) => (s === undefined || /^\[|^n\/?a$/i.test(s.trim()) || s.trim() === '' ? null : Number(s));

report.raw.version = await sh(binary, ['--version']);
report.raw.list = await sh(binary, ['-L']);
const holder = await startHolder();
report.holder = { ready: holder.ready, pid: holder.child.pid ?? null, said: holder.said };
try {
  report.raw.gpu = await sh(binary, GPU_QUERY_ARGS);
  report.raw.apps = await sh(binary, APP_QUERY_ARGS);
  const gpu = parseGpuCsv(report.raw.gpu.stdout);
  const apps = parseAppsCsv(report.raw.apps.stdout);
  report.parsed = { gpu, apps };

  check('--query-gpu exits 0', report.raw.gpu.code === 0, report.raw.gpu.stderr);
  const lines = report.raw.gpu.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  check(
    'every --query-gpu line parses as a GPU',
    gpu.rows.length === lines.length && gpu.problems.length === 0 && lines.length > 0,
    JSON.stringify(gpu.problems),
  );
  lines.forEach((line, i) => {
    const f = line.split(', ');
    const r = gpu.rows[i];
    if (!r) return;
    // The name is the only field that may hold ", ": count the numbers from the end.
    const tail = f.slice(-7);
    const want = {
      index: num(f[0]),
      uuid: f[1],
      totalMB: num(tail[0]),
      usedMB: num(tail[1]),
      freeMB: num(tail[2]),
      utilizationPct: num(tail[3]),
      temperatureC: num(tail[4]),
      powerW: num(tail[5]),
      powerLimitW: num(tail[6]),
    };
    for (const [k, v] of Object.entries(want))
      check(`GPU ${i} ${k}`, v === null ? r[k] === null || k === 'freeMB' : r[k] === v, `raw ${JSON.stringify(v)}, parsed ${JSON.stringify(r[k])}`);
    check(`GPU ${i} name`, r.name === f.slice(2, f.length - 7).join(', '), r.name);
    check(`GPU ${i} used + free <= total`, r.usedMB + r.freeMB <= r.totalMB, `${r.usedMB} + ${r.freeMB} vs ${r.totalMB}`);
  });
  check('--query-compute-apps exits 0', report.raw.apps.code === 0, report.raw.apps.stderr);
  check('every --query-compute-apps line parses', apps.problems.length === 0, JSON.stringify(apps.problems));
  if (holder.ready) {
    const mine = apps.rows.find((r) => r.pid === holder.child.pid);
    check('the VRAM holder is listed with its memory', mine && mine.usedMB !== null && mine.usedMB >= holdMB, JSON.stringify(mine ?? apps.rows));
  }

  // The collector itself: both loops in -lms mode, as the Manager runs them.
  const c = new NvidiaSmiCollector({ binary, intervalMs: 500 });
  const t0 = Date.now();
  await c.start();
  const firstMs = Date.now() - t0;
  let samples = 0;
  const off = c.subscribe(() => (samples += 1));
  await new Promise((r) => setTimeout(r, 4000));
  const cur = c.current();
  off();
  c.stop();
  report.collector = { firstSampleMs: firstMs, notifications: samples, restarts: c.restarts, current: cur };
  check('collector status ok', cur.status.state === 'ok', JSON.stringify(cur.status));
  check('collector sees every GPU', cur.gpus.length === gpu.rows.length, cur.gpus.length);
  check('collector samples keep coming (about 2 a second per loop)', samples >= 4, samples);
  check('collector did not restart', c.restarts === 0, c.restarts);
  if (holder.ready) {
    const p = cur.gpus.flatMap((g) => g.processes ?? []).find((x) => x.pid === holder.child.pid);
    check('collector attributes the holder to its process group', p && p.pgid === holder.child.pid, JSON.stringify(p ?? cur.gpus.map((g) => g.processes)));
  }
} finally {
  try {
    process.kill(-holder.child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

const failed = report.checks.filter((c) => !c.ok);
const text = [
  `nvidia-smi: ${binary}`,
  `--version: ${report.raw.version.stdout.trim() || report.raw.version.stderr.trim()}`,
  `-L: ${report.raw.list.stdout.trim()}`,
  `VRAM holder: ${holder.ready ? `pid ${holder.child.pid}, ${holdMB} MB` : `not started (${holder.said.trim().split('\n').at(-1) ?? 'no python3 with torch'})`}`,
  '',
  `$ nvidia-smi ${GPU_QUERY_ARGS.join(' ')}`,
  report.raw.gpu.stdout.trimEnd() || report.raw.gpu.stderr.trimEnd(),
  '',
  `$ nvidia-smi ${APP_QUERY_ARGS.join(' ')}`,
  report.raw.apps.stdout.trimEnd() || '(no output)',
  '',
  'Collector (both -lms loops, 500 ms, 4 s):',
  JSON.stringify(report.collector?.current ?? null, null, 2),
  '',
  ...report.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.name}${c.ok ? '' : `: ${c.detail}`}`),
  '',
  failed.length === 0 ? `all ${report.checks.length} checks passed` : `${failed.length} of ${report.checks.length} checks failed`,
].join('\n');
console.log(text);
if (outDir) {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'real-gpu.json'), JSON.stringify(report, null, 2));
  writeFileSync(join(outDir, 'real-gpu.txt'), text + '\n');
}
process.exit(failed.length === 0 ? 0 : 1);
