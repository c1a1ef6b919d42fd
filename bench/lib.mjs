// Helpers shared by the benchmarks: start the built `agentmgr serve`, read a process's CPU time.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'bin', 'agentmgr.js');
export const FAKE_SMI = join(ROOT, 'test', 'fixtures', 'nvidia-smi', 'nvidia-smi');
const TICKS = 100;

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS;
}

/** Resident memory of a process, MB. */
export function rssMB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

export function tempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts `agentmgr serve` on a free port; resolves once it says it listens. */
export async function serve(dataDir, env = {}, args = []) {
  // BENCH_SERVE_NODE_ARGS: extra Node flags for the serve process only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = process.env.BENCH_SERVE_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(process.execPath, [...nodeArgs, BIN, 'serve', '--port', '0', '--data-dir', dataDir, '--quiet', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const t0 = performance.now();
  while (!/listening on (http:\/\/127\.0\.0\.1:\d+)/.test(out)) {
    if (child.exitCode !== null || performance.now() - t0 > 20_000) throw new Error(`serve did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)[1];
  return {
    child,
    url,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', resolve);
        child.kill('SIGINT');
      }),
  };
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A seeded random in [0, 1): the same queue in every run. */
export function rng(seed) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

/** A node for the core-level benchmarks: `cpuCores` and RAM as given, one RTX 4060 with 1200 MB used by others. */
export function benchNode(cpuCores, memoryTotalMB, memoryAvailableMB) {
  return {
    cpuCores,
    memoryTotalMB,
    memoryAvailableMB,
    gpus: [
      {
        index: 0,
        uuid: 'GPU-0',
        name: 'RTX 4060',
        totalMB: 8188,
        usedMB: 1200,
        freeMB: 6988,
        utilizationPct: 5,
        temperatureC: 45,
        powerW: 20,
        powerLimitW: 115,
        processes: [],
      },
    ],
    gpuStatus: { state: 'ok', message: null },
  };
}

/** Runs `agentmgr ...` with `input` on stdin; resolves with its stdout (exit 0 only, unless `anyExit`). */
export function agentmgr(args, env, input, anyExit = false) {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('close', (code) => (code === 0 || anyExit ? resolve(out) : reject(new Error(`agentmgr ${args.join(' ')}: exit ${code}: ${err}`))));
    c.stdin.end(input ?? '');
  });
}
