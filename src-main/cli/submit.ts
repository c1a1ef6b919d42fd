import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { TaskSubmission } from '../../contracts/task.js';
import { PROJECT_NAME, PROJECT_NAME_RULE } from '../../contracts/values.js';
import { parseArraySpec, parseDependencySpec } from '../../contracts/workflow.js';
import { intArg, numArg, type Options } from './args.js';
import { CliError } from './client.js';

export const SUBMIT_OPTIONS = {
  input: { type: 'string' },
  file: { type: 'string', multiple: true },
  priority: { type: 'string' },
  cpu: { type: 'string' },
  memory: { type: 'string' },
  vram: { type: 'string' },
  gpus: { type: 'string' },
  retries: { type: 'string' },
  timeout: { type: 'string' },
  begin: { type: 'string' },
  hold: { type: 'boolean' },
  dependency: { type: 'string', short: 'd' },
  array: { type: 'string' },
  throttle: { type: 'string' },
  name: { type: 'string' },
  project: { type: 'string' },
  preemptible: { type: 'string' },
  'when-idle': { type: 'string' },
  backend: { type: 'string' },
  force: { type: 'boolean' },
  'wait-for-gpu': { type: 'boolean' },
  batch: { type: 'string' },
  wait: { type: 'boolean' },
} as const;

/** `agentmgr run`: a submit's resource and scheduling flags, the caller's folder, and what to pass of its environment. */
export const RUN_OPTIONS: Options = {
  ...Object.fromEntries(Object.entries(SUBMIT_OPTIONS).filter(([k]) => !['input', 'file', 'batch', 'array', 'throttle', 'force'].includes(k))),
  cwd: { type: 'string' },
  env: { type: 'string', multiple: true },
};

/**
 * The variables `agentmgr run` passes from the caller's environment: where programs and
 * libraries are found, the language, the Python or Conda environment. Anything else (a secret in
 * particular) travels only when named with `--env NAME`.
 */
export const RUN_ENV_ALLOWED = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'SHELL',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
  'VIRTUAL_ENV',
  'CONDA_PREFIX',
  'CONDA_DEFAULT_ENV',
  'PYTHONPATH',
  'NODE_PATH',
  'HF_HOME',
];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Ours to set: the agent protocol's variables, and the GPU the Manager gave the task. */
const ENV_RESERVED = /^(AGENT_|AGENTMGR_|CUDA_VISIBLE_DEVICES$|NVIDIA_VISIBLE_DEVICES$)/;

/** The allow-listed variables (and LC_*) from `env`, plus each `--env NAME` or `--env NAME=VALUE`. */
export function runEnvironment(env: NodeJS.ProcessEnv, extra: readonly string[]): Record<string, string> {
  const outEnv: Record<string, string> = {};
  for (const [k, val] of Object.entries(env)) if (val !== undefined && (RUN_ENV_ALLOWED.includes(k) || k.startsWith('LC_'))) outEnv[k] = val;
  for (const e of extra) {
    const eq = e.indexOf('=');
    const name = eq < 0 ? e : e.slice(0, eq);
    if (!ENV_NAME.test(name)) throw new CliError(`--env ${e}: "${name}" is not a variable name (letters, digits and _, not starting with a digit)`, 2);
    if (ENV_RESERVED.test(name)) throw new CliError(`--env ${name}: the Manager sets this one itself; choose another name`, 2);
    if (eq >= 0) outEnv[name] = e.slice(eq + 1);
    else if (env[name] !== undefined) outEnv[name] = env[name]!;
    else throw new CliError(`--env ${name}: it is not set here; give a value with --env ${name}=VALUE`, 2);
  }
  return outEnv;
}

/** One word is a shell line as written (`'ls | wc -l'`); several are a command and its arguments, each quoted. */
export function shellLine(words: readonly string[]): string {
  if (words.length === 1) return words[0]!;
  return words.map((w) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}

type Values = Partial<Record<keyof typeof SUBMIT_OPTIONS, string | string[] | boolean>>;

/** A relative `file` in an input means the caller's directory, not the Manager's. */
function withAbsoluteFile<T extends Record<string, unknown>>(input: T): T {
  return typeof input.file === 'string' && input.file !== '' && !isAbsolute(input.file) ? { ...input, file: resolve(input.file) } : input;
}

function checkFile(p: string): string {
  const abs = resolve(p);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new CliError(`--file ${p}: no such file`, 2);
  }
  if (!st.isFile()) throw new CliError(`--file ${p}: not a regular file (folders are not accepted; pass the files in it)`, 2);
  if (st.size === 0) process.stderr.write(`warning: --file ${p} is empty (0 bytes); submitted anyway\n`);
  try {
    accessSync(abs, constants.R_OK);
  } catch {
    throw new CliError(`--file ${p}: not readable`, 2);
  }
  return abs;
}

/** The submission `agentmgr submit <agent> ...` describes: one task, or an array (--array, or several --file). */
export function submissionsFromFlags(agent: string | undefined, v: Values): TaskSubmission[] {
  if (!agent) throw new CliError('submit needs an agent name (see `agentmgr agents`), or --batch FILE', 2);
  let input: Record<string, unknown> = {};
  if (typeof v.input === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(v.input);
    } catch (e) {
      throw new CliError(`--input is not valid JSON: ${(e as Error).message}`, 2);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CliError('--input must be a JSON object, like \'{"seconds": 5}\'', 2);
    input = withAbsoluteFile(parsed as Record<string, unknown>);
  }
  const base: TaskSubmission = { agent, input };
  if (v.force === true) base.force = true;
  if (v['wait-for-gpu'] === true) base.waitForGpu = true;
  const priority = intArg('--priority', v.priority as string | undefined, -1000, 1000);
  if (priority !== undefined) base.priority = priority;
  const retries = intArg('--retries', v.retries as string | undefined, 0, 99);
  if (retries !== undefined) base.maxAttempts = retries + 1;
  const timeout = intArg('--timeout', v.timeout as string | undefined, 1, 30 * 86400);
  if (timeout !== undefined) base.timeoutSec = timeout;
  if (typeof v.name === 'string') base.name = v.name;
  if (typeof v.preemptible === 'string') {
    if (v.preemptible !== 'true' && v.preemptible !== 'false') throw new CliError(`--preemptible takes true or false, not "${v.preemptible}"`, 2);
    base.preemptible = v.preemptible === 'true';
  }
  if (typeof v['when-idle'] === 'string') {
    if (v['when-idle'] !== 'true' && v['when-idle'] !== 'false') throw new CliError(`--when-idle takes true or false, not "${v['when-idle']}"`, 2);
    base.whenIdle = v['when-idle'] === 'true';
  }
  if (typeof v.backend === 'string') {
    if (v.backend !== 'local' && v.backend !== 'slurm' && v.backend !== 'auto')
      throw new CliError(`--backend takes local, slurm or auto (Slurm when it can never fit this machine), not "${v.backend}"`, 2);
    base.backend = v.backend;
  }
  if (typeof v.project === 'string') {
    if (!PROJECT_NAME.test(v.project)) throw new CliError(`--project ${v.project}: ${PROJECT_NAME_RULE}`, 2);
    base.project = v.project;
  }
  // Read by the Manager, on its clock: local time, an ISO time with an offset, or +30m, +2h.
  if (typeof v.begin === 'string') base.begin = v.begin;
  if (v.hold === true) base.hold = true;
  if (typeof v.dependency === 'string') {
    const d = parseDependencySpec(v.dependency);
    if ('problem' in d) throw new CliError(`--dependency ${d.problem}`, 2);
    base.dependsOn = d.items.map((i) => ({ type: i.type, ids: i.ids }));
    if (d.mode === 'any') base.dependsMode = 'any';
  }
  if (typeof v.array === 'string') {
    // Checked here too, so a typo is caught before anything is sent.
    const a = parseArraySpec(v.array);
    if ('problem' in a) throw new CliError(`--array: ${a.problem}`, 2);
    base.array = v.array;
  }
  if (v.throttle === '0') throw new CliError('--throttle 0 would never start anything; give 1 or more', 2);
  const throttle = intArg('--throttle', v.throttle as string | undefined, 1, 100_000);

  const cpu = numArg('--cpu', v.cpu as string | undefined, 0, 1024);
  const memory = intArg('--memory', v.memory as string | undefined, 0, 16 * 1024 * 1024);
  const vram = intArg('--vram', v.vram as string | undefined, 0, 1024 * 1024);
  const gpus = intArg('--gpus', v.gpus as string | undefined, 0, 16);
  if (cpu !== undefined || memory !== undefined || vram !== undefined || gpus !== undefined) {
    base.resources = {};
    if (cpu !== undefined) base.resources.cpu = cpu;
    if (memory !== undefined) base.resources.memoryMB = memory;
    if (gpus === 0 || (vram === 0 && gpus === undefined)) base.resources.gpu = null;
    else if (vram !== undefined || gpus !== undefined)
      base.resources.gpu = { ...(vram !== undefined ? { vramMB: vram } : {}), ...(gpus !== undefined ? { count: gpus } : {}) };
  }
  const files = (v.file as string[] | undefined) ?? [];
  if (files.length > 0 && base.array !== undefined) throw new CliError('give either --array or --file (an array over the files), not both', 2);
  if (throttle !== undefined) {
    if (base.array === undefined && files.length < 2) throw new CliError('--throttle limits an array: give it with --array 0-9 or with several --file', 2);
    base.throttle = throttle;
  }
  if (files.length === 0) return [base];
  const paths = files.map(checkFile);
  if (paths.length === 1) return [{ ...base, input: { ...input, file: paths[0]! }, ...(base.name ? {} : { name: paths[0]!.split('/').pop()! }) }];
  // Several files: one array, a task per file (each named for its file).
  return [{ ...base, each: paths.map((file) => ({ file })) }];
}

/** JSON lines, each a submission; blank lines and lines starting with # are skipped. */
export async function submissionsFromBatch(text: string): Promise<{ items: TaskSubmission[]; lines: number[] }> {
  // The schemas load only for a batch: a single submit is checked by the Manager alone.
  const [{ TaskSubmissionSchema }, { describeIssues }] = await Promise.all([import('../../contracts/task.js'), import('../../contracts/errors.js')]);
  const items: TaskSubmission[] = [];
  const lines: number[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new CliError(`batch line ${i + 1}: not valid JSON (${(e as Error).message})`, 2);
    }
    const parsed = TaskSubmissionSchema.safeParse(value);
    if (!parsed.success) {
      const top =
        value !== null &&
        typeof value === 'object' &&
        'file' in value &&
        !('input' in value && typeof value.input === 'object' && value.input && 'file' in value.input);
      throw new CliError(
        `batch line ${i + 1}: ${top ? 'a file goes inside the input: write {"agent": …, "input": {"file": "…"}}, not a top-level "file"' : describeIssues(parsed.error.issues)}`,
        2,
      );
    }
    items.push({
      ...parsed.data,
      ...(parsed.data.input ? { input: withAbsoluteFile(parsed.data.input) } : {}),
      ...(parsed.data.each ? { each: parsed.data.each.map(withAbsoluteFile) } : {}),
    });
    lines.push(i + 1);
  });
  if (items.length === 0) throw new CliError('the batch has no tasks: give one JSON object per line, like {"agent": "demo", "input": {"seconds": 1}}', 2);
  return { items, lines };
}

export function readBatch(source: string): string {
  try {
    return readFileSync(source === '-' ? 0 : source, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read the batch ${source === '-' ? 'from stdin' : source}: ${(e as Error).message}`, 2);
  }
}
