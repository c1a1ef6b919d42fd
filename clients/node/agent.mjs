// The agent SDK for Node and TypeScript (`agentmgr/agent`): no dependencies, one file, so an
// agent folder can carry a copy (`agentmgr agent new` writes one). It speaks the protocol in
// README.md ("Agents" > "Protocol"): the input from AGENT_INPUT_PATH, events as JSON lines on
// stdout, the reason for a failure as the last line on stderr, and a cooperative stop on SIGTERM.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';

/** The SDK's version: `agentmgr agent check` says when a folder's copy is older than the Manager's. */
export const SDK_VERSION = 1;

/** Writes one event line. Files and pipes both take it whole before the next statement runs. */
function emit(event) {
  process.stdout.write(JSON.stringify(event) + '\n');
}

function need(env, name) {
  const v = env[name];
  if (v === undefined || v === '') {
    throw new Error(`${name} is not set: this runs as an agent under the Manager (try \`agentmgr agent check ${process.cwd()}\`)`);
  }
  return v;
}

/** One task's attempt, as the Manager started it. */
export class Agent {
  constructor(env = process.env) {
    this.name = env.AGENT_NAME ?? basename(process.cwd());
    this.taskId = Number(need(env, 'AGENT_TASK_ID'));
    this.attempt = Number(env.AGENT_ATTEMPT ?? 1);
    const inputPath = need(env, 'AGENT_INPUT_PATH');
    let text;
    try {
      text = readFileSync(inputPath, 'utf8');
    } catch (e) {
      throw new Error(`cannot read the task's input at ${inputPath}: ${e.message}`);
    }
    this.input = JSON.parse(text);
    this.artifactsDir = need(env, 'AGENT_ARTIFACTS_DIR');
    this.stateDir = env.AGENT_STATE_DIR || null;
    this.gpus = (env.CUDA_VISIBLE_DEVICES ?? '').split(',').filter((g) => g !== '');
    this.array = env.AGENT_ARRAY_ID ? { id: Number(env.AGENT_ARRAY_ID), index: Number(env.AGENT_ARRAY_INDEX) } : null;
    this.preemptible = env.AGENT_PREEMPTIBLE === '1';
    this.preemptGraceSec = Number(env.AGENT_PREEMPT_GRACE_SEC ?? 30);
    this.residentUrl = env.AGENT_RESIDENT_URL || null;
    this.stopping = false;
    this.#abort = new AbortController();
  }

  #abort;
  #handlers = [];
  #listening = false;

  /** Aborted when the Manager asks the agent to stop (SIGTERM): pass it to fetch, or check it in a loop. */
  get signal() {
    return this.#abort.signal;
  }

  /** How far along it is, from 0 to 1, with an optional message ("step 2 of 5"). */
  progress(fraction, message) {
    if (typeof fraction !== 'number' || !Number.isFinite(fraction) || fraction < 0 || fraction > 1) {
      throw new RangeError(`progress(${String(fraction)}): progress is from 0 to 1`);
    }
    emit(message === undefined ? { type: 'progress', progress: fraction } : { type: 'progress', progress: fraction, message: String(message) });
  }

  /** A line for the task's log. */
  log(message) {
    emit({ type: 'log', message: String(message) });
  }

  /** The task's result: any JSON value (the last one wins). */
  result(data) {
    let line;
    try {
      line = JSON.stringify({ type: 'result', data });
    } catch (e) {
      throw new TypeError(`result(): the data is not JSON (${e.message})`);
    }
    if (line === undefined || data === undefined) throw new TypeError('result(): the data is not JSON (undefined)');
    process.stdout.write(line + '\n');
  }

  /** Where to write an output file named `name` (in AGENT_ARTIFACTS_DIR). */
  artifactPath(name) {
    return join(this.artifactsDir, name);
  }

  /**
   * Reports an output file. A path relative to AGENT_ARTIFACTS_DIR, or inside it, is reported as
   * it is; a file elsewhere is copied in first (under its own name).
   */
  artifact(path, name) {
    const full = isAbsolute(path) ? path : resolve(this.artifactsDir, path);
    const rel = relative(this.artifactsDir, full);
    let inside = rel;
    if (rel === '' || rel.startsWith('..' + sep) || rel === '..' || isAbsolute(rel)) {
      inside = basename(full);
      mkdirSync(this.artifactsDir, { recursive: true });
      copyFileSync(full, join(this.artifactsDir, inside));
    }
    emit(name === undefined ? { type: 'artifact', path: inside } : { type: 'artifact', path: inside, name: String(name) });
    return join(this.artifactsDir, inside);
  }

  /** Ends the attempt as failed: `message` is its reason (the last line on stderr). */
  fail(message, code = 1) {
    process.stderr.write(String(message).replace(/\n/g, ' ') + '\n');
    process.exit(code);
  }

  /**
   * Calls `handler` when the Manager stops the task (cancel, timeout, preemption, pause
   * --free-vram): the place to checkpoint into `stateDir`. Then the agent exits (code 143). A
   * handler that is still at work one second before the grace ends is cut short, so the exit is
   * the agent's own, not a SIGKILL.
   */
  onStop(handler) {
    this.#handlers.push(handler);
    if (this.#listening) return;
    this.#listening = true;
    process.on('SIGTERM', () => {
      if (this.stopping) return;
      this.stopping = true;
      this.#abort.abort(new Error('the Manager asked the task to stop'));
      const graceMs = Math.max(500, this.preemptGraceSec * 1000 - 1000);
      const cut = setTimeout(() => {
        process.stderr.write(`stopped: the stop handler did not finish within ${Math.round(graceMs / 100) / 10} s\n`);
        process.exit(143);
      }, graceMs);
      (async () => {
        for (const h of this.#handlers) {
          try {
            await h();
          } catch (e) {
            process.stderr.write(`the stop handler failed: ${e instanceof Error ? e.message : String(e)}\n`);
          }
        }
        clearTimeout(cut);
        process.exit(143);
      })();
    });
  }
}

/**
 * The attempt the Manager started: `const task = agent()`. Runs `main(task)` when given one,
 * and turns an error it throws into the attempt's reason and exit code 1.
 */
export function agent(main) {
  let task;
  try {
    task = new Agent();
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
  if (main) {
    Promise.resolve()
      .then(() => main(task))
      .catch((e) => task.fail(e instanceof Error ? e.message : String(e)));
  }
  return task;
}
