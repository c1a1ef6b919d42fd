import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readAttemptLog } from '../../../src-main/adapters/process/attempt-log.js';
import { Families } from '../../../src-main/adapters/process/families.js';
import { isSameProcessAlive, readProcStat } from '../../../src-main/adapters/process/proc-stat.js';
import { ProcessAgentRunner, attemptDir } from '../../../src-main/adapters/process/runner.js';
import type { RunOutcome } from '../../../src-main/core/lifecycle/attempt-end.js';
import type { AgentSpec, LaunchSpec, RunnerEvent } from '../../../src-main/core/ports.js';
import { tempDir } from '../../helpers/fakes.js';
import { fixtureAgent } from '../../helpers/fixture-agents.js';
import { maybeSpawner } from '../../helpers/spawner.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let nextTask = 1;

const runner = new ProcessAgentRunner(
  await maybeSpawner({
    runsDir: tmp.dir,
    graceMs: 300,
    pollMs: 20,
    caps: { headBytes: 64 * 1024, tailBytes: 16 * 1024 },
    rawTruncateBytes: 256 * 1024,
  }),
);

interface Done {
  events: RunnerEvent[];
  outcome: RunOutcome;
  log: string;
  dir: string;
  spec: LaunchSpec;
}

function spec(agent: AgentSpec, over: Partial<LaunchSpec> = {}): LaunchSpec {
  return { taskId: nextTask++, attempt: 1, agent, input: { hello: 'world' }, gpus: [], timeoutMs: null, ...over };
}

function run(
  agent: AgentSpec,
  over: Partial<LaunchSpec> = {},
  during?: (h: ReturnType<ProcessAgentRunner['start']>, events: RunnerEvent[]) => void,
): Promise<Done> {
  const s = spec(agent, over);
  const events: RunnerEvent[] = [];
  return new Promise((resolve) => {
    const h = runner.start(s, (e) => {
      events.push(e);
      if (e.type === 'exit') {
        const dir = attemptDir(tmp.dir, s.taskId, s.attempt);
        resolve({ events, outcome: e.outcome, log: readAttemptLog(dir), dir, spec: s });
      }
    });
    during?.(h, events);
  });
}

const alive = (pid: number): boolean => {
  const st = readProcStat(pid);
  return st !== null && st.state !== 'Z';
};

const waitUntil = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('ProcessAgentRunner', () => {
  it('runs an agent with the protocol environment, events, artifacts and logs', async () => {
    const r = await run(fixtureAgent('ok'), { gpus: [0] });
    expect(r.outcome).toMatchObject({ exitCode: 0, signal: null, cancelled: false, timedOut: false, unknown: false });
    const types = r.events.map((e) => e.type);
    expect(types[0]).toBe('spawned');
    expect(types.at(-1)).toBe('exit');
    expect(r.events).toContainEqual({ type: 'progress', progress: 0.5, message: 'half way' });
    expect(r.events).toContainEqual({ type: 'result', data: { ok: true } });
    const art = r.events.find((e) => e.type === 'artifact');
    expect(art).toMatchObject({ name: 'greeting', sizeBytes: 6, path: join(r.dir, 'artifacts', 'out.txt') });
    expect(r.log).toContain(`starting task ${r.spec.taskId} attempt 1 on GPU '0'`);
    expect(r.log).toContain('input: {"hello":"world"}');
    expect(r.log).toContain('a log event');
    expect(r.log).toContain('to stderr');
    expect(r.log).not.toContain('"type":"progress"');
    expect(existsSync(join(r.dir, 'stdout.raw'))).toBe(false);
  });

  it('the input, and the artifacts and state folders, are there when the agent starts, however large the input', async () => {
    const probe = fixtureAgent('ok', {
      name: 'probe',
      command: ['/bin/sh', '-c', 'wc -c < "$AGENT_INPUT_PATH" >&2; [ -d "$AGENT_ARTIFACTS_DIR" ] && [ -d "$AGENT_STATE_DIR" ] && echo folders >&2'],
    });
    for (const size of [10, 200_000]) {
      const input = { text: 'x'.repeat(size) };
      const r = await run(probe, { input });
      expect(r.outcome).toMatchObject({ exitCode: 0 });
      expect(r.log).toContain(`${JSON.stringify(input, null, 2).length}\n`);
      expect(r.log).toContain('folders');
      expect(readFileSync(join(r.dir, 'input.json'), 'utf8')).toBe(JSON.stringify(input, null, 2));
    }
  });

  it('a folder that cannot be made fails the start, saying why, and the agent is not run', async () => {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(tmp.dir, '9999'), { recursive: true });
    writeFileSync(join(tmp.dir, '9999', 'state'), 'a file where the state folder goes');
    const r = await run(fixtureAgent('ok'), { taskId: 9999 });
    expect(r.outcome.startError).toMatch(/^could not prepare the attempt's folder: .*(EEXIST|ENOTDIR)/);
    expect(r.events.some((e) => e.type === 'spawned')).toBe(false);
    expect(r.log).toContain("could not prepare the attempt's folder");
  });

  it.each([
    ['fail', { exitCode: 3, signal: null }, 'about to fail'],
    ['crash', { exitCode: null, signal: 'SIGSEGV' }, 'crashing'],
  ])('reports how %s ended', async (name, expected, logged) => {
    const r = await run(fixtureAgent(name));
    expect(r.outcome).toMatchObject(expected);
    expect(r.log).toContain(logged);
  });

  it('a missing executable fails the attempt with the reason, without spawning', async () => {
    const r = await run(fixtureAgent('missing'));
    expect(r.outcome.startError).toMatch(/agent command not found: .*does-not-exist \(from "command" in .*missing\/agent.json\)/);
    expect(r.events.some((e) => e.type === 'spawned')).toBe(false);
    expect(r.log).toContain('agent command not found');
  });

  it('timeout: SIGTERM to the group, recorded as timed out', async () => {
    const r = await run(fixtureAgent('hang'), { timeoutMs: 300 });
    expect(r.outcome).toMatchObject({ timedOut: true, signal: 'SIGTERM' });
    expect(r.log).toMatch(/timed out .*SIGTERM/);
  });

  it('cancel of an agent that ignores SIGTERM ends with SIGKILL after the grace period', async () => {
    const r = await run(fixtureAgent('stubborn'), {}, (h, events) => {
      const t = setInterval(() => {
        if (events.some((e) => e.type === 'log' && e.text.includes('ready'))) {
          clearInterval(t);
          h.cancel();
        }
      }, 10);
    });
    expect(r.outcome).toMatchObject({ cancelled: true, signal: 'SIGKILL' });
    expect(r.log).toContain('ignoring SIGTERM');
    expect(r.log).toMatch(/SIGKILL to the process group/);
  });

  it.each(['exit', 'wait'])('no grandchild survives (agent that %ss)', async (mode) => {
    const agent = fixtureAgent('forker', { env: { FIXTURE_MODE: mode } });
    const r = await run(agent, {}, (h, events) => {
      if (mode === 'wait') {
        const t = setInterval(() => {
          if (events.some((e) => e.type === 'log' && e.text.includes('forked'))) {
            clearInterval(t);
            h.cancel();
          }
        }, 10);
      }
    });
    const pids = readFileSync(join(r.dir, 'artifacts', 'pids'), 'utf8')
      .trim()
      .split('\n')
      .map(Number);
    expect(pids).toHaveLength(2);
    await waitUntil(() => pids.every((p) => !alive(p)), 3000);
    if (mode === 'exit') expect(r.outcome.exitCode).toBe(0);
    else expect(r.outcome.cancelled).toBe(true);
  });

  it('garbage output never crashes anything: bad events are logged and ignored', async () => {
    const r = await run(fixtureAgent('garbage'));
    expect(r.outcome.exitCode).toBe(0);
    const evs = r.events.filter((e) => e.type === 'progress' || e.type === 'result' || e.type === 'artifact');
    expect(evs).toEqual([
      { type: 'progress', progress: 0.25, message: 'still fine' },
      { type: 'result', data: { survived: true } },
    ]);
    expect(r.log).toMatch(/ignored a malformed "progress" event \(progress: Too big/);
    expect(r.log).toContain('{"type":"nonsense","x":1}');
    expect(r.log).toMatch(/ignored artifact: \/etc\/passwd is outside AGENT_ARTIFACTS_DIR/);
    expect(r.log).toMatch(/ignored artifact: missing.bin does not exist/);
    expect(r.log).toContain('no newline at the end');
  });

  it('a flood is capped: head and tail kept, the cut marked, events still seen', async () => {
    const r = await run(fixtureAgent('flood'));
    expect(r.outcome.exitCode).toBe(0);
    expect(r.events).toContainEqual({ type: 'result', data: { flooded: true } });
    const size = Buffer.byteLength(r.log);
    expect(size).toBeLessThan(64 * 1024 + 16 * 1024 + 1024);
    expect(r.log.startsWith('[agentmgr] attempt 1 started')).toBe(true);
    expect(r.log).toContain('FIRST-LINE\nline 1\nline 2\n');
    expect(r.log).toMatch(/\[agentmgr: \d+ bytes \(\d+ lines\) cut from the middle of this log\]/);
    expect(r.log).toContain('line 400000\nLAST-LINE\n');
    const cut = Number(/(\d+) bytes \(/.exec(r.log)![1]);
    expect(cut).toBeGreaterThan(2_000_000);
  });

  it('adopts a run started by another runner (a restarted Manager) and sees it to its end', async () => {
    // It ends when the test says so (a file appears), so a loaded machine cannot end it early.
    const gate = join(tmp.dir, 'end-adopted');
    const first = spec(fixtureAgent('slow'), { input: { untilFile: gate } });
    let spawned: Extract<RunnerEvent, { type: 'spawned' }> | undefined;
    let progressed = false;
    const h = runner.start(first, (e) => {
      if (e.type === 'spawned') spawned = e;
      if (e.type === 'progress') progressed = true;
    });
    await waitUntil(() => spawned !== undefined && progressed, 15_000);
    h.detach();
    const second = new ProcessAgentRunner({ runsDir: tmp.dir, pollMs: 20 });
    const events: RunnerEvent[] = [];
    const adopted = second.adopt({ ...first, pid: spawned!.pid, pidStartTime: spawned!.pidStartTime, pgid: spawned!.pgid, logDir: spawned!.logDir }, (e) =>
      events.push(e),
    );
    expect(adopted.alive).toBe(true);
    writeFileSync(gate, '');
    await waitUntil(() => events.some((e) => e.type === 'exit'), 15_000);
    const exit = events.find((e) => e.type === 'exit') as Extract<RunnerEvent, { type: 'exit' }>;
    expect(exit.outcome).toMatchObject({ exitCode: 0, unknown: false });
    expect(events.some((e) => e.type === 'result')).toBe(true);
    const log = readAttemptLog(spawned!.logDir);
    expect(log).toContain('re-adopted by a restarted Manager');
    expect(log.match(/waiting 1\b/g) ?? []).toHaveLength(0); // progress events are not log lines
    expect(log.match(/attempt 1 started/g)).toHaveLength(1);
  });

  it('a run that ended while nobody watched: status from the exit file; a reused pid is not ours', async () => {
    const s = spec(fixtureAgent('fail'));
    let spawned: Extract<RunnerEvent, { type: 'spawned' }> | undefined;
    const h = runner.start(s, (e) => {
      if (e.type === 'spawned') spawned = e;
    });
    await waitUntil(() => spawned !== undefined);
    h.detach();
    await waitUntil(() => !isSameProcessAlive(spawned!.pid!, spawned!.pidStartTime));
    const second = new ProcessAgentRunner({ runsDir: tmp.dir });
    const res = second.adopt({ ...s, ...spawned!, pidStartTime: spawned!.pidStartTime }, () => {});
    expect(res).toMatchObject({ alive: false, outcome: { exitCode: 3, unknown: false } });
    // Same pid, other start time: never adopted.
    const me = readProcStat(process.pid)!;
    const other = second.adopt(
      { ...s, taskId: 999, pid: process.pid, pidStartTime: String(Number(me.startTime) + 1), pgid: 999999, logDir: join(tmp.dir, 'nothing') },
      () => {},
    );
    expect(other).toMatchObject({ alive: false, outcome: { unknown: true } });
  });

  describe("processes that leave the agent's group (setsid)", () => {
    const escaper = (mode: 'wait' | 'exit', exitAfter = '0.5') => fixtureAgent('escaper', { env: { FIXTURE_MODE: mode, FIXTURE_EXIT_AFTER: exitAfter } });
    const daemonOf = (dir: string): number => Number(readFileSync(join(dir, 'artifacts', 'daemon'), 'utf8').trim());
    const seen = (events: RunnerEvent[], text: string) => events.some((e) => e.type === 'log' && e.text.includes(text));

    function start(r: ProcessAgentRunner, s: LaunchSpec) {
      const events: RunnerEvent[] = [];
      let spawned: Extract<RunnerEvent, { type: 'spawned' }> | undefined;
      const h = r.start(s, (e) => {
        events.push(e);
        if (e.type === 'spawned') spawned = e;
      });
      return { h, events, spawned: () => spawned!, dir: attemptDir(tmp.dir, s.taskId, s.attempt) };
    }
    const exitOf = (events: RunnerEvent[]) => (events.find((e) => e.type === 'exit') as Extract<RunnerEvent, { type: 'exit' }> | undefined)?.outcome;

    it('a cancel stops a daemon that left the group, found while its parent still links it', async () => {
      const families = new Families();
      const r = new ProcessAgentRunner({ runsDir: tmp.dir, graceMs: 300, pollMs: 20, families });
      const run1 = start(r, spec(escaper('wait')));
      await waitUntil(() => seen(run1.events, 'escaped'));
      const daemon = daemonOf(run1.dir);
      expect(readProcStat(daemon)!.pgrp).not.toBe(run1.spawned().pgid); // it really left
      run1.h.cancel(); // no telemetry tick happened: the cancel itself looks
      await waitUntil(() => exitOf(run1.events) !== undefined);
      await waitUntil(() => !alive(daemon), 3000);
      expect(exitOf(run1.events)).toMatchObject({ cancelled: true });
      expect(readAttemptLog(run1.dir)).toContain(`process ${daemon} left the agent's process group; it is still counted as the agent's and stopped with it`);
      expect(families.size).toBe(0);
    });

    it('a daemon seen by a telemetry tick is stopped when the agent exits, though its parent is gone', async () => {
      const families = new Families();
      const r = new ProcessAgentRunner({ runsDir: tmp.dir, graceMs: 300, pollMs: 20, families });
      const run1 = start(r, spec(escaper('exit', '2')));
      await waitUntil(() => seen(run1.events, 'escaped'));
      const daemon = daemonOf(run1.dir);
      const members = families.scan(); // what each telemetry tick does
      expect(members.get(run1.spawned().pgid!)!.map((p) => p.pid)).toContain(daemon);
      expect(families.ownerOf(daemon)).toBe(run1.spawned().pgid);
      await waitUntil(() => exitOf(run1.events) !== undefined, 10_000);
      expect(exitOf(run1.events)).toMatchObject({ exitCode: 0, cancelled: false });
      await waitUntil(() => !alive(daemon), 3000);
      expect(readAttemptLog(run1.dir)).toContain('the agent exited but left processes behind: SIGTERM to them');
      expect(families.ownerOf(daemon)).toBeNull();
    });

    it('a restarted Manager still stops them: on adopting a live run, and on finding a run that ended', async () => {
      // Live run: adopted by a second runner, then cancelled.
      const a = new ProcessAgentRunner({ runsDir: tmp.dir, graceMs: 300, pollMs: 20, families: new Families() });
      const live = start(a, spec(escaper('wait')));
      await waitUntil(() => seen(live.events, 'escaped'));
      a.config.families.scan();
      await waitUntil(() => existsSync(join(live.dir, 'escaped')));
      live.h.detach();
      const bFamilies = new Families();
      const b = new ProcessAgentRunner({ runsDir: tmp.dir, graceMs: 300, pollMs: 20, families: bFamilies });
      const sp = live.spawned();
      const events: RunnerEvent[] = [];
      const adopted = b.adopt(
        { ...spec(escaper('wait')), taskId: Number(sp.logDir.split('/').at(-2)), pid: sp.pid, pidStartTime: sp.pidStartTime, pgid: sp.pgid, logDir: sp.logDir },
        (e) => events.push(e),
      );
      expect(adopted.alive).toBe(true);
      expect(bFamilies.ownerOf(daemonOf(live.dir))).toBe(sp.pgid);
      if (adopted.alive) adopted.handle.cancel();
      await waitUntil(() => exitOf(events) !== undefined);
      await waitUntil(() => !alive(daemonOf(live.dir)), 3000);

      // Ended while nobody watched, its daemon still running: found on restart, and stopped.
      const ended = start(a, spec(escaper('exit', '1.5')));
      await waitUntil(() => seen(ended.events, 'escaped'));
      a.config.families.scan();
      await waitUntil(() => existsSync(join(ended.dir, 'escaped')));
      ended.h.detach();
      const esp = ended.spawned();
      await waitUntil(() => !isSameProcessAlive(esp.pid!, esp.pidStartTime), 10_000);
      expect(alive(daemonOf(ended.dir))).toBe(true);
      const c = new ProcessAgentRunner({ runsDir: tmp.dir, families: new Families() });
      const res = c.adopt({ ...spec(escaper('exit')), pid: esp.pid, pidStartTime: esp.pidStartTime, pgid: esp.pgid, logDir: esp.logDir }, () => {});
      expect(res).toMatchObject({ alive: false, outcome: { exitCode: 0 } });
      await waitUntil(() => !alive(daemonOf(ended.dir)), 3000);
    });
  });
});
