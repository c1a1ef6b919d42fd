#!/usr/bin/env node
// `npm test`: every check, each run even when an earlier one failed, so one failing suite never
// hides another; a summary of all of them at the end; and a last check that fails the run if any
// process a test started is still alive (it is then killed, so nothing outlives the run).
//
// Leftovers are found two ways: every process started under this run inherits a marker in its
// environment (AGENTMGR_TEST_RUN=<id>), and, for processes started with a scrubbed environment,
// command lines that name our fixtures. Processes that matched before the run began (a Manager
// you run yourself) are left alone.
//
// `--steps FILE` runs what FILE says instead: {"steps": [{name, cmd, needs?}], "patterns": [regex]}
// (the test of this script uses it, with patterns of its own so it never touches other tests').
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';

const DEFAULT_STEPS = [
  { name: 'build', cmd: 'npm run build' },
  { name: 'typecheck', cmd: 'npm run typecheck' },
  { name: 'lint', cmd: 'npm run lint' },
  { name: 'format', cmd: 'npm run format:check' },
  { name: 'electron lint', cmd: 'npm run lint:electron', needs: 'build' },
  { name: 'vitest', cmd: 'npx vitest run', needs: 'build' },
  { name: 'chaos', cmd: 'node scripts/chaos.mjs --quick', needs: 'build' },
  { name: 'playwright', cmd: 'npx playwright test', needs: 'build' },
];
const DEFAULT_PATTERNS = [/test\/fixtures\//, /agentmgr-agent/, /agentmgr\.js serve/, /fake-resident/, /steam_app/];
const MARKER = 'AGENTMGR_TEST_RUN';

const stepsArg = process.argv.indexOf('--steps');
const plan = stepsArg > 0 ? JSON.parse(readFileSync(process.argv[stepsArg + 1], 'utf8')) : null;
const steps = plan ? plan.steps : DEFAULT_STEPS;
const patterns = plan ? (plan.patterns ?? []).map((p) => new RegExp(p)) : DEFAULT_PATTERNS;
const runId = randomUUID();

/** Every process on the machine as {pid, cmd, marked}; Linux's /proc, the only place we run tests. */
function processes() {
  const out = [];
  let entries = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let cmd = '';
    let marked = false;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    } catch {
      continue; // gone
    }
    try {
      marked = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`${MARKER}=${runId}`);
    } catch {
      // not ours to read
    }
    if (cmd === '') continue; // a zombie or kernel thread
    out.push({ pid, cmd, marked });
  }
  return out;
}
const suspicious = (p) => p.marked || patterns.some((re) => re.test(p.cmd));
const before = new Set(
  processes()
    .filter(suspicious)
    .map((p) => p.pid),
);

function run(step) {
  return new Promise((resolve) => {
    const started = Date.now();
    console.log(`\n━━ ${step.name}: ${step.cmd}`);
    const child = spawn(step.cmd, { shell: true, stdio: 'inherit', env: { ...process.env, [MARKER]: runId } });
    const stop = () => child.kill('SIGTERM');
    process.once('SIGINT', stop);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', stop);
      resolve({ code: code ?? (signal ? 1 : 0), seconds: Math.round((Date.now() - started) / 1000) });
    });
  });
}

const results = [];

// The Slurm executor's tests need a cluster: the one-machine one of scripts/slurm-dev.sh, started
// here where Slurm's daemons are installed and we are root (CI installs them), stopped at the end.
// Elsewhere its tests are skipped, and the summary says so.
const onPath = (cmd) => (process.env.PATH ?? '').split(':').some((d) => d && readdirSafe(d).includes(cmd));
function readdirSafe(d) {
  try {
    return readdirSync(d);
  } catch {
    return [];
  }
}
let slurmStarted = false;
if (!plan) {
  const missing = ['munged', 'slurmctld', 'slurmd', 'sbatch'].filter((c) => !onPath(c));
  if (missing.length > 0 || process.getuid?.() !== 0) {
    results.push({
      name: 'slurm',
      // Not a failure: a machine without Slurm cannot run them.
      status: 'absent',
      detail:
        missing.length > 0
          ? `${missing.join(', ')} not installed: the Slurm tests were skipped (apt-get install munge slurmctld slurmd slurm-client)`
          : 'not root: the Slurm tests were skipped',
    });
  } else {
    const dev = new URL('./slurm-dev.sh', import.meta.url).pathname;
    try {
      const wasUp = execFileSync(dev, ['status'], { encoding: 'utf8' }).includes('slurmctld: running');
      console.log(`\n━━ slurm: ${execFileSync(dev, ['start'], { encoding: 'utf8', timeout: 120_000 }).trim()}`);
      slurmStarted = !wasUp;
      process.env.SLURM_CONF = execFileSync(dev, ['env'], { encoding: 'utf8' })
        .trim()
        .replace(/^export SLURM_CONF=/, '');
      process.env.AGENTMGR_REQUIRE_SLURM = '1';
      results.push({ name: 'slurm', status: 'ok', detail: 'the dev cluster is up: the Slurm tests run' });
    } catch (e) {
      results.push({
        name: 'slurm',
        status: 'FAILED',
        detail: `scripts/slurm-dev.sh start failed: ${String(e.stderr || e.message)
          .trim()
          .slice(0, 200)}`,
      });
    }
  }
}

for (const step of steps) {
  const needed = step.needs && results.find((r) => r.name === step.needs);
  if (needed && needed.status !== 'ok') {
    results.push({ name: step.name, status: 'skipped', detail: `${step.needs} failed` });
    continue;
  }
  const { code, seconds } = await run(step);
  results.push({ name: step.name, status: code === 0 ? 'ok' : 'FAILED', detail: code === 0 ? `${seconds} s` : `exit ${code}, ${seconds} s` });
}

if (slurmStarted) {
  try {
    execFileSync(new URL('./slurm-dev.sh', import.meta.url).pathname, ['stop'], { stdio: 'inherit', timeout: 60_000 });
  } catch {
    results.push({ name: 'slurm stop', status: 'FAILED', detail: 'scripts/slurm-dev.sh stop failed' });
  }
}

// Teardown may still be finishing when the last step exits: give survivors a few seconds.
const leftovers = () => processes().filter((p) => suspicious(p) && !before.has(p.pid));
let left = await leftovers();
for (const deadline = Date.now() + 5000; left.length > 0 && Date.now() < deadline; left = await leftovers()) {
  await new Promise((r) => setTimeout(r, 250));
}
if (left.length > 0) {
  for (const p of left) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  results.push({ name: 'leftovers', status: 'FAILED', detail: `${left.length} process(es) outlived the tests (killed now)` });
} else {
  results.push({ name: 'leftovers', status: 'ok', detail: 'no test process outlived the run' });
}

const width = Math.max(...results.map((r) => r.name.length));
console.log('\n━━ summary');
for (const r of results) console.log(`  ${r.name.padEnd(width)}  ${r.status.padEnd(7)}  ${r.detail}`);
for (const p of left) console.log(`  left behind: pid ${p.pid}: ${p.cmd.slice(0, 200)}`);
const failed = results.filter((r) => r.status !== 'ok' && r.status !== 'absent');
console.log(failed.length === 0 ? '\nall checks passed' : `\n${failed.length} check(s) did not pass: ${failed.map((r) => r.name).join(', ')}`);
process.exit(failed.length === 0 ? 0 : 1);
