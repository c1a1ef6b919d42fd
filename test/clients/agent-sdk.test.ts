import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from 'agentmgr/agent';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClient, type ApiClient } from '../../src-main/cli/client.js';
import type { HeadlessManager } from '../../src-main/headless.js';
import { runChild } from '../helpers/child.js';
import { tempDir } from '../helpers/fakes.js';
import { until } from '../helpers/residents.js';
import { startTestServer } from '../helpers/server.js';

/**
 * The agent SDKs (clients/node/agent.mjs as `agentmgr/agent`, clients/python/agentmgr/agent.py):
 * what they read from the environment, what they refuse, and, through a whole Manager, agents
 * made by `agent new` on each of them: picked up without a restart, stopped mid-run with a
 * checkpoint, and resumed from it on the next attempt.
 */
const ROOT = join(__dirname, '..', '..');
const t = tempDir();
afterAll(() => t.cleanup());

function attemptEnv(): Record<string, string> {
  const dir = join(t.dir, 'attempt');
  mkdirSync(join(dir, 'artifacts'), { recursive: true });
  writeFileSync(join(dir, 'input.json'), JSON.stringify({ text: 'hi', n: 2 }));
  return {
    AGENT_NAME: 'probe',
    AGENT_TASK_ID: '12',
    AGENT_ATTEMPT: '3',
    AGENT_INPUT_PATH: join(dir, 'input.json'),
    AGENT_ARTIFACTS_DIR: join(dir, 'artifacts'),
    AGENT_STATE_DIR: join(dir, 'state'),
    CUDA_VISIBLE_DEVICES: '0,1',
    AGENT_ARRAY_ID: '7',
    AGENT_ARRAY_INDEX: '4',
    AGENT_PREEMPTIBLE: '1',
    AGENT_PREEMPT_GRACE_SEC: '12',
    AGENT_RESIDENT_URL: 'http://127.0.0.1:11434',
  };
}

describe('the Node SDK (agentmgr/agent)', () => {
  it('reads the attempt from the environment: input, ids, GPUs, array, preemption, the resident', () => {
    const a = new Agent(attemptEnv());
    expect({
      name: a.name,
      taskId: a.taskId,
      attempt: a.attempt,
      input: a.input,
      gpus: a.gpus,
      array: a.array,
      preemptible: a.preemptible,
      grace: a.preemptGraceSec,
      resident: a.residentUrl,
      state: a.stateDir,
    }).toEqual({
      name: 'probe',
      taskId: 12,
      attempt: 3,
      input: { text: 'hi', n: 2 },
      gpus: ['0', '1'],
      array: { id: 7, index: 4 },
      preemptible: true,
      grace: 12,
      resident: 'http://127.0.0.1:11434',
      state: join(t.dir, 'attempt', 'state'),
    });
    const plain = new Agent({ ...attemptEnv(), CUDA_VISIBLE_DEVICES: '', AGENT_ARRAY_ID: undefined, AGENT_PREEMPTIBLE: '0' });
    expect([plain.gpus, plain.array, plain.preemptible]).toEqual([[], null, false]);
  });

  it('prints protocol events; refuses a progress outside 0–1 and a result that is not JSON; copies an artifact from elsewhere in', () => {
    const a = new Agent(attemptEnv());
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (lines.push(String(s)), true));
    try {
      a.progress(0.5, 'half');
      a.log('a line');
      a.result({ ok: 1 });
      expect(() => a.progress(1.7)).toThrow(new RangeError('progress(1.7): progress is from 0 to 1'));
      expect(() => a.progress(Number.NaN)).toThrow(/progress is from 0 to 1/);
      expect(() => a.result({ n: 1n })).toThrow(/result\(\): the data is not JSON/);
      const elsewhere = join(t.dir, 'made-elsewhere.txt');
      writeFileSync(elsewhere, 'x');
      expect(a.artifact(elsewhere, 'Made')).toBe(join(a.artifactsDir, 'made-elsewhere.txt'));
      expect(readFileSync(join(a.artifactsDir, 'made-elsewhere.txt'), 'utf8')).toBe('x');
      writeFileSync(a.artifactPath('here.txt'), 'y');
      a.artifact('here.txt');
    } finally {
      spy.mockRestore();
    }
    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([
      { type: 'progress', progress: 0.5, message: 'half' },
      { type: 'log', message: 'a line' },
      { type: 'result', data: { ok: 1 } },
      { type: 'artifact', path: 'made-elsewhere.txt', name: 'Made' },
      { type: 'artifact', path: 'here.txt' },
    ]);
  });

  it('outside the Manager it says what is missing and how to run it', () => {
    expect(() => new Agent({})).toThrow(/^AGENT_TASK_ID is not set: this runs as an agent under the Manager \(try `agentmgr agent check /);
  });
});

describe('the Python SDK (agentmgr.agent)', () => {
  it('reads the same environment, and refuses the same mistakes', async () => {
    const script = [
      'import json, sys',
      'from agentmgr.agent import Agent',
      'a = Agent()',
      'out = dict(name=a.name, task_id=a.task_id, attempt=a.attempt, input=a.input, gpus=a.gpus, array=list(a.array), preemptible=a.preemptible, grace=a.preempt_grace_sec, resident=a.resident_url)',
      'errors = []',
      'for bad in (1.7, float("nan"), True):',
      '    try: a.progress(bad)',
      '    except ValueError as e: errors.append(str(e))',
      'try: a.result({"x": object()})',
      'except TypeError as e: errors.append(str(e)[:30])',
      'out["errors"] = errors',
      'sys.stderr.write(json.dumps(out))',
    ].join('\n');
    const r = await runChild('python3', ['-c', script], {
      cwd: join(ROOT, 'clients', 'python'),
      env: { ...process.env, ...attemptEnv(), PYTHONDONTWRITEBYTECODE: '1' },
      timeoutMs: 30_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stderr)).toEqual({
      name: 'probe',
      task_id: 12,
      attempt: 3,
      input: { text: 'hi', n: 2 },
      gpus: ['0', '1'],
      array: [7, 4],
      preemptible: true,
      grace: 12,
      resident: 'http://127.0.0.1:11434',
      errors: [
        'progress(1.7): progress is from 0 to 1',
        'progress(nan): progress is from 0 to 1',
        'progress(True): progress is from 0 to 1',
        'result(): the data is not JSON',
      ],
    });
  });
});

describe('agents on the SDK, through a whole Manager', () => {
  const data = join(t.dir, 'data');
  let m: HeadlessManager;
  let api: ApiClient;
  let close: () => void;
  beforeAll(async () => {
    m = await startTestServer(data, { AGENTMGR_KILL_GRACE_MS: '3000' });
    ({ api, close } = createClient({ url: m.server.url, token: m.token }));
  });
  afterAll(async () => {
    close();
    await m.stop({ stopAgents: true });
  });

  it.each(['py', 'ts'] as const)(
    '%s: made by `agent new` and picked up as written; cancelled mid-run it checkpoints, and a retry resumes there',
    async (lang) => {
      const name = `sdk-${lang}`;
      const made = await runChild(process.execPath, [join(ROOT, 'bin', 'agentmgr.js'), 'agent', 'new', name, '--lang', lang, '--data-dir', data], {
        env: { ...process.env, XDG_CACHE_HOME: join(t.dir, 'cache') },
        timeoutMs: 30_000,
      });
      expect(made.code, made.stderr).toBe(0);
      await until(
        () => api.agents.list.query(),
        (r) => r.agents.some((a) => a.name === name),
        `the Manager to load ${name}`,
      );
      const task = await api.tasks.submit.mutate({ agent: name, input: { text: 'resume me', steps: 400, delayMs: 25 } });
      await until(
        () => api.tasks.get.query({ id: task.id }),
        (x) => (x.progress ?? 0) >= 0.05,
        'some progress',
        60_000,
      );
      await api.tasks.cancel.mutate({ id: task.id });
      await until(
        () => api.tasks.get.query({ id: task.id }),
        (x) => x.state === 'cancelled',
        'the cancel',
      );
      const log = (await api.tasks.logs.query({ id: task.id })).text;
      const at = Number(/checkpointed at step (\d+)/.exec(log)?.[1]);
      expect(at, log).toBeGreaterThanOrEqual(20);
      await api.tasks.retry.mutate({ id: task.id });
      const done = await until(
        () => api.tasks.get.query({ id: task.id }),
        (x) => x.state === 'succeeded' || x.state === 'failed',
        'the retry to end',
        90_000,
      );
      expect(done.error).toBeNull();
      expect(done.result).toEqual({ words: 2, chars: 9, resumedFrom: at });
      const art = done.artifacts.find((a) => a.name === 'Upper-cased text')!;
      expect(readFileSync(art.path, 'utf8')).toBe('RESUME ME\n');
    },
    180_000,
  );
});
