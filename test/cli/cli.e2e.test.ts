import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/fakes.js';
import { FIXTURE_AGENTS } from '../helpers/fixture-agents.js';
import { waitFor } from '../helpers/wait.js';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'agentmgr.js');
const t = tempDir();
const env = {
  ...process.env,
  AGENTMGR_DATA_DIR: t.dir,
  AGENTMGR_NVIDIA_SMI: '/nonexistent/nvidia-smi',
  AGENTMGR_KILL_GRACE_MS: '300',
  AGENTMGR_URL: '',
  AGENTMGR_TOKEN: '',
};
delete (env as Record<string, string | undefined>).AGENTMGR_URL;
delete (env as Record<string, string | undefined>).AGENTMGR_TOKEN;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `agentmgr ...` as a person would, piped (not a terminal). */
function cli(args: string[], input?: string, extraEnv: NodeJS.ProcessEnv = {}): Result {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...env, ...extraEnv },
    input,
    encoding: 'utf8',
    timeout: 30_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const json = <T = unknown>(r: Result): T => {
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};

let server: ChildProcess | null = null;
let serverOut = '';

async function serve(): Promise<void> {
  serverOut = '';
  server = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--agents-dir', FIXTURE_AGENTS, '--max-concurrency', '4'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (d) => (serverOut += d));
  server.stderr!.on('data', (d) => (serverOut += d));
  const end = Date.now() + 20_000;
  while (!serverOut.includes('Press Ctrl-C')) {
    if (Date.now() > end || server.exitCode !== null) throw new Error(`serve did not start:\n${serverOut}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(signal: NodeJS.Signals): Promise<void> {
  const s = server!;
  server = null;
  if (s.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    s.once('exit', () => resolve());
    s.kill(signal);
  });
}

/** A file whose appearance ends the `slow` agents waiting on it; all are written at the end, so none outlives a failed test. */
const gates: string[] = [];
function gateFile(name: string): string {
  gates.push(join(t.dir, name));
  return gates.at(-1)!;
}

beforeAll(serve);
afterAll(async () => {
  for (const g of gates) writeFileSync(g, '');
  if (server) await stop('SIGINT');
  spawnSync('pkill', ['-KILL', '-f', `${t.dir}/runs`]);
  t.cleanup();
});

describe('agentmgr CLI against agentmgr serve', () => {
  it('serve says where it listens, the data dir and the UI URL', () => {
    expect(serverOut).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ \(127\.0\.0\.1 only\)/);
    expect(serverOut).toContain(`data dir:  ${t.dir}`);
    expect(serverOut).toMatch(/UI: +http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]{40,}/);
    expect(serverOut).toMatch(/not loaded: .*bad-json\/agent.json: not valid JSON/);
    const token = readFileSync(join(t.dir, 'api-token'), 'utf8');
    expect(token.trim().length).toBeGreaterThanOrEqual(40);
    // 0600: only its owner can read the token.
    const mode = spawnSync('stat', ['-c', '%a', join(t.dir, 'api-token')], { encoding: 'utf8' }).stdout.trim();
    expect(mode).toBe('600');
  });

  it('submit, wait, list, show, logs', () => {
    const task = json<{ id: number; state: string }>(cli(['submit', 'demo', '--input', '{"seconds":0.3,"steps":3}', '--priority', '4', '--json']));
    expect(task.id).toBeGreaterThan(0);
    const waited = cli(['wait', String(task.id)]);
    expect(waited.code).toBe(0);
    expect(waited.stdout).toContain(`${task.id} succeeded`);
    const list = json<{ id: number; agent: string; state: string; priority: number; progress: number; attempts: number; waitingReason: string | null }[]>(
      cli(['list', '--json']),
    );
    expect(list.find((x) => x.id === task.id)).toMatchObject({ agent: 'demo', state: 'succeeded', priority: 4, progress: 1, attempts: 1, waitingReason: null });
    const plain = cli(['list', '--agent', 'demo']);
    expect(plain.stdout.split('\n')[0]).toMatch(new RegExp(`^${task.id}\\tsucceeded\\tdemo\\t-\\t4\\t100%`));
    expect(cli(['show', String(task.id)]).stdout).toMatch(/state: +succeeded[\s\S]*result: +\{"seconds":0.3,"steps":3,"gpu":""\}/);
    expect(cli(['logs', String(task.id)]).stdout).toMatch(/demo: 0.3 s in 3 steps[\s\S]*attempt 1 ended: exit code 0/);
  });

  it('everyday verbs: run in the caller folder, cancel by filter reporting each id, clean and remove, list --format, show times', async () => {
    // run: the command runs in the caller's folder with its allow-listed environment, and --env adds one.
    const work = join(t.dir, 'work dir');
    mkdirSync(work, { recursive: true });
    const ran = spawnSync(process.execPath, [BIN, 'run', '--env', 'GREETING=hi there', '--wait', '--', 'sh', '-c', 'pwd; echo "$GREETING"; echo "$LANG"'], {
      env: { ...env, LANG: 'C.UTF-8', SECRET_THING: 'x' },
      cwd: work,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(ran.status, ran.stderr).toBe(0);
    const runTask = json<{ id: number; input: { env: Record<string, string> } }[]>(cli(['list', '--agent', 'shell', '--limit', '1', '--json']))[0]!;
    expect(runTask.input.env).toMatchObject({ GREETING: 'hi there', LANG: 'C.UTF-8' });
    expect(runTask.input.env.SECRET_THING).toBeUndefined();
    expect(cli(['logs', String(runTask.id)]).stdout).toMatch(new RegExp(`${work}\\n(.*\\n)?hi there\\nC\\.UTF-8`));

    // cancel by filter: every matching task is reported, not just the first.
    const held = [0, 1, 2].map(() => json<{ id: number }>(cli(['submit', 'ok', '--hold', '--name', 'sweep-me', '--json'])).id);
    const c = cli(['cancel', '--name', 'sweep-me']);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout).toContain(`cancelled 3 task(s): ${[...held].reverse().join(', ')}`);
    // By id, one bad id does not stop the others; each failure is named.
    const again = cli(['cancel', String(held[0]), '999999']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(new RegExp(`task ${held[0]}: .*already ended[\\s\\S]*task 999999: no task with id 999999`));

    // list --format and show's local times and durations.
    const f = cli(['list', '--name', 'sweep-me', '--format', 'id,name,state,ended']);
    expect(f.stdout.split('\n')[0]).toMatch(/^ID +NAME +STATE +ENDED$/);
    expect(f.stdout).toMatch(new RegExp(`^${held[0]} +sweep-me +cancelled +\\d\\d:\\d\\d:\\d\\d$`, 'm'));
    expect(cli(['show', String(runTask.id)]).stdout).toMatch(/started: +\d\d:\d\d:\d\d[\s\S]*ended: +\d\d:\d\d:\d\d[\s\S]*ran for: +\d+(\.\d)?s/);

    // remove refuses what has not ended; clean removes ended tasks with their files.
    const live = json<{ id: number }>(cli(['submit', 'ok', '--hold', '--json'])).id;
    const r = cli(['remove', String(live), String(held[1])]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`removed 1 task\\(s\\): ${held[1]}[\\s\\S]*task ${live}: it is queued; only an ended task can be removed`));
    expect(cli(['show', String(held[1])]).stderr).toMatch(/no task with id/);
    expect(existsSync(join(t.dir, 'runs', String(runTask.id)))).toBe(true);
    const cleaned = json<{ removed: number; kept: number }>(cli(['clean', '--json']));
    expect(cleaned.removed).toBeGreaterThan(0);
    expect(json<{ state: string }[]>(cli(['list', '--json'])).every((x) => ['queued', 'running', 'starting'].includes(x.state))).toBe(true);
    await waitFor(() => !existsSync(join(t.dir, 'runs', String(runTask.id))), "the removed task's run folder is deleted", 10_000);
    cli(['cancel', String(live)]);
  });

  it('global flags before the command, agents NAME, agents picked up without a restart, completion scripts', async () => {
    expect(json<{ queue: unknown }>(cli(['--json', 'status'])).queue).toBeDefined();
    expect(cli(['--data-dir', t.dir, 'list', '--limit', '1']).code).toBe(0);
    const demo = cli(['agents', 'demo']);
    expect(demo.stdout).toMatch(/^demo/);
    expect(demo.stdout).toMatch(/input:\n +seconds +number[\s\S]*example: +agentmgr submit demo --input '\{/);
    expect(cli(['agents', 'nope']).stderr).toMatch(/no agent "nope"; agents are: .*demo/);
    // A new agent folder in the data dir is listed once written, without a restart.
    const dir = join(t.dir, 'agents', 'fresh');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\necho fresh\n', { mode: 0o755 });
    writeFileSync(join(dir, 'agent.json'), JSON.stringify({ name: 'fresh', command: ['./run.sh'] }));
    await waitFor(() => cli(['agents']).stdout.includes('fresh'), 'the new agent is picked up', 15_000, 200);
    writeFileSync(join(dir, 'agent.json'), '{ not json');
    const reloaded = cli(['agents', '--reload']);
    expect(reloaded.stdout).toMatch(/reloaded: \d+ agent\(s\), \d+ not loaded/);
    expect(reloaded.stdout).toMatch(/not loaded: .*fresh\/agent\.json/);
    const bash = cli(['completion', 'bash']);
    expect(bash.stdout).toContain('complete -o default -F _agentmgr agentmgr');
    expect(bash.stdout).toMatch(/run\) flags="[^"]*--cwd[^"]*--env/);
    // The script is valid bash, and completes a command from its first letters.
    const probe = spawnSync('bash', ['-c', `${bash.stdout}\nCOMP_WORDS=(agentmgr sta); COMP_CWORD=1; _agentmgr; echo "\${COMPREPLY[@]}"`], {
      encoding: 'utf8',
    });
    expect(probe.stdout.trim()).toBe('status');
    expect(cli(['completion', 'zsh']).stdout).toMatch(/^#compdef agentmgr/);
  });

  it('one task per --file, and --wait', () => {
    const a = join(t.dir, 'a.txt');
    const b = join(t.dir, 'b.bin');
    writeFileSync(a, 'hello\n');
    writeFileSync(b, Buffer.alloc(300_000, 7));
    const r = cli(['submit', 'sha256', '--file', a, '--file', b, '--wait', '--json']);
    expect(r.code).toBe(0);
    const tasks = JSON.parse(r.stdout) as { input: { file: string }; state: string; result: { sha256: string } }[];
    expect(tasks.map((x) => [x.input.file, x.state])).toEqual([
      [a, 'succeeded'],
      [b, 'succeeded'],
    ]);
    expect(tasks[0]!.result.sha256).toBe('5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03');
  });

  it('submit --begin: the task waits until then and says so; a time in the past is refused', () => {
    const task = json<{ id: number; state: string; notBefore: string; waitingReason: string }>(cli(['submit', 'ok', '--begin', '+2h', '--json']));
    expect(task.state).toBe('queued');
    const at = new Date(task.notBefore).getTime();
    expect(Math.abs(at - (Date.now() + 2 * 3_600_000))).toBeLessThan(60_000);
    expect(cli(['show', String(task.id)]).stdout).toContain(`waiting:    waits to start until ${new Date(at).toISOString()}`);
    const past = cli(['submit', 'ok', '--begin', '2020-01-01T00:00']);
    expect(past.code).not.toBe(0);
    expect(past.stderr).toMatch(/begin 20\d\d-.* is in the past; give a later time/);
    expect(cli(['cancel', String(task.id)]).code).toBe(0);
  });

  it('submit --hold, hold and release: a held task waits, saying so, and runs once released', () => {
    const task = json<{ id: number; held: boolean }>(cli(['submit', 'ok', '--hold', '--json']));
    expect(task.held).toBe(true);
    expect(cli(['list']).stdout).toMatch(new RegExp(`^${task.id}\\theld\\tok\\t.*held: it starts once released`, 'm'));
    expect(cli(['hold', String(task.id)]).stdout).toContain(`task ${task.id}: held`);
    expect(cli(['release', String(task.id)]).stdout).toContain(`task ${task.id}: released`);
    expect(cli(['wait', String(task.id)]).code).toBe(0);
    const again = cli(['release', String(task.id)]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/only a held task can be released/);
  });

  it('wait on one batch of many tasks reads where they stand with the list, page by page, and sees them all to their end', () => {
    // A task before the batch, outside the range the list's pages cover from the batch down.
    const earlier = json<{ id: number }>(cli(['submit', 'ok', '--json'])).id;
    const r = json<{ id: number }[]>(cli(['submit', '--batch', '-', '--json'], Array.from({ length: 30 }, () => '{"agent": "ok"}').join('\n')));
    const w = cli(['wait', String(earlier), ...r.map((x) => String(x.id)), '--json']);
    expect(w.code).toBe(0);
    const tasks = json<{ id: number; state: string }[]>(w);
    expect(tasks.map((t) => t.id).sort((a, b) => a - b)).toEqual([earlier, ...r.map((x) => x.id)]);
    expect(new Set(tasks.filter((t) => r.some((x) => x.id === t.id)).map((t) => t.state))).toEqual(new Set(['succeeded']));
    expect(cli(['wait', '999999', ...r.map((x) => String(x.id))]).stderr).toMatch(/999999/);
  });

  it('submit --batch from stdin: one request, one transaction', () => {
    const lines = [
      '{"agent": "ok"}',
      '# a comment',
      '',
      '{"agent": "demo", "input": {"seconds": 0.1}, "priority": 2}',
      '{"agent": "ok", "name": "third"}',
    ].join('\n');
    const r = json<{ id: number; name: string | null }[]>(cli(['submit', '--batch', '-', '--json'], lines));
    expect(r.map((x) => x.name)).toEqual([null, null, 'third']);
    expect(cli(['wait', ...r.map((x) => String(x.id))]).code).toBe(0);
    const before = json<unknown[]>(cli(['list', '--json'])).length;
    const bad = cli(['submit', '--batch', '-'], '{"agent": "ok"}\n{"agent": "nope"}\n');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/batch line 2: unknown agent "nope".*nothing was submitted/);
    const broken = cli(['submit', '--batch', '-'], '{"agent": "ok"}\n{not json\n');
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/batch line 2: not valid JSON/);
    expect(json<unknown[]>(cli(['list', '--json'])).length).toBe(before);
  });

  it.each([
    [['submit', 'nope'], 1, /unknown agent "nope"; known agents: /],
    [['submit', 'demo', '--input', '{bad'], 2, /--input is not valid JSON/],
    [['submit', 'demo', '--input', '[1]'], 2, /--input must be a JSON object/],
    [['submit', 'demo', '--input', '{"seconds":-1}'], 1, /input for agent demo is invalid: `seconds` must be at least 0/],
    [['submit', 'demo', '--input', '{"secs":1}'], 1, /unknown input property `secs`; this agent takes: seconds, vramMB, steps, fail/],
    [
      ['submit', 'demo', '--vram', '2000'],
      1,
      /no GPU can be seen on this machine \(nvidia-smi not found: no NVIDIA driver on this machine[^)]*\): submit it without one \(--gpus 0, or resources.gpu null\), or with --wait-for-gpu/,
    ],
    [['submit', 'demo', '--memory', '9000000'], 1, /can never run on this machine: it needs 9000000 MB RAM but this machine has/],
    [['submit', 'demo', '--memory=-5'], 2, /--memory cannot be negative, got "-5"/],
    [['submit', 'demo', '--memory', '-5'], 2, /--memory cannot be negative, got "-5"/],
    [['submit', 'demo', '--memory', 'abc'], 2, /--memory must be a whole number from 0 to \d+, got "abc"/],
    [['settings', 'maxConcurrency=abc'], 2, /maxConcurrency=abc: "abc" is not a number; give a number\. How many tasks may run/],
    [['settings', 'gpuMaxTempC=hot'], 2, /gpuMaxTempC=hot: "hot" is not a number; give a number, or none/],
    [['settings', 'maxConcurrency=0'], 2, /maxConcurrency=0: /],
    [['project', 'set', 'team', 'maxRunning=lots'], 2, /maxRunning=lots: "lots" is not a number; give a whole number, or none/],
    [['list', '--format', 'id,bogus'], 2, /no column "bogus"; columns are: id, state/],
    [['clean', '--state', 'queued'], 2, /clean removes ended tasks only; queued is not ended/],
    [['clean', '--older-than', 'soon'], 2, /--older-than takes a duration like 7d/],
    [['run'], 2, /run needs a command/],
    [['run', '--cwd', '/no/such/dir', '--', 'true'], 2, /--cwd \/no\/such\/dir: no such folder/],
    [['run', '--env', 'AGENT_NAME=x', '--', 'true'], 2, /--env AGENT_NAME: the Manager sets this one itself/],
    [['statsu'], 2, /unknown command "statsu" \(did you mean `status`\?\)/],
    [['completion', 'fish'], 2, /completion takes bash or zsh/],
    [['submit', 'sha256', '--file', '/nonexistent/x'], 2, /--file \/nonexistent\/x: no such file/],
    [['submit', 'sha256', '--file', '/tmp'], 2, /not a regular file/],
    [['show', 'abc'], 2, /"abc" is not a task id/],
    [['show', '99999'], 1, /no task with id 99999/],
    [['list', '--state', 'bogus'], 2, /unknown state "bogus"/],
    [['frobnicate'], 2, /unknown command "frobnicate"/],
    [['list', '--nope'], 2, /Unknown option '--nope'[\s\S]*agentmgr help list/],
  ])('agentmgr %j fails clearly', (args, code, message) => {
    const r = cli(args);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
  });

  it('wait exits non-zero when a task fails, and 124 on timeout; cancel and retry', () => {
    const failed = json<{ id: number }>(cli(['submit', 'fail', '--retries', '0', '--json']));
    const w = cli(['wait', String(failed.id)]);
    expect(w.code).toBe(1);
    expect(w.stderr).toMatch(/did not succeed: \d+ failed/);
    const hang = json<{ id: number }>(cli(['submit', 'hang', '--json']));
    expect(cli(['wait', String(hang.id), '--timeout', '1']).code).toBe(124);
    expect(cli(['cancel', String(hang.id)]).code).toBe(0);
    expect(cli(['wait', String(hang.id)]).code).toBe(1);
    expect(json<{ state: string }>(cli(['show', String(hang.id), '--json'])).state).toBe('cancelled');
    const again = cli(['retry', String(failed.id)]);
    expect(again.stdout).toMatch(/queued again \(attempt 2 of 2\)/);
  });

  it('agents, status, pause and resume', () => {
    const agents = json<{ agents: { name: string }[] }>(cli(['agents', '--json']));
    expect(agents.agents.map((a) => a.name)).toEqual(expect.arrayContaining(['demo', 'sha256', 'shell']));
    expect(cli(['agents']).stdout).toMatch(/^NAME +DECLARED +LEARNED +ACCEPTS +DESCRIPTION$/m);
    expect(cli(['agents']).stdout).toMatch(/^demo +0.1 CPU, 64 MB +(-|.* \(\d+ runs\)) +- +Sleeps/m);
    expect(cli(['pause']).stdout).toMatch(/paused/);
    const st = json<{ queue: { paused: boolean } }>(cli(['status', '--json']));
    expect(st.queue.paused).toBe(true);
    const text = cli(['status']).stdout;
    expect(text).toMatch(/Queue: +PAUSED/);
    expect(text).toMatch(/GPU: +none visible \(nvidia-smi not found/);
    cli(['resume']);
  });

  it("submit checks what it can: a file the agent does not take (--force overrides), an empty file warned of, a relative path in --input or a batch is the caller's", () => {
    const notes = join(t.dir, 'notes.txt');
    writeFileSync(notes, 'hello\n');
    // (comfyui asks for a GPU, and this server has none: --wait-for-gpu lets it wait for one.)
    const refused = cli(['submit', 'comfyui', '--file', notes, '--hold', '--wait-for-gpu']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/agent comfyui takes \.json files, not \.txt \(.*notes\.txt\); pick another agent, or submit it anyway with --force/);
    const forced = json<{ id: number; input: { file: string }; held: boolean }>(
      cli(['submit', 'comfyui', '--file', notes, '--hold', '--force', '--wait-for-gpu', '--json']),
    );
    expect(forced).toMatchObject({ held: true, input: { file: notes } });
    cli(['cancel', String(forced.id)]);
    const empty = join(t.dir, 'empty.bin');
    writeFileSync(empty, '');
    const warned = cli(['submit', 'sha256', '--file', empty, '--wait']);
    expect(warned.stderr).toMatch(/warning: --file .*empty\.bin is empty \(0 bytes\); submitted anyway/);
    expect(warned.code).toBe(0);
    // Relative to where the command runs, not to the Manager.
    const run = (args: string[], input?: string) => spawnSync(process.execPath, [BIN, ...args], { env, cwd: t.dir, input, encoding: 'utf8', timeout: 30_000 });
    const rel = JSON.parse(run(['submit', 'sha256', '--input', '{"file": "notes.txt"}', '--hold', '--json']).stdout) as { id: number; input: { file: string } };
    expect(rel.input.file).toBe(notes);
    const batch = JSON.parse(run(['submit', '--batch', '-', '--json'], '{"agent": "sha256", "input": {"file": "notes.txt"}, "hold": true}\n').stdout) as
      { id: number; input: { file: string } } | { id: number; input: { file: string } }[];
    const fromBatch = Array.isArray(batch) ? batch[0]! : batch;
    expect(fromBatch.input.file).toBe(notes);
    // Defaults from the agent's schema are stored with the task.
    const demo = json<{ id: number; input: Record<string, unknown> }>(cli(['submit', 'demo', '--input', '{"seconds": 0.1}', '--hold', '--json']));
    expect(demo.input).toEqual({ seconds: 0.1, vramMB: 0, steps: 10, fail: false });
    for (const id of [rel.id, fromBatch.id, demo.id]) cli(['cancel', String(id)]);
  });

  it('residents: status names what Ollama holds; pause --free-vram says what it did, line by line; a remote URL needs confirming', async () => {
    const smi = join(t.dir, 'fake-ollama-smi');
    mkdirSync(smi, { recursive: true });
    const fake = spawn(
      process.execPath,
      [join(ROOT, 'test', 'fixtures', 'residents', 'fake-resident.mjs'), 'ollama', '--smi-dir', smi, '--models', 'llama3.1:8b=5600'],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      const { port } = JSON.parse(await new Promise<string>((r) => fake.stdout!.once('data', (d: Buffer) => r(d.toString())))) as { port: number };
      expect(cli(['settings', `ollamaUrl=http://127.0.0.1:${port}`]).code).toBe(0);
      await waitFor(() => /^Ollama: +llama3\.1:8b 5600 MB; 0 MB on the GPU; idle/m.test(cli(['status']).stdout), 'Ollama in status');
      // No GPU on this server: what Ollama reports it holds is on no GPU of ours.
      expect(cli(['status']).stdout).toMatch(/^Ollama: +llama3\.1:8b 5600 MB; 0 MB on the GPU; idle[^;]*; [^;]+ \(policy when-idle\)$/m);
      const freed = cli(['pause', '--free-vram']);
      expect(freed.stdout.trim().split('\n')).toEqual([
        'queue paused: no new task starts (`agentmgr resume` to continue)',
        'Ollama: asked to unload (5600 MB)',
      ]);
      await waitFor(() => /^Ollama: +no model loaded; 0 MB on the GPU/m.test(cli(['status']).stdout), 'the model unloaded');
      cli(['resume']);
      const remote = cli(['settings', 'ollamaUrl=http://10.0.0.2:11434']);
      expect(remote.code).not.toBe(0);
      expect(remote.stderr).toMatch(/ollamaUrl http:\/\/10\.0\.0\.2:11434 is not on this machine .*residentRemoteAllowed=true/);
    } finally {
      fake.kill('SIGKILL');
      cli(['settings', 'ollamaUrl=off']);
    }
  });

  it('settings: shows them, changes them live, and says what a bad one should be', () => {
    const shown = cli(['settings']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^maxConcurrency\s+4\s+How many tasks may run at the same time/m);
    expect(shown.stdout).toMatch(/^reserveAfterSec\s+60\s/m);
    const changed = json<{ maxConcurrency: number; reserveAfterSec: number; desktopNotifications: boolean }>(
      cli(['settings', 'maxConcurrency=3', 'reserveAfterSec=0', 'desktopNotifications=false', '--json']),
    );
    expect(changed).toMatchObject({ maxConcurrency: 3, reserveAfterSec: 0, desktopNotifications: false });
    expect(json<{ queue: { maxConcurrency: number } }>(cli(['status', '--json'])).queue.maxConcurrency).toBe(3);
    const unknown = cli(['settings', 'maxConcurency=3']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown setting "maxConcurency"; settings are: maxConcurrency, vramMarginMB/);
    const bad = cli(['settings', 'maxConcurrency=0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/maxConcurrency=0: Too small.*How many tasks may run at the same time \(1–10000\)/);
    expect(cli(['settings', 'telemetryMs']).stderr).toMatch(/give the setting a value: telemetryMs=VALUE/);
    expect(cli(['settings', 'maxConcurrency=4', 'reserveAfterSec=60']).stdout).toMatch(/saved and applied/);
  });

  it('a wrong or missing token says so and where the token is (exit 3); --json errors are JSON; a closed pipe is no crash', () => {
    const wrong = cli(['status'], undefined, { AGENTMGR_TOKEN: 'not-the-token' });
    expect(wrong.code).toBe(3);
    expect(wrong.stderr).toContain(`the API token is wrong or missing`);
    expect(wrong.stderr).toContain(`it is in ${join(t.dir, 'api-token')}`);
    expect(wrong.stderr).toContain('`agentmgr ui` prints a fresh URL');
    expect(wrong.stderr).not.toMatch(/Unable to transform/);
    const asJson = cli(['list', '--json'], undefined, { AGENTMGR_TOKEN: 'not-the-token' });
    expect(asJson.code).toBe(3);
    expect(JSON.parse(asJson.stderr)).toEqual({ error: { code: 'UNAUTHORIZED', message: expect.stringMatching(/the API token is wrong or missing/) } });
    const missing = JSON.parse(cli(['show', '999999', '--json']).stderr) as { error: { code: string; message: string } };
    expect(missing.error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/no task with id 999999/) });
    expect(JSON.parse(cli(['list', '--state', 'nope', '--json']).stderr).error.code).toBe('USAGE');
    // `agentmgr list --json | head -c 10`: the reader goes away; no EPIPE stack trace.
    json(cli(['submit', 'ok', '--array', '0-299', '--hold', '--json']));
    const piped = spawnSync('sh', ['-c', `'${process.execPath}' '${BIN}' list --json | head -c 10`], { env, encoding: 'utf8', timeout: 30_000 });
    expect(piped.status).toBe(0);
    expect(piped.stderr).not.toMatch(/EPIPE|Error/);
    expect(piped.stdout).toHaveLength(10);
    cli(['cancel', '--array', String(json<{ id: number; arrayId: number }[]>(cli(['list', '--state', 'queued', '--limit', '1', '--json']))[0]!.arrayId)]);
  }, 60_000);

  it('tokens: a script token sees and changes its own project only', () => {
    const made = json<{ token: string; id: number; project: string }>(cli(['token', 'create', '--project', 'nightly', '--json']));
    expect(made.project).toBe('nightly');
    expect(made.token).toMatch(/^amp_/);
    const listed = cli(['token', 'list']);
    expect(listed.stdout).toMatch(new RegExp(`^${made.id}\\tnightly\\tamp_`, 'm'));
    expect(listed.stdout).not.toContain(made.token);
    // A script with its token (the URL comes from the data dir, as for a person).
    const asScript = (args: string[]) => cli(args, undefined, { AGENTMGR_TOKEN: made.token });
    cli(['pause']);
    const theirs = json<{ id: number; project: string }>(cli(['submit', 'ok', '--project', 'team', '--json']));
    const mine = json<{ id: number; project: string }>(asScript(['submit', 'ok', '--json']));
    expect([theirs.project, mine.project]).toEqual(['team', 'nightly']);
    expect(json<{ id: number }[]>(asScript(['list', '--json'])).map((x) => x.id)).toEqual([mine.id]);
    const denied = asScript(['cancel', String(theirs.id)]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toMatch(new RegExp(`no task with id ${theirs.id} in project nightly`));
    expect(asScript(['submit', 'ok', '--project', 'team']).stderr).toMatch(/bound to project nightly: it cannot submit to project team/);
    expect(asScript(['pause']).stderr).toMatch(/this needs the main token/);
    expect(json<{ id: number }[]>(cli(['list', '--project', 'team', '--json'])).map((x) => x.id)).toEqual([theirs.id]);
    expect(cli(['token', 'revoke', String(made.id)]).stdout).toMatch(/revoked/);
    expect(asScript(['list']).code).not.toBe(0);
    cli(['cancel', String(theirs.id), String(mine.id)]);
    cli(['resume']);
  }, 120_000);

  it('projects: weights and quotas set, shown in status, refused out of range with clear errors', () => {
    cli(['pause']);
    const queued = json<{ id: number }>(cli(['submit', 'ok', '--project', 'team', '--json']));
    const set = json<{ name: string; weight: number; maxRunning: number | null; maxVramMB: number | null }>(
      cli(['project', 'set', 'team', 'weight=2', 'maxRunning=4', 'maxVramMB=6000', '--json']),
    );
    expect(set).toMatchObject({ name: 'team', weight: 2, maxRunning: 4, maxVramMB: 6000 });
    expect(cli(['project', 'list']).stdout).toMatch(/^team: weight 2 \(at most 4 running, 6000 MB VRAM\); 0 running, 1 queued;/m);
    expect(cli(['status']).stdout).toMatch(/^Projects: .*team 0 % of use \(share \d+ %, 0 running, 1 queued\)/m);
    for (const [args, why] of [
      [['project', 'set', 'team', 'weight=0'], /weight=0: weight must be more than 0/],
      [['project', 'set', 'team', 'weight=-2'], /weight must be more than 0/],
      [['project', 'set', 'team', 'maxRunning=-1'], /maxRunning=-1: maxRunning must be 0 or more/],
      [['project', 'set', 'team', 'maxVramMB=-5'], /maxVramMB must be 0 or more/],
      [['project', 'set', 'team', 'speed=3'], /unknown project setting "speed"; they are: weight, maxRunning, maxVramMB, maxQueued/],
      [['project', 'set', 'bad name!', 'weight=1'], /a project name is 1–64 letters/],
      [['submit', 'ok', '--project', '../x'], /--project \.\.\/x: a project name is 1–64 letters/],
      [['token', 'create'], /token create needs --project NAME/],
      [['submit', 'ok', '--preemptible', 'maybe'], /--preemptible takes true or false, not "maybe"/],
    ] as const) {
      const r = cli([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(why);
    }
    // The refused ones changed nothing; none removes a quota.
    expect(json<{ maxRunning: number | null; weight: number }>(cli(['project', 'set', 'team', 'maxRunning=none', '--json']))).toMatchObject({
      weight: 2,
      maxRunning: null,
    });
    const pre = json<{ id: number; preemptible: boolean }>(cli(['submit', 'ok', '--preemptible', 'true', '--json']));
    expect(pre.preemptible).toBe(true);
    cli(['cancel', String(pre.id)]);
    cli(['cancel', String(queued.id)]);
    cli(['resume']);
  }, 120_000);

  it('settings: GPU limits for every GPU and for one, refused outside their ranges, none removes one', () => {
    const set = json<Record<string, unknown>>(cli(['settings', 'gpuMaxUtilPct=90', 'gpuMaxTempC=83', 'gpuMaxUtilPct.1=70', '--json']));
    expect(set).toMatchObject({ gpuMaxUtilPct: 90, gpuMaxTempC: 83, gpuMaxPowerW: null, gpuLimits: { 1: { maxUtilPct: 70 } } });
    // Another GPU's limit keeps the first.
    expect(json<Record<string, unknown>>(cli(['settings', 'gpuMaxTempC.0=80', '--json'])).gpuLimits).toEqual({ 0: { maxTempC: 80 }, 1: { maxUtilPct: 70 } });
    const shown = cli(['settings']).stdout;
    expect(shown).toMatch(/^gpuMaxUtilPct\s+90\s+No new GPU task starts on a GPU busier than this/m);
    expect(shown).toMatch(/^gpuMaxPowerW\s+none\s/m);
    expect(shown).toMatch(/^gpuLimits\s+GPU 0: maxTempC=80; GPU 1: maxUtilPct=70\s/m);
    for (const [word, why] of [
      ['gpuMaxUtilPct=0', /gpuMaxUtilPct=0: maxUtilPct must be 1–100 \(%\)/],
      ['gpuMaxUtilPct=101', /gpuMaxUtilPct=101: maxUtilPct must be 1–100 \(%\)/],
      ['gpuMaxUtilPct.1=150', /gpuLimits\.1\.maxUtilPct: maxUtilPct must be 1–100 \(%\)/],
      ['gpuMaxTempC=10', /maxTempC must be 30–120/],
      ['gpuMaxPowerW=-5', /maxPowerW must be 1–2000/],
    ] as const) {
      const bad = cli(['settings', word]);
      expect(bad.code, word).toBe(2);
      expect(bad.stderr, word).toMatch(why);
    }
    // Fair share's half-life and preemption's minimum run, live.
    expect(json<Record<string, unknown>>(cli(['settings', 'usageHalfLifeSec=1800', 'preemptMinRunSec=30', '--json']))).toMatchObject({
      usageHalfLifeSec: 1800,
      preemptMinRunSec: 30,
    });
    expect(cli(['settings', 'usageHalfLifeSec=10']).stderr).toMatch(/usageHalfLifeSec=10: Too small.*60–2592000/);
    cli(['settings', 'usageHalfLifeSec=3600', 'preemptMinRunSec=60']);
    // Nothing was changed by the refused ones; none removes a limit.
    const after = json<Record<string, unknown>>(
      cli(['settings', 'gpuMaxUtilPct=none', 'gpuMaxTempC=none', 'gpuMaxTempC.0=none', 'gpuMaxUtilPct.1=none', '--json']),
    );
    expect(after).toMatchObject({ gpuMaxUtilPct: null, gpuMaxTempC: null, gpuLimits: {} });
  });

  it('on a terminal: list prints a table, wait draws progress bars', () => {
    // `script` gives the CLI a pseudo-terminal, as a person's shell would.
    const tty = (args: string[]) =>
      spawnSync('script', ['-qfec', [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' '), '/dev/null'], {
        env: { ...env, COLUMNS: '120' },
        encoding: 'utf8',
        timeout: 30_000,
      });
    const task = json<{ id: number }>(cli(['submit', 'demo', '--input', '{"seconds":0.5,"steps":5}', '--json']));
    const w = tty(['wait', String(task.id)]);
    expect(w.status).toBe(0);
    expect(w.stdout).toMatch(new RegExp(`#${task.id} demo +█{20} 100% succeeded`));
    expect(w.stdout).toContain('\x1b[2K');
    const l = tty(['list', '--limit', '3']);
    expect(l.stdout).toMatch(/^ID +STATE +AGENT +NAME +PRI +PROGRESS +ATTEMPTS +STARTED +DURATION +ENDED +NOTE\r?$/m);
    expect(l.stdout).toMatch(new RegExp(`^${task.id} +succeeded +demo +- +0 +100% +1/1 +\\d\\d:\\d\\d:\\d\\d +\\d+\\.\\ds +\\d\\d:\\d\\d:\\d\\d `, 'm'));
  });

  it('logs --follow prints the log live until the task ends', () => {
    const task = json<{ id: number }>(cli(['submit', 'slow', '--input', '{"seconds":0.6}', '--json']));
    const r = cli(['logs', String(task.id), '--follow']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/attempt 1 started[\s\S]*attempt 1 ended: exit code 0/);
  });

  it('a restart of the server while agents run re-adopts them (clean stop, then a crash)', async () => {
    // Each task ends when the test says so (a file appears), not after a time a loaded machine may overrun.
    const [endLong, endShort] = [gateFile('end-long'), gateFile('end-short')];
    const batch = [endLong, endShort].map((f) => JSON.stringify({ agent: 'slow', input: { untilFile: f } })).join('\n') + '\n';
    const r = json<{ id: number }[]>(cli(['submit', '--batch', '-', '--json'], batch));
    const [long, short] = r.map((x) => x.id) as [number, number];
    const running = () => json<{ state: string }[]>(cli(['list', '--state', 'running', '--json'])).length;
    await waitFor(() => running() === 2, 'both tasks to run', 30_000);
    await stop('SIGINT');
    expect(existsSync(join(t.dir, 'server.json'))).toBe(false);
    expect(cli(['list']).stderr).toMatch(/no Manager is running for/);
    await serve();
    await stop('SIGKILL');
    // The short one ends while no Manager watches: its status is left in its attempt folder.
    writeFileSync(endShort, '');
    const exitFile = join(t.dir, 'runs', String(short), '1', 'exit-status');
    await waitFor(() => existsSync(exitFile), 'the short task to end while no Manager runs', 30_000);
    await serve();
    writeFileSync(endLong, '');
    const w = cli(['wait', long.toString(), short.toString(), '--json']);
    expect(w.code).toBe(0);
    for (const task of JSON.parse(w.stdout) as { attempts: number; id: number }[]) expect(task.attempts).toBe(1);
    const longLog = cli(['logs', String(long)]).stdout;
    expect(longLog.match(/re-adopted by a restarted Manager/g)).toHaveLength(2);
    expect(longLog.match(/attempt 1 started/g)).toHaveLength(1);
    expect(longLog).toContain('attempt 1 ended: exit code 0');
    expect(cli(['logs', String(short)]).stdout).toContain('attempt 1 ended: exit code 0 (found on restart)');
  });

  it('workflows: a transcribe → summarise chain survives a Manager restart; a failed step cancels what waits on it', async () => {
    const gate = gateFile('end-transcribe');
    const first = json<{ id: number }>(cli(['submit', 'slow', '--input', JSON.stringify({ untilFile: gate }), '--name', 'transcribe', '--json']));
    const second = json<{ id: number; blocked: boolean; waitingReason: string }>(
      cli(['submit', 'ok', '--dependency', `afterok:${first.id}`, '--name', 'summarise', '--json']),
    );
    expect(second.blocked).toBe(true);
    await waitFor(() => json<{ state: string }>(cli(['show', String(first.id), '--json'])).state === 'running', 'transcribe to run', 30_000);
    expect(cli(['show', String(second.id)]).stdout).toMatch(new RegExp(`waiting: +waits for task ${first.id} \\(running, 50 %\\)`));
    expect(cli(['list']).stdout).toMatch(new RegExp(`^${second.id}\\twaiting\\tok\\t`, 'm'));
    await stop('SIGINT');
    await serve();
    expect(json<{ state: string; blocked: boolean }>(cli(['show', String(second.id), '--json']))).toMatchObject({ state: 'queued', blocked: true });
    writeFileSync(gate, '');
    expect(cli(['wait', String(first.id), String(second.id)]).code).toBe(0);
    const detail = json<{ dependencies: { items: { id: number; state: string }[] } }>(cli(['show', String(second.id), '--json']));
    expect(detail.dependencies.items).toEqual([{ type: 'afterok', id: first.id, state: 'succeeded' }]);

    // A failure down a chain of three: the rest is cancelled, saying why; retry --with-dependents brings it back.
    const batch = [
      { agent: 'fail', ref: 'a', maxAttempts: 1 },
      { agent: 'ok', ref: 'b', dependsOn: [{ type: 'afterok', refs: ['a'] }] },
      { agent: 'ok', dependsOn: [{ type: 'afterok', refs: ['b'] }] },
    ];
    const [a, b, c] = json<{ id: number }[]>(cli(['submit', '--batch', '-', '--json'], batch.map((l) => JSON.stringify(l)).join('\n')));
    expect(cli(['wait', String(a!.id), String(b!.id), String(c!.id)]).code).toBe(1);
    expect(json<{ state: string; error: string }>(cli(['show', String(c!.id), '--json']))).toMatchObject({
      state: 'cancelled',
      error: `dependency ${b!.id} ended cancelled`,
    });
    // Paused, so the failing one does not run (and fail them all) again before we look.
    expect(cli(['pause']).code).toBe(0);
    try {
      const again = cli(['retry', String(a!.id), '--with-dependents']);
      expect(again.code).toBe(0);
      expect(json<{ state: string; blocked: boolean }>(cli(['show', String(c!.id), '--json']))).toMatchObject({ state: 'queued', blocked: true });
      expect(cli(['cancel', String(a!.id)]).code).toBe(0);
      expect(json<{ state: string }>(cli(['show', String(c!.id), '--json'])).state).toBe('cancelled');
    } finally {
      cli(['resume']);
    }
  }, 120_000);

  it('arrays: --array 0-5%2 runs at most two at once, each with its index; list, wait, cancel and retry by --array', async () => {
    const gate = gateFile('end-array');
    const made = json<{ id: number; arrayId: number; arrayIndex: number }[]>(
      cli(['submit', 'slow', '--array', '0-5%2', '--input', JSON.stringify({ untilFile: gate }), '--json']),
    );
    expect(made.map((x) => x.arrayIndex)).toEqual([0, 1, 2, 3, 4, 5]);
    const arrayId = made[0]!.arrayId;
    expect(new Set(made.map((x) => x.arrayId))).toEqual(new Set([arrayId]));
    const states = () => json<{ state: string; waitingReason: string | null }[]>(cli(['list', '--array', String(arrayId), '--json']));
    await waitFor(() => states().filter((x) => x.state === 'running').length === 2, 'two of the array to run', 30_000);
    expect(states().filter((x) => x.state === 'queued')[0]!.waitingReason).toMatch(new RegExp(`^array ${arrayId} runs at most 2 at once \\(2 running\\)`));
    writeFileSync(gate, '');
    const w = cli(['wait', '--array', String(arrayId), '--json']);
    expect(w.code).toBe(0);
    const done = JSON.parse(w.stdout) as { result: { arrayIndex: string }; input: { arrayIndex: number } }[];
    expect(done.map((x) => [x.input.arrayIndex, x.result.arrayIndex])).toEqual([0, 1, 2, 3, 4, 5].map((i) => [i, String(i)]));
    // retry --failed: none failed; cancel: none left
    expect(cli(['retry', '--array', String(arrayId), '--failed']).stdout).toContain(`array ${arrayId}: queued again 0 task(s)`);
    const held = json<{ id: number; arrayId: number }[]>(cli(['submit', 'ok', '--array', '0-2', '--hold', '--json']));
    expect(cli(['cancel', '--array', String(held[0]!.arrayId)]).stdout).toContain(`cancelled 3 task(s)`);
    expect(cli(['retry', '--array', String(held[0]!.arrayId)]).code).toBe(0);
    expect(cli(['wait', '--array', String(held[0]!.arrayId)]).code).toBe(0);
    // several --file: an array over the files, each task named for its file
    const [x, y] = [join(t.dir, 'x.txt'), join(t.dir, 'y.txt')];
    writeFileSync(x, 'x');
    writeFileSync(y, 'y');
    const files = json<{ name: string; arrayId: number }[]>(cli(['submit', 'sha256', '--file', x, '--file', y, '--throttle', '1', '--json']));
    expect(files.map((f) => f.name)).toEqual(['x.txt', 'y.txt']);
    expect(cli(['wait', '--array', String(files[0]!.arrayId)]).code).toBe(0);
  }, 120_000);

  it('submit --json prints every task of a large array (fetched a page at a time), in order', () => {
    const made = json<{ id: number; arrayIndex: number; held: boolean }[]>(cli(['submit', 'ok', '--array', '0-999', '--hold', '--json']));
    expect(made).toHaveLength(1000);
    expect(made.map((m) => m.arrayIndex)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(made.every((m) => m.held)).toBe(true);
    const plain = cli(['submit', 'ok', '--array', '0-49', '--hold']);
    expect(plain.stdout).toMatch(/^submitted 50 task\(s\): (\d+)…(\d+); `agentmgr list --array \1` shows them/);
    expect(cli(['cancel', '--array', String(made[0]!.id)]).stdout).toContain('cancelled 1000 task(s)');
    const other = Number(/submitted 50 task\(s\): (\d+)/.exec(plain.stdout)![1]);
    expect(cli(['cancel', '--array', String(other)]).code).toBe(0);
  }, 60_000);

  it('top and bottom reorder queued tasks within their priority', () => {
    expect(cli(['pause']).code).toBe(0);
    try {
      const made = json<{ id: number }[]>(
        cli(['submit', '--batch', '-', '--json'], '{"agent":"ok","priority":7}\n{"agent":"ok","priority":7}\n{"agent":"ok","priority":7}\n'),
      );
      const ids = made.map((m) => m.id);
      const order = () =>
        json<{ id: number; priority: number; seq: number }[]>(cli(['list', '--state', 'queued', '--json']))
          .filter((m) => ids.includes(m.id))
          .sort((p, q) => p.seq - q.seq)
          .map((m) => m.id);
      expect(cli(['top', String(ids[2])]).stdout).toContain(`task ${ids[2]}: moved to the top of priority 7`);
      expect(order()).toEqual([ids[2], ids[0], ids[1]]);
      cli(['bottom', String(ids[2])]);
      expect(order()).toEqual(ids);
      const bad = cli(['top', '99999']);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/no task with id 99999/);
      for (const id of ids) cli(['cancel', String(id)]);
      const ended = cli(['top', String(ids[0])]);
      expect(ended.stderr).toMatch(/is cancelled; only a queued task can be moved/);
    } finally {
      cli(['resume']);
    }
  }, 60_000);

  it.each([
    [['submit', 'ok', '--dependency', 'afterwards:1'], 2, /--dependency "afterwards:1": unknown dependency type "afterwards"/],
    [['submit', 'ok', '--dependency', 'afterok:99999'], 1, /afterok:99999: there is no task 99999 to depend on/],
    [['submit', 'ok', '--array', '9-1'], 2, /--array: array "9-1": the range 9-1 is reversed; write 1-9/],
    [['submit', 'ok', '--array', '0-100000'], 2, /more than 100,000 tasks/],
    [['submit', 'ok', '--array', '0-3', '--throttle', '0'], 2, /--throttle 0 would never start anything/],
    [['submit', 'ok', '--throttle', '2'], 2, /--throttle limits an array/],
    [['cancel', '--array', '99999'], 1, /no array with id 99999/],
    [['retry', '1', '--failed'], 2, /--failed goes with --array ID/],
  ])('agentmgr %j is refused, saying what to fix, and stores nothing', (args, code, message) => {
    const before = json<unknown[]>(cli(['list', '--json'])).length;
    const r = cli(args);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(json<unknown[]>(cli(['list', '--json'])).length).toBe(before);
  });

  it('a cycle in a batch is refused, naming the line', () => {
    const lines = [
      '{"agent":"ok","ref":"a","dependsOn":[{"type":"afterok","refs":["b"]}]}',
      '{"agent":"ok","ref":"b","dependsOn":[{"type":"afterok","refs":["a"]}]}',
    ];
    const r = cli(['submit', '--batch', '-'], lines.join('\n'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/batch line \d: .*its dependencies make a cycle \((a → b → a|b → a → b)\).*nothing was submitted/);
  });

  it('ui prints the URL with the token (and would open it)', () => {
    const r = json<{ url: string }>(cli(['ui', '--json']));
    const token = readFileSync(join(t.dir, 'api-token'), 'utf8').trim();
    expect(r.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/#token=${token}$`));
    const plain = cli(['ui', '--no-open']);
    expect(plain.stdout.trim()).toBe(r.url);
  });

  it('without a server, says how to start one', async () => {
    await stop('SIGINT');
    const r = cli(['status']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no Manager is running for .*start one with `agentmgr serve`/);
    const r2 = cli(['status'], undefined, { AGENTMGR_URL: 'http://127.0.0.1:9', AGENTMGR_TOKEN: 'x' });
    expect(r2.code).toBe(3);
    expect(r2.stderr).toMatch(/cannot reach the Manager at http:\/\/127.0.0.1:9/);
  });
});
