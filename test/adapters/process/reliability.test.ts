import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AttemptLog, readAttemptLog } from '../../../src-main/adapters/process/attempt-log.js';
import { groupAlive, readProcStat } from '../../../src-main/adapters/process/proc-stat.js';
import { ProcessAgentRunner, attemptDir } from '../../../src-main/adapters/process/runner.js';
import type { RunOutcome } from '../../../src-main/core/lifecycle/attempt-end.js';
import type { AgentSpec, LaunchSpec, RunnerEvent } from '../../../src-main/core/ports.js';
import { killIfSame, remember, tempDir } from '../../helpers/fakes.js';
import { fixtureAgent } from '../../helpers/fixture-agents.js';
import { waitFor } from '../../helpers/wait.js';
import { maybeSpawner } from '../../helpers/spawner.js';

/** The promises of issue 10 that live in the runner, each reproduced first. */
const tmp = tempDir();
/** Every group a test started, with its leader's start time: cleanup signals only those. */
const started: ReturnType<typeof remember>[] = [];
afterAll(() => {
  for (const p of started) killIfSame(p);
  tmp.cleanup();
});
let nextTask = 1;

const small = {
  runsDir: tmp.dir,
  graceMs: 300,
  pollMs: 20,
  caps: { headBytes: 64 * 1024, tailBytes: 16 * 1024 },
  rawTruncateBytes: 1024 * 1024,
  pump: { chunkBytes: 256 * 1024, budgetBytes: 1024 * 1024, maxBacklogBytes: 2 * 1024 * 1024, maxLineBytes: 8 * 1024 },
};
const runner = new ProcessAgentRunner(await maybeSpawner(small));

const spec = (agent: AgentSpec, over: Partial<LaunchSpec> = {}): LaunchSpec => ({
  taskId: 10_000 + nextTask++,
  attempt: 1,
  agent,
  input: {},
  gpus: [],
  timeoutMs: null,
  ...over,
});
const alive = (pid: number): boolean => {
  const st = readProcStat(pid);
  return st !== null && st.state !== 'Z';
};

function run(agent: AgentSpec, watch?: (dir: string) => void): Promise<{ events: RunnerEvent[]; outcome: RunOutcome; log: string; dir: string }> {
  const s = spec(agent);
  const dir = attemptDir(tmp.dir, s.taskId, s.attempt);
  const events: RunnerEvent[] = [];
  return new Promise((resolve) => {
    runner.start(s, (e) => {
      if (e.type !== 'log') events.push(e);
      if (e.type === 'spawned') started.push(remember(e.pgid!));
      if (e.type === 'exit') resolve({ events, outcome: e.outcome, log: readAttemptLog(dir), dir });
    });
    watch?.(dir);
  });
}

describe('output an agent cannot hurt us with', () => {
  it('a flood far larger than the caps: the raw file stays capped on disk (its blocks: read output is punched out), the result survives, the log is bounded', async () => {
    let peak = 0;
    let timer: NodeJS.Timeout | undefined;
    // Sustained (1 MB each 20 ms): the reader's looks keep the file capped, however loaded the machine.
    const r = await run(fixtureAgent('spew', { env: { KIND: 'lines', SIZE_MB: '96', PACE_MS: '20' } }), (dir) => {
      timer = setInterval(() => {
        try {
          peak = Math.max(peak, statSync(join(dir, 'stdout.raw')).blocks * 512);
        } catch {
          // not there yet, or removed at the end
        }
      }, 5);
    });
    clearInterval(timer);
    expect(r.outcome).toMatchObject({ exitCode: 0, signal: null });
    expect(r.events).toContainEqual({ type: 'result', data: { spewed: true } });
    expect(peak).toBeLessThan(48 * 1024 * 1024); // 96 MB written
    expect(Buffer.byteLength(r.log)).toBeLessThan(64 * 1024 + 16 * 1024 + 4096);
    expect(r.log).toContain('FIRST\n');
    expect(r.log).toMatch(/LAST\n\[agentmgr\] attempt 1 ended: exit code 0\n$/);
    expect(r.log).toMatch(/\[agentmgr: \d+ bytes( \((at least )?\d+ lines\))? cut from the middle of this log\]/);
  });

  it.each([
    ['stdout', 'stdout'],
    ['stderr', 'stderr'],
  ])('a 24 MB line without a newline on %s: its head is kept and the cut is marked; memory stays bounded', async (_n, stream) => {
    const before = process.memoryUsage().rss;
    const r = await run(fixtureAgent('spew', { env: { KIND: 'line', SIZE_MB: '24', STREAM: stream } }));
    const grew = process.memoryUsage().rss - before;
    expect(r.outcome.exitCode).toBe(0);
    expect(r.events).toContainEqual({ type: 'result', data: { spewed: true } });
    expect(r.log).toMatch(/x{1000}/);
    expect(r.log).toMatch(/(more bytes of this line cut|the rest of this line was cut with output dropped unread)\]/);
    expect(r.log).toContain('LAST\n');
    expect(grew).toBeLessThan(150 * 1024 * 1024);
  });

  it('binary output is logged as lines of odd characters, within the caps', async () => {
    const r = await run(fixtureAgent('spew', { env: { KIND: 'binary', SIZE_MB: '16' } }));
    expect(r.outcome.exitCode).toBe(0);
    expect(r.events).toContainEqual({ type: 'result', data: { spewed: true } });
    expect(Buffer.byteLength(r.log)).toBeLessThan(2 * (64 * 1024 + 16 * 1024) + 4096);
    expect(r.log).toContain('LAST\n');
  });

  it('a run that flooded while no Manager watched is collected in bounded work: the newest output and the result are kept', async () => {
    const s = spec(fixtureAgent('spew', { env: { KIND: 'lines', SIZE_MB: '64' } }));
    let spawned: Extract<RunnerEvent, { type: 'spawned' }> | undefined;
    const h = runner.start(s, (e) => {
      if (e.type === 'spawned') spawned = e;
    });
    await waitFor(() => spawned !== undefined, 'the agent to spawn');
    h.detach(); // the Manager goes away
    started.push(remember(spawned!.pgid!));
    // Its status is written just before the wrapper itself exits: wait for both, as a Manager
    // started later would find them.
    await waitFor(() => existsSync(join(spawned!.logDir, 'exit-status')) && !groupAlive(spawned!.pgid!), 'the agent to finish unwatched', 60_000);
    expect(statSync(join(spawned!.logDir, 'stdout.raw')).size).toBeGreaterThan(60 * 1024 * 1024);
    const events: RunnerEvent[] = [];
    const res = new ProcessAgentRunner(small).adopt({ ...s, ...spawned! }, (e) => events.push(e));
    expect(res).toMatchObject({ alive: false, outcome: { exitCode: 0 } });
    expect(events).toContainEqual({ type: 'result', data: { spewed: true } });
    const log = readAttemptLog(spawned!.logDir);
    expect(log).toMatch(/\d+ bytes( \(at least \d+ lines\))? cut from the middle/);
    expect(log).toContain('LAST\n');
  });
});

describe('never signalling what is not ours', () => {
  it('a restarted Manager that finds an ended run leaves alone a foreign group that took its group id', async () => {
    // The attempt's agent has ended; an unrelated group leader now has the number the attempt
    // recorded as its group (what pid reuse does). Its exit status is on disk.
    const foreign = spawn('sleep', ['100'], { detached: true, stdio: 'ignore' });
    started.push(remember(foreign.pid!));
    const s = spec(fixtureAgent('ok'));
    const dir = attemptDir(tmp.dir, s.taskId, s.attempt);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'run-id'), 'a1b2c3d4e5f6a7b8c9d0e1f2\n');
    writeFileSync(join(dir, 'exit-status'), '0\n');
    const res = runner.adopt({ ...s, pid: 999_999, pidStartTime: '1', pgid: foreign.pid!, logDir: dir }, () => {});
    expect(res).toMatchObject({ alive: false, outcome: { exitCode: 0 } });
    // A negative: had it been signalled (synchronously, in adopt), it would be dying by now.
    await new Promise((r) => setTimeout(r, 100));
    expect(alive(foreign.pid!)).toBe(true);
    foreign.kill('SIGKILL');
  });
});

describe('the window between spawning and recording the pid', () => {
  function startUnrecorded(agent: AgentSpec): Promise<{ s: LaunchSpec; dir: string; pgid: number }> {
    const s = spec(agent);
    return new Promise((resolve) => {
      const h = runner.start(s, (e) => {
        if (e.type !== 'spawned') return;
        started.push(remember(e.pgid!));
        // The Manager dies here: the store never learns the pid.
        setImmediate(() => {
          h.detach();
          resolve({ s, dir: e.logDir, pgid: e.pgid! });
        });
      });
    });
  }

  it('a live agent is found by its run id, reported as spawned, and can be cancelled', async () => {
    const { s, pgid } = await startUnrecorded(fixtureAgent('hang'));
    const events: RunnerEvent[] = [];
    const res = new ProcessAgentRunner(small).adopt({ ...s, pid: null, pidStartTime: null, pgid: null, logDir: null }, (e) => events.push(e));
    expect(res.alive).toBe(true);
    expect(events[0]).toMatchObject({ type: 'spawned', pid: pgid, pgid });
    if (res.alive) res.handle.cancel();
    await waitFor(() => events.some((e) => e.type === 'exit'), 'the cancelled agent to end');
    expect(events.find((e) => e.type === 'exit')).toMatchObject({ outcome: { cancelled: true } });
    expect(alive(pgid)).toBe(false);
  });

  it('an agent that finished meanwhile is finished from the status and output it left', async () => {
    const { s, dir } = await startUnrecorded(fixtureAgent('ok', { env: { SLEEP: '0.3' } }));
    await waitFor(() => existsSync(join(dir, 'exit-status')), 'the agent to finish');
    await waitFor(() => !readFileSync(join(dir, 'pid'), 'utf8') || !alive(Number(readFileSync(join(dir, 'pid'), 'utf8'))), 'the wrapper to exit');
    const events: RunnerEvent[] = [];
    const res = new ProcessAgentRunner(small).adopt({ ...s, pid: null, pidStartTime: null, pgid: null, logDir: null }, (e) => events.push(e));
    expect(res).toMatchObject({ alive: false, outcome: { exitCode: 0, unknown: false } });
    expect(events).toContainEqual({ type: 'result', data: { ok: true } });
  });

  it('an attempt whose folder has no run id provably never started', () => {
    const s = spec(fixtureAgent('ok'));
    const res = runner.adopt({ ...s, pid: null, pidStartTime: null, pgid: null, logDir: null }, () => {});
    expect(res).toMatchObject({ alive: false, outcome: { notStarted: true } });
  });
});

describe('the double-fork escape is closed', () => {
  it.each(['exit', 'wait'])('a daemon made by fork, setsid, fork (agent that %ss) is stopped with the run', async (mode) => {
    const s = spec(fixtureAgent('double-fork', { env: { FIXTURE_MODE: mode } }));
    const dir = attemptDir(tmp.dir, s.taskId, s.attempt);
    const events: RunnerEvent[] = [];
    const h = runner.start(s, (e) => events.push(e));
    await waitFor(() => events.some((e) => e.type === 'log' && e.text.includes('daemonised')) || events.some((e) => e.type === 'exit'), 'the daemon to start');
    const daemon = Number(readFileSync(join(dir, 'artifacts', 'daemon'), 'utf8').trim());
    started.push(remember(daemon));
    if (mode === 'wait') h.cancel();
    await waitFor(() => events.some((e) => e.type === 'exit'), 'the run to end');
    await waitFor(() => !alive(daemon), 'the daemon to be stopped', 5000);
  });
});

describe('the end of an attempt, replayed after a crash, writes nothing twice', () => {
  it('lines appended after the last save are cut back on reopening, then read again once', () => {
    const d = join(tmp.dir, 'replay-log');
    const a = new AttemptLog(d, { headBytes: 1024, tailBytes: 256 });
    a.append('one\ntwo\n');
    a.setOffset('stdout', 8);
    a.flush();
    a.append('three\n'); // then the Manager dies before saving
    const b = new AttemptLog(d, { headBytes: 1024, tailBytes: 256 });
    expect(b.offsets.stdout).toBe(8);
    b.append('three\n');
    b.finalize();
    expect(readFileSync(join(d, 'output.log'), 'utf8')).toBe('one\ntwo\nthree\n');
    const c = new AttemptLog(d, { headBytes: 1024, tailBytes: 256 });
    expect(c.finalized).toBe(true);
    c.close();
    expect(readAttemptLog(d)).toBe('one\ntwo\nthree\n');
  });

  it('collecting an ended run twice (the first end never recorded) leaves one copy of its log', async () => {
    const s = spec(fixtureAgent('ok'));
    let spawned: Extract<RunnerEvent, { type: 'spawned' }> | undefined;
    const h = runner.start(s, (e) => {
      if (e.type === 'spawned') spawned = e;
    });
    await waitFor(() => spawned !== undefined, 'the agent to spawn');
    h.detach();
    await waitFor(() => existsSync(join(spawned!.logDir, 'exit-status')) && !alive(spawned!.pid!), 'the agent to finish unwatched');
    const first = new ProcessAgentRunner(small).adopt({ ...s, ...spawned! }, () => {});
    const log1 = readAttemptLog(spawned!.logDir);
    const second = new ProcessAgentRunner(small).adopt({ ...s, ...spawned! }, () => {});
    expect(second).toEqual(first);
    expect(readAttemptLog(spawned!.logDir)).toBe(log1);
    expect(log1.match(/a log event/g)).toHaveLength(1);
    expect(log1.match(/attempt 1 ended/g)).toHaveLength(1);
  });
});
