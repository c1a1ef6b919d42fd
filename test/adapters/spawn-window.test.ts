import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readAttemptLog } from '../../src-main/adapters/process/attempt-log.js';
import { ProcessAgentRunner } from '../../src-main/adapters/process/runner.js';
import { openDb, type OpenDb } from '../../src-main/adapters/sqlite/db.js';
import { SqliteTaskStore } from '../../src-main/adapters/sqlite/task-store.js';
import { systemClock } from '../../src-main/adapters/system-clock.js';
import { Manager } from '../../src-main/core/manager.js';
import type { AgentRunner, RunHandle } from '../../src-main/core/ports.js';
import { FakeCatalog, FakeTelemetry, RecordingSink, quietLogger, tempDir } from '../helpers/fakes.js';
import { fixtureAgent } from '../helpers/fixture-agents.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Issue 10, defect 4: a Manager killed between committing `starting` and recording the pid. The
 * crash is made deterministic with a runner that loses the report of the spawn (the store never
 * learns the pid), or that dies before spawning at all.
 */
const slow = fixtureAgent('slow', { retry: { maxAttempts: 1, backoffSec: 0 } });
let cleanup: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanup.reverse()) c();
  cleanup = [];
});

function managerOn(dir: string, runner: AgentRunner): { manager: Manager; store: SqliteTaskStore; db: OpenDb } {
  const db = openDb(join(dir, 'db.sqlite'));
  const store = new SqliteTaskStore(db);
  const manager = new Manager({
    store,
    telemetry: new FakeTelemetry(),
    runner,
    agents: new FakeCatalog([slow]),
    clock: systemClock,
    events: new RecordingSink(),
    logger: quietLogger,
    config: { maxConcurrency: 4, vramMarginMB: 0, memoryMarginMB: 0, progressFlushMs: 50, readingWindowMs: 0, reserveAfterMs: null },
  });
  manager.start();
  cleanup.push(() => {
    manager.stop({ stopAgents: true });
    db.close();
  });
  return { manager, store, db };
}

/** Crash: the Manager's store is left as it was; its runs are left running. */
function crash(m: { manager: Manager; db: OpenDb }): void {
  m.manager.stop();
  m.db.close();
}

describe('a crash between spawning an agent and recording its pid', () => {
  it('the restarted Manager finds the live agent by its run id: no second copy, one attempt', async () => {
    const t = tempDir();
    cleanup.push(t.cleanup);
    const runsDir = join(t.dir, 'runs');
    const real = new ProcessAgentRunner({ runsDir, pollMs: 20, graceMs: 500 });
    let spawned = false;
    const losing: AgentRunner = {
      start: (spec, listener) => real.start(spec, (e) => (e.type === 'spawned' ? void (spawned = true) : listener(e))),
      adopt: (spec, listener) => real.adopt(spec, listener),
    };
    const first = managerOn(t.dir, losing);
    const [task] = first.manager.submit([{ agent: 'slow', input: { seconds: 1.5 } }]);
    await waitFor(() => spawned, 'the agent to spawn');
    expect(first.store.attempts(task!.id)[0]).toMatchObject({ pid: null });
    crash(first);

    const second = managerOn(t.dir, new ProcessAgentRunner({ runsDir, pollMs: 20, graceMs: 500 }));
    await waitFor(() => second.store.getTask(task!.id)?.state === 'running', 'the adopted task to be running');
    expect(second.store.attempts(task!.id)[0]!.pid).not.toBeNull();
    await waitFor(() => second.store.getTask(task!.id)?.state === 'succeeded', 'the task to succeed', 20_000);
    expect(second.store.getTask(task!.id)).toMatchObject({ attempts: 1, result: { pid: expect.any(Number) } });
    // One attempt's folder (beside the task's state folder, kept across attempts).
    expect(readdirSync(join(runsDir, String(task!.id))).sort()).toEqual(['1', 'state']);
    const log = readAttemptLog(join(runsDir, String(task!.id), '1'));
    expect(log.match(/attempt 1 started/g)).toHaveLength(1);
    expect(log).toContain('found by its run id');
  });

  it('an attempt that never reached the fork is queued again without using up an attempt, and then runs', async () => {
    const t = tempDir();
    cleanup.push(t.cleanup);
    const runsDir = join(t.dir, 'runs');
    const dead: AgentRunner = {
      // Dies right after `starting` was committed: nothing is spawned, nothing written.
      start: (): RunHandle => ({ cancel() {}, detach() {} }),
      adopt: () => {
        throw new Error('not used');
      },
    };
    const first = managerOn(t.dir, dead);
    const [task] = first.manager.submit([{ agent: 'slow', input: { seconds: 0.2 } }]);
    await waitFor(() => first.store.getTask(task!.id)?.state === 'starting', 'the attempt to begin');
    crash(first);

    const second = managerOn(t.dir, new ProcessAgentRunner({ runsDir, pollMs: 20 }));
    await waitFor(() => second.store.getTask(task!.id)?.state === 'succeeded', 'the task to run and succeed', 20_000);
    const attempts = second.store.attempts(task!.id);
    expect(attempts.map((a) => a.outcome)).toEqual(['interrupted', 'succeeded']);
    expect(attempts[0]!.reason).toMatch(/never ran/);
    expect(second.store.getTask(task!.id)!.maxAttempts).toBe(2);
  });
});
