import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileAgentCatalog } from '../../src-main/adapters/agents/catalog.js';
import { EventBus } from '../../src-main/adapters/events/event-bus.js';
import { readAttemptLog } from '../../src-main/adapters/process/attempt-log.js';
import { ProcessAgentRunner } from '../../src-main/adapters/process/runner.js';
import { openDb } from '../../src-main/adapters/sqlite/db.js';
import { SqliteTaskStore } from '../../src-main/adapters/sqlite/task-store.js';
import { systemClock } from '../../src-main/adapters/system-clock.js';
import { Manager } from '../../src-main/core/manager.js';
import { isTerminal } from '../../src-main/core/lifecycle/states.js';
import { bundledAgentsDir } from '../../src-main/paths.js';
import { FakeTelemetry, node, quietLogger, tempDir } from '../helpers/fakes.js';
import { FIXTURE_AGENTS } from '../helpers/fixture-agents.js';

/** The Manager with its real store, runner and agents: only telemetry is faked. */
describe('Manager with a real SQLite file and real subprocesses', () => {
  const t = tempDir();
  afterAll(() => t.cleanup());
  const conn = openDb(join(t.dir, 'db.sqlite'));
  const store = new SqliteTaskStore(conn);
  const agents = new FileAgentCatalog([
    { dir: bundledAgentsDir(), source: 'bundled' },
    { dir: FIXTURE_AGENTS, source: 'extra' },
  ]);
  const telemetry = new FakeTelemetry(node({ cpuCores: 2, gpus: [], gpuStatus: { state: 'absent', message: 'no GPU here' } }));
  const bus = new EventBus();
  const manager = new Manager({
    store,
    telemetry,
    runner: new ProcessAgentRunner({ runsDir: join(t.dir, 'runs'), graceMs: 200, pollMs: 20 }),
    agents,
    clock: systemClock,
    events: bus,
    logger: quietLogger,
    config: { maxConcurrency: 4, vramMarginMB: 0, memoryMarginMB: 0, progressFlushMs: 50, readingWindowMs: 0, reserveAfterMs: null },
  });
  manager.start();
  afterAll(() => {
    manager.stop({ stopAgents: true });
    conn.close();
  });

  const settle = (ids: number[], ms = 20_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => ids.every((id) => isTerminal(store.getTask(id)!.state));
      if (check()) return resolve();
      const timer = setTimeout(() => reject(new Error('tasks did not end in time')), ms);
      const off = bus.on(() => {
        if (check()) {
          clearTimeout(timer);
          off();
          resolve();
        }
      });
    });

  it('runs every kind of agent to the right end', async () => {
    const subs = [
      { agent: 'ok' },
      { agent: 'fail' },
      { agent: 'crash' },
      { agent: 'garbage' },
      { agent: 'missing' },
      { agent: 'hang', timeoutSec: 1 },
      { agent: 'sha256', input: { file: join(FIXTURE_AGENTS, 'ok', 'agent.json') } },
      { agent: 'shell', input: { command: 'echo from-shell; exit 4' } },
      { agent: 'demo', input: { seconds: 0.2, steps: 2 } },
    ];
    const tasks = manager.submit(subs);
    await settle(tasks.map((x) => x.id));
    const by = (name: string) => store.getTask(tasks[subs.findIndex((s) => s.agent === name)]!.id)!;
    expect(by('ok')).toMatchObject({ state: 'succeeded', result: { ok: true } });
    expect(by('fail')).toMatchObject({ state: 'failed', attempts: 2, error: 'attempt 2: exit code 3: about to fail' });
    expect(by('crash')).toMatchObject({ state: 'failed', error: 'attempt 1: killed by signal SIGSEGV' });
    expect(by('garbage')).toMatchObject({ state: 'succeeded', result: { survived: true } });
    expect(by('missing').state).toBe('failed');
    expect(by('missing').error).toMatch(/agent command not found/);
    expect(by('hang')).toMatchObject({ state: 'timed_out' });
    expect(by('sha256')).toMatchObject({ state: 'succeeded', result: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(store.artifacts(by('sha256').id)[0]).toMatchObject({ name: 'agent.json.sha256' });
    expect(by('shell')).toMatchObject({ state: 'failed', error: 'attempt 1: exit code 4' });
    expect(readAttemptLog(join(t.dir, 'runs', String(by('shell').id), '1'))).toContain('from-shell');
    expect(by('demo')).toMatchObject({ state: 'succeeded', progress: 1, result: { seconds: 0.2, steps: 2 } });
  });

  it('cancel of a running agent stops its whole process group', async () => {
    const [task] = manager.submit([{ agent: 'stubborn' }]);
    await new Promise<void>((resolve) => {
      const off = bus.on((e) => {
        if (e.type === 'log' && e.taskId === task!.id && e.text.includes('ready')) {
          off();
          resolve();
        }
      });
    });
    manager.cancel(task!.id);
    await settle([task!.id]);
    expect(store.getTask(task!.id)).toMatchObject({ state: 'cancelled' });
    expect(store.attempts(task!.id)[0]).toMatchObject({ outcome: 'cancelled', signal: 'SIGKILL' });
  });
});
