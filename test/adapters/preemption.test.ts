import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileAgentCatalog } from '../../src-main/adapters/agents/catalog.js';
import { EventBus } from '../../src-main/adapters/events/event-bus.js';
import { readAttemptLog } from '../../src-main/adapters/process/attempt-log.js';
import { ProcessAgentRunner } from '../../src-main/adapters/process/runner.js';
import { openDb } from '../../src-main/adapters/sqlite/db.js';
import { SqliteTaskStore } from '../../src-main/adapters/sqlite/task-store.js';
import { Manager } from '../../src-main/core/manager.js';
import { FakeTelemetry, node, quietLogger, rtx4060, tempDir } from '../helpers/fakes.js';
import { FIXTURE_AGENTS } from '../helpers/fixture-agents.js';
import { VirtualClock } from '../helpers/virtual-clock.js';

/**
 * Preemption end to end: the Manager on the virtual clock (so "has run a minute" takes no
 * minute), with a real SQLite file and real agent processes. A preemptible batch job checkpoints
 * on SIGTERM and resumes from its checkpoint on its next attempt.
 */
describe('preemption with real processes', () => {
  const t = tempDir();
  const conn = openDb(join(t.dir, 'db.sqlite'));
  const store = new SqliteTaskStore(conn);
  const clock = new VirtualClock(Date.now());
  const runsDir = join(t.dir, 'runs');
  const manager = new Manager({
    store,
    telemetry: new FakeTelemetry(node({ gpus: [rtx4060()] })),
    runner: new ProcessAgentRunner({ runsDir, graceMs: 200, pollMs: 20 }),
    agents: new FileAgentCatalog([{ dir: FIXTURE_AGENTS, source: 'extra' }]),
    clock,
    events: new EventBus(),
    logger: quietLogger,
    config: { maxConcurrency: 4, vramMarginMB: 0, memoryMarginMB: 0, progressFlushMs: 20, readingWindowMs: 0, reserveAfterMs: null, preemptMinRunMs: 60_000 },
  });
  manager.start();
  afterAll(() => {
    manager.stop({ stopAgents: true });
    conn.close();
    t.cleanup();
  });

  /** Real time passes for the processes; the Manager's timers run on the virtual clock. */
  const until = async (cond: () => boolean, what: string, ms = 20_000): Promise<void> => {
    const end = Date.now() + ms;
    for (;;) {
      clock.advance(20); // the Manager's timers (progress writes) run on the virtual clock
      clock.flush();
      if (cond()) return;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('a high-priority GPU task preempts a preemptible batch task, which checkpoints on SIGTERM and resumes from it on its next attempt', async () => {
    const stateFile = join(t.dir, 'step.txt');
    const [batch] = manager.submit([{ agent: 'checkpoint', input: { stateFile, steps: 400 } }]);
    await until(() => (store.getTask(batch!.id)!.progress ?? 0) >= 0.02, 'the batch job to make progress');
    // It has run long enough to be preempted (on the Manager's clock).
    clock.advance(61_000);
    expect(store.getTask(batch!.id)!.state).toBe('running');
    const [urgent] = manager.submit([{ agent: 'ok', priority: 10, resources: { gpu: { vramMB: 6000 } } }]);
    await until(() => store.getTask(urgent!.id)!.state === 'succeeded', 'the urgent task to run and succeed');
    // The batch job was told it was preemptible, checkpointed, and was queued again, not failed.
    expect(existsSync(stateFile)).toBe(true);
    const checkpoint = Number(readFileSync(stateFile, 'utf8'));
    expect(checkpoint).toBeGreaterThan(0);
    const first = store.attempts(batch!.id)[0]!;
    expect(first).toMatchObject({ outcome: 'preempted', reason: `preempted for task ${urgent!.id} (priority 10; this one has 0); queued again` });
    const log = readAttemptLog(join(runsDir, String(batch!.id), '1'));
    expect(log).toMatch(/starting at step 0 \(preemptible=1, grace 5 s\)/);
    expect(log).toMatch(new RegExp(`preempted for task ${urgent!.id} \\(priority 10; this one has 0\\): SIGTERM to the process group, SIGKILL after 5000 ms`));
    expect(log).toMatch(new RegExp(`checkpointed at step ${checkpoint}`));
    // Its second attempt resumes from the checkpoint and finishes.
    await until(() => store.getTask(batch!.id)!.state === 'succeeded', 'the batch job to resume and finish');
    const done = store.getTask(batch!.id)!;
    expect(done.result).toEqual({ resumedFrom: checkpoint, steps: 400 });
    expect(done.attempts).toBe(2);
    expect(done.maxAttempts).toBe(2); // the preempted attempt was not counted against it
    expect(store.attempts(batch!.id).map((a) => a.outcome)).toEqual(['preempted', 'succeeded']);
  });
});
