import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readProcStat } from '../../../src-main/adapters/process/proc-stat.js';
import { ProcessAgentRunner } from '../../../src-main/adapters/process/runner.js';
import { SpawnerClient, type SpawnAnswer } from '../../../src-main/adapters/process/spawner/client.js';
import type { RunOutcome } from '../../../src-main/core/lifecycle/attempt-end.js';
import type { LaunchSpec, RunnerEvent } from '../../../src-main/core/ports.js';
import { tempDir } from '../../helpers/fakes.js';
import { fixtureAgent } from '../../helpers/fixture-agents.js';
import { startedSpawner } from '../../helpers/spawner.js';
import { waitFor } from '../../helpers/wait.js';

/** The spawner (ADR 22) on its own: its protocol, its death and restart, and what the Manager does when it cannot have one. */
const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;

const req = (script: string) => ({
  file: '/bin/sh',
  args: ['-c', script],
  cwd: tmp.dir,
  env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
  stdout: join(tmp.dir, `out-${++n}`),
  stderr: join(tmp.dir, `err-${n}`),
});

function exitOf(): { listener: (code: number | null, signal: string | null) => void; ended: () => { code: number | null; signal: string | null } | null } {
  let end: { code: number | null; signal: string | null } | null = null;
  return { listener: (code, signal) => (end = { code, signal }), ended: () => end };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('the spawner', { timeout: 60_000 }, () => {
  it('starts each agent in a process group of its own, as its child, and reports its exit code or signal', async () => {
    const s = await startedSpawner();
    expect(s.status()).toMatchObject({ mode: 'spawner', restarts: 0, problem: null });
    const e3 = exitOf();
    const a = (await s.spawn(req('exit 3'), e3.listener)) as Extract<SpawnAnswer, { pid: number }>;
    expect(a.pid).toBeGreaterThan(0);
    await waitFor(() => e3.ended() !== null, 'exit 3');
    expect(e3.ended()).toEqual({ code: 3, signal: null });
    const eTerm = exitOf();
    const b = (await s.spawn(req('echo out; echo err >&2; exec sleep 30'), eTerm.listener)) as Extract<SpawnAnswer, { pid: number }>;
    const stat = readProcStat(b.pid)!;
    expect(stat.pgrp).toBe(b.pid);
    expect(stat.ppid).toBe(s.pid);
    expect(b.startTime).toBe(stat.startTime);
    process.kill(-b.pid, 'SIGTERM');
    await waitFor(() => eTerm.ended() !== null, 'the SIGTERM');
    expect(eTerm.ended()).toEqual({ code: null, signal: 'SIGTERM' });
    // A program that cannot be run: its error, not a pid.
    expect(await s.spawn({ ...req(''), file: '/nonexistent/program' }, () => {})).toEqual({ error: expect.stringMatching(/ENOENT/) });
  });

  it('killed while agents run: they run on and end as they would, found by their files; it is restarted, and new starts go through the new one', async () => {
    const spawner = await startedSpawner();
    const runner = new ProcessAgentRunner({ runsDir: join(tmp.dir, 'runs'), graceMs: 300, pollMs: 20, spawner });
    const events: RunnerEvent[] = [];
    const gate = join(tmp.dir, 'gate-1');
    const spec: LaunchSpec = { taskId: 1, attempt: 1, agent: fixtureAgent('slow'), input: { untilFile: gate }, gpus: [], timeoutMs: null };
    runner.start(spec, (e) => events.push(e));
    await waitFor(() => events.some((e) => e.type === 'spawned'), 'the agent to start');
    const spawned = events.find((e): e is Extract<RunnerEvent, { type: 'spawned' }> => e.type === 'spawned')!;
    const first = spawner.pid!;
    expect(readProcStat(spawned.pid!)!.ppid).toBe(first);
    process.kill(first, 'SIGKILL');
    await waitFor(() => spawner.usable && spawner.pid !== first, 'the spawner to be restarted');
    expect(spawner.status()).toMatchObject({ mode: 'spawner', restarts: 1 });
    expect(alive(spawned.pid!)).toBe(true);
    writeFileSync(gate, '');
    await waitFor(() => events.some((e) => e.type === 'exit'), 'the orphaned agent to end');
    const out = (events.find((e) => e.type === 'exit') as { outcome: RunOutcome }).outcome;
    expect(out).toMatchObject({ exitCode: 0, signal: null, unknown: false });
    expect(events.find((e) => e.type === 'result')).toMatchObject({ data: { pid: expect.any(Number) } });
    // The next start goes through the new spawner.
    const next: RunnerEvent[] = [];
    runner.start({ ...spec, taskId: 2, input: { seconds: 0.2 } }, (e) => next.push(e));
    await waitFor(() => next.some((e) => e.type === 'spawned'), 'the next agent to start');
    const pid2 = (next.find((e) => e.type === 'spawned') as { pid: number }).pid;
    const parent = readProcStat(pid2)?.ppid;
    if (parent !== undefined) expect(parent).toBe(spawner.pid);
    await waitFor(() => next.some((e) => e.type === 'exit'), 'the next agent to end');
    expect((next.find((e) => e.type === 'exit') as { outcome: RunOutcome }).outcome).toMatchObject({ exitCode: 0 });
  });

  it('a cancel asked for before the spawner answered waits for the pid, then stops the agent', async () => {
    const spawner = await startedSpawner();
    const runner = new ProcessAgentRunner({ runsDir: join(tmp.dir, 'runs-c'), graceMs: 300, pollMs: 20, spawner });
    const events: RunnerEvent[] = [];
    const h = runner.start({ taskId: 3, attempt: 1, agent: fixtureAgent('hang'), input: {}, gpus: [], timeoutMs: null }, (e) => events.push(e));
    h.cancel();
    await waitFor(() => events.some((e) => e.type === 'exit'), 'the cancelled agent to end');
    expect((events.find((e) => e.type === 'exit') as { outcome: RunOutcome }).outcome).toMatchObject({ cancelled: true });
    const pid = (events.find((e) => e.type === 'spawned') as { pid: number } | undefined)?.pid;
    if (pid) expect(alive(pid)).toBe(false);
  });

  it('one that cannot start (missing, not executable, never ready): agents are started directly, and why is said once', async () => {
    const said: string[] = [];
    const log = (_l: string, m: string, f?: Record<string, unknown>) => said.push(`${m}: ${String(f?.problem ?? '')}`);
    const missing = new SpawnerClient({ command: { file: '/nonexistent/node', args: [] }, log });
    await missing.start();
    expect(missing.usable).toBe(false);
    expect(missing.status()).toMatchObject({ mode: 'direct', problem: expect.stringMatching(/\/nonexistent\/node is missing or not executable/) });
    const notExec = join(tmp.dir, 'not-executable');
    writeFileSync(notExec, '#!/bin/sh\n');
    chmodSync(notExec, 0o644);
    const denied = new SpawnerClient({ command: { file: notExec, args: [] }, log });
    await denied.start();
    expect(denied.status().problem).toMatch(/not-executable is missing or not executable/);
    const silent = new SpawnerClient({ command: { file: '/bin/cat', args: [] }, log, readyTimeoutMs: 300 });
    await silent.start();
    expect(silent.status()).toMatchObject({ mode: 'direct', problem: expect.stringMatching(/did not start within 300 ms/) });
    expect(said).toHaveLength(3);
    expect(said.every((l) => l.startsWith('agents are started directly: the spawner is not available'))).toBe(true);
    // The runner still runs agents, forking them itself.
    const runner = new ProcessAgentRunner({ runsDir: join(tmp.dir, 'runs-d'), graceMs: 300, pollMs: 20, spawner: missing });
    const events: RunnerEvent[] = [];
    runner.start({ taskId: 4, attempt: 1, agent: fixtureAgent('ok'), input: {}, gpus: [], timeoutMs: null }, (e) => events.push(e));
    await waitFor(() => events.some((e) => e.type === 'exit'), 'the agent to end');
    expect((events.find((e) => e.type === 'exit') as { outcome: RunOutcome }).outcome).toMatchObject({ exitCode: 0 });
  });

  it('malformed lines from it are logged and counted, never thrown; an answer it gives is still taken', async () => {
    const fake = join(tmp.dir, 'fake-spawner.sh');
    writeFileSync(
      fake,
      [
        '#!/bin/sh',
        `echo '{"ready":true,"pid":1}'`,
        'echo "not json"',
        `echo '[1,2]'`,
        `echo '{"id":"x","pid":"no"}'`,
        'while read -r line; do',
        `  id=$(printf '%s' "$line" | sed -n 's/.*"id":\\([0-9]*\\).*/\\1/p')`,
        `  echo "{\\"id\\":$id,\\"error\\":\\"refused by the fake\\"}"`,
        'done',
        '',
      ].join('\n'),
    );
    chmodSync(fake, 0o755);
    const warned: string[] = [];
    const s = new SpawnerClient({ command: { file: fake, args: [] }, log: (_l, m) => warned.push(m) });
    await s.start();
    afterAll(() => s.stop());
    expect(s.usable).toBe(true);
    expect(await s.spawn(req('true'), () => {})).toEqual({ error: 'refused by the fake' });
    expect(s.status().badLines).toBe(3);
    expect(warned.filter((m) => m === 'a malformed message from the spawner was ignored')).toHaveLength(3);
  });
});
