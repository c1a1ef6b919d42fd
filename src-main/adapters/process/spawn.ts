import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { LaunchSpec } from '../../core/ports.js';
import { clearExitFile, EXIT_FILE, PID_FILE, writeRunId } from './attempt-files.js';
import { resolveCommand, withTypeScriptHook } from './command.js';
import { RUN_ID_ENV } from './ownership.js';
import type { SpawnRequest } from './spawner/client.js';

/**
 * The agent runs under a tiny shell that first writes its own pid (the group leader's) to the
 * attempt folder, then waits for the agent and writes its exit status to a file, so a Manager that
 * was down when the agent ended still learns how it ended. The shell's traps are commands (not
 * ignores), so the agent itself gets default signal handling.
 *
 * The status is written in place, with the shell's own builtins only: every reader reads it once
 * the wrapper is gone (its leader is no longer alive), when the write is complete; a wrapper killed
 * between opening and writing leaves an empty file, read as no status, as if killed before. An
 * `mv` for an atomic rename was a second process per attempt, a third of the wrapper's cost
 * (issue 18; bench/dispatch.mjs measures the wrapper on its own).
 */
export const AGENT_WRAPPER = [
  'printf \'%s\\n\' "$$" > "$AGENTMGR_PID_FILE"',
  "trap ':' INT TERM HUP",
  '"$@"',
  's=$?',
  'printf \'%s\\n\' "$s" > "$AGENTMGR_EXIT_FILE"',
  'exit "$s"',
].join('\n');

/** Never passed on: the API token, and an outer array's variables (ours are set below where they apply). */
const HIDDEN_ENV = [
  'AGENTMGR_TOKEN',
  'AGENTMGR_INPUT_JSON',
  'AGENT_ARRAY_ID',
  'AGENT_ARRAY_INDEX',
  'AGENT_PREEMPTIBLE',
  'AGENT_PREEMPT_GRACE_SEC',
  'AGENT_RESIDENT_URL',
];

/**
 * What every agent is told, wherever it runs (here, or on a Slurm node): the Manager's environment
 * less its own secrets, the agent's manifest env, and the AGENT_* variables of the agent protocol.
 */
export function agentEnv(spec: LaunchSpec, paths: { inputPath: string; artifactsDir: string; stateDir: string }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...spec.agent.env };
  for (const k of HIDDEN_ENV) delete env[k];
  return Object.assign(env, {
    AGENT_TASK_ID: String(spec.taskId),
    AGENT_ATTEMPT: String(spec.attempt),
    AGENT_INPUT_PATH: paths.inputPath,
    AGENT_ARTIFACTS_DIR: paths.artifactsDir,
    AGENT_STATE_DIR: paths.stateDir,
    AGENT_NAME: spec.agent.name,
    // Whether it may be preempted, and its time to checkpoint after SIGTERM if it is.
    AGENT_PREEMPTIBLE: spec.preemptible ? '1' : '0',
    AGENT_PREEMPT_GRACE_SEC: String(spec.agent.preemptGraceSec ?? 30),
    // The resident server it drives, as configured in Settings (ollamaUrl, comfyuiUrl).
    ...(spec.residentUrl ? { AGENT_RESIDENT_URL: spec.residentUrl } : {}),
    ...(spec.array ? { AGENT_ARRAY_ID: String(spec.array.id), AGENT_ARRAY_INDEX: String(spec.array.index) } : {}),
    CUDA_VISIBLE_DEVICES: spec.gpus.join(','),
  });
}

export type Spawned = { child: ChildProcess; pid: number; runId: string } | { error: string };

/**
 * An attempt ready to start: its folder and run id on disk, and what to do before the exec. Its
 * folders and input (`dirs`, `writes`) are made by whoever forks it: the spawner does it off the
 * Manager's thread (issue 18); what proves a start (the folder and its run id) the Manager has
 * written before asking.
 */
export interface Prepared extends Required<SpawnRequest> {
  runId: string;
}

/**
 * Prepares the attempt folder and spawns the agent in a process group of its own, its output
 * going to files. The run id is on disk before the fork, so a Manager killed at any moment
 * leaves either no run id (nothing was started) or a marker to find the agent by.
 */
export function spawnAgent(spec: LaunchSpec, dir: string, artifactsDir: string): Spawned {
  const p = prepareAgent(spec, dir, artifactsDir);
  return 'error' in p ? p : spawnPrepared(p);
}

/** The attempt folder, its input and run id, and the wrapper's command line: all but the fork. */
export function prepareAgent(spec: LaunchSpec, dir: string, artifactsDir: string): Prepared | { error: string } {
  mkdirSync(dir, { recursive: true });
  // The task's own folder beside its attempts': checkpoints kept across retries and preemptions
  // (made by the wrapper, with the artifacts folder).
  const stateDir = join(dirname(dir), 'state');
  clearExitFile(dir);
  const cmd = resolveCommand(spec.agent.command, spec.agent.dir);
  if ('error' in cmd) return { error: cmd.error };
  const inputPath = join(dir, 'input.json');
  const runId = randomBytes(12).toString('hex');
  writeRunId(dir, runId);
  const env: NodeJS.ProcessEnv = {
    ...agentEnv(spec, { inputPath, artifactsDir, stateDir }),
    AGENTMGR_EXIT_FILE: join(dir, EXIT_FILE),
    AGENTMGR_PID_FILE: join(dir, PID_FILE),
    [RUN_ID_ENV]: runId,
  };
  return {
    dirs: [artifactsDir, stateDir],
    writes: [{ path: inputPath, text: JSON.stringify(spec.input, null, 2) }],
    file: '/bin/sh',
    args: ['-c', AGENT_WRAPPER, 'agentmgr-agent', ...withTypeScriptHook(cmd.argv)],
    cwd: spec.agent.dir,
    env,
    stdout: join(dir, 'stdout.raw'),
    stderr: join(dir, 'stderr.raw'),
    runId,
  };
}

/** Forks the prepared attempt here, in the Manager's own process (no spawner, or it is down). */
export function spawnPrepared(p: Prepared): Spawned {
  const { runId } = p;
  try {
    for (const d of p.dirs) mkdirSync(d, { recursive: true });
    for (const w of p.writes) writeFileSync(w.path, w.text);
  } catch (e) {
    return { error: `could not prepare the attempt's folder: ${(e as Error).message}` };
  }
  const out = openSync(p.stdout, 'a');
  const err = openSync(p.stderr, 'a');
  try {
    const child = spawn(p.file, p.args, {
      cwd: p.cwd,
      env: p.env,
      detached: true,
      stdio: ['ignore', out, err],
    });
    child.on('error', () => {
      // reported through 'exit', or below when it never started
    });
    if (child.pid === undefined) return { error: 'could not start the agent: /bin/sh could not be spawned' };
    return { child, pid: child.pid, runId };
  } catch (e) {
    return { error: `could not start the agent: ${(e as Error).message}` };
  } finally {
    // The child has its own copies of the output files; ours are not needed.
    closeSync(out);
    closeSync(err);
  }
}
