import { afterAll, describe, expect, it } from 'vitest';
import { ProcessAgentRunner } from '../../src-main/adapters/process/runner.js';
import { SlurmQueue } from '../../src-main/adapters/slurm/queue.js';
import { SlurmAgentRunner } from '../../src-main/adapters/slurm/runner.js';
import type { RunOutcome } from '../../src-main/core/lifecycle/attempt-end.js';
import type { AgentRunner, LaunchSpec, RunHandle, RunnerEvent } from '../../src-main/core/ports.js';
import { agent, FakeRunner, tempDir } from '../helpers/fakes.js';
import { fixtureAgent } from '../helpers/fixture-agents.js';
import { cancelJobs, devSlurm, slurmCli } from '../helpers/slurm.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The executor port (AgentRunner in ports.ts), run against every implementation: the process
 * runner and the Slurm runner (on the dev cluster, where it is up) with fixture agents, and the
 * fake the Manager's tests use. What each kind of run does is
 * the same; how it is made to do it differs (a real agent ends by itself, a fake one by the test).
 */
type Kind = 'succeeds' | 'fails' | 'hangs' | 'cannot-start';

interface Impl {
  name: string;
  runner: AgentRunner;
  spec(kind: Kind, taskId: number): LaunchSpec;
  /** Makes a started run of `kind` end as that kind does. */
  drive(kind: Kind, taskId: number): void;
  /** A detached run that still lives (the fake is told; a real process simply is). */
  stillAlive?(pid: number): void;
  /** Runs elsewhere: its spawned event names a job, not a local process (pid and pgid null). */
  remote?: boolean;
}

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let nextTask = 1;
const base = (taskId: number): Omit<LaunchSpec, 'agent'> => ({ taskId, attempt: 1, input: {}, gpus: [], timeoutMs: null });

const processRunner = new ProcessAgentRunner({ runsDir: tmp.dir, graceMs: 300, pollMs: 20 });
const FIXTURE: Record<Kind, string> = { succeeds: 'ok', fails: 'fail', hangs: 'hang', 'cannot-start': 'missing' };

const slurmUp = devSlurm();
const queue = new SlurmQueue(slurmCli(), { pollMs: 200, maxPollMs: 1000 });
const slurmRunner = new SlurmAgentRunner({
  runsDir: tmp.dir + '/slurm',
  cli: slurmCli(),
  queue,
  graceMs: 2000,
  pollMs: 50,
  namePrefix: `agentmgr-contract${process.pid}`,
});
afterAll(() => {
  queue.stop();
  if (slurmUp) cancelJobs('agentmgr-contract');
});

const fake = new FakeRunner();
fake.startErrors.set('missing', 'cannot start ./does-not-exist: no such file');

const IMPLEMENTATIONS: Impl[] = [
  { name: 'ProcessAgentRunner', runner: processRunner, spec: (k, id) => ({ ...base(id), agent: fixtureAgent(FIXTURE[k]) }), drive: () => {} },
  ...(slurmUp
    ? [
        {
          name: 'SlurmAgentRunner',
          runner: slurmRunner,
          remote: true,
          spec: (k: Kind, id: number) => ({ ...base(id), agent: fixtureAgent(FIXTURE[k]) }),
          drive: () => {},
        },
      ]
    : []),
  {
    name: 'FakeRunner',
    runner: fake,
    spec: (k, id) => ({ ...base(id), agent: agent({ name: FIXTURE[k] }) }),
    drive: (k, id) => {
      const run = fake.live().find((r) => r.spec.taskId === id);
      if (k === 'succeeds') setImmediate(() => run?.exit({ exitCode: 0 }));
      if (k === 'fails') setImmediate(() => run?.exit({ exitCode: 3 }));
    },
    stillAlive: (pid) => fake.alive.add(pid),
  },
];

function recorder() {
  const events: RunnerEvent[] = [];
  const exit = (): RunOutcome | undefined => events.find((e): e is Extract<RunnerEvent, { type: 'exit' }> => e.type === 'exit')?.outcome;
  return { events, exit, listener: (e: RunnerEvent) => events.push(e) };
}

describe.each(IMPLEMENTATIONS)('executor contract: $name', (impl) => {
  const start = (kind: Kind) => {
    const id = nextTask++;
    const r = recorder();
    let handle!: RunHandle;
    expect(() => (handle = impl.runner.start(impl.spec(kind, id), r.listener))).not.toThrow();
    impl.drive(kind, id);
    return { id, handle, ...r };
  };

  it('reports spawned before anything but log text, and exit once, last; a success exits 0', async () => {
    const r = start('succeeds');
    await waitFor(() => r.exit() !== undefined, 'the exit', 30_000);
    const id = impl.remote ? null : expect.any(Number);
    // Log text may come first (a remote executor says it is submitting), nothing else.
    expect(r.events.find((e) => e.type !== 'log')).toMatchObject({
      type: 'spawned',
      pid: id,
      pgid: id,
      pidStartTime: expect.any(String),
      logDir: expect.any(String),
    });
    expect(r.events.filter((e) => e.type === 'exit')).toHaveLength(1);
    expect(r.events.at(-1)!.type).toBe('exit');
    expect(r.exit()).toMatchObject({ exitCode: 0, signal: null, cancelled: false, timedOut: false, unknown: false, startError: null });
  });

  it('a failure is its exit code', async () => {
    const r = start('fails');
    await waitFor(() => r.exit() !== undefined, 'the exit', 30_000);
    expect(r.exit()).toMatchObject({ exitCode: 3, cancelled: false, startError: null });
  });

  it('a start that fails does not throw: it is an exit with startError, and nothing was spawned', async () => {
    const r = start('cannot-start');
    await waitFor(() => r.exit() !== undefined, 'the exit');
    expect(r.exit()!.startError).toEqual(expect.any(String));
    expect(r.events.some((e) => e.type === 'spawned')).toBe(false);
  });

  it('cancel ends the run as cancelled, once, however often it is called', async () => {
    const r = start('hangs');
    await waitFor(() => r.events.some((e) => e.type === 'spawned'), 'the spawn', 30_000);
    r.handle.cancel();
    r.handle.cancel();
    await waitFor(() => r.exit() !== undefined, 'the exit', 30_000);
    r.handle.cancel();
    expect(r.exit()!.cancelled).toBe(true);
    expect(r.events.filter((e) => e.type === 'exit')).toHaveLength(1);
  });

  it('detach reports nothing more; adopt finds the run alive again and can cancel it', async () => {
    const r = start('hangs');
    await waitFor(() => r.events.some((e) => e.type === 'spawned'), 'the spawn', 30_000);
    const sp = r.events.find((e) => e.type === 'spawned') as Extract<RunnerEvent, { type: 'spawned' }>;
    r.handle.detach();
    if (sp.pid !== null) impl.stillAlive?.(sp.pid);
    const seen = r.events.length;
    const again = recorder();
    const adopted = impl.runner.adopt(
      { ...impl.spec('hangs', r.id), pid: sp.pid, pidStartTime: sp.pidStartTime, pgid: sp.pgid, logDir: sp.logDir },
      again.listener,
    );
    expect(adopted.alive).toBe(true);
    if (!adopted.alive) return;
    adopted.handle.cancel();
    await waitFor(() => again.exit() !== undefined, 'the adopted run to end', 30_000);
    expect(again.exit()!.cancelled).toBe(true);
    expect(r.events.length).toBe(seen);
  });

  it('adopt of an attempt that never recorded a process, and left nothing, says it never started', () => {
    const id = nextTask++;
    const adopted = impl.runner.adopt({ ...impl.spec('succeeds', id), pid: null, pidStartTime: null, pgid: null, logDir: null }, () => {});
    expect(adopted).toEqual({ alive: false, outcome: expect.objectContaining({ notStarted: true }) });
  });
});
