import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { ProjectNameSchema, TaskSubmissionSchema, type TaskSubmission } from '../../contracts/task.js';
import { describeIssues } from '../../contracts/errors.js';
import { parseArraySpec, parseDependencySpec } from '../../contracts/workflow.js';
import { intArg, numArg } from './args.js';
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
  force: { type: 'boolean' },
  'wait-for-gpu': { type: 'boolean' },
  batch: { type: 'string' },
  wait: { type: 'boolean' },
} as const;

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
  if (typeof v.project === 'string') {
    const p = ProjectNameSchema.safeParse(v.project);
    if (!p.success) throw new CliError(`--project ${v.project}: ${p.error.issues[0]!.message}`, 2);
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
export function submissionsFromBatch(text: string): { items: TaskSubmission[]; lines: number[] } {
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
    if (!parsed.success) throw new CliError(`batch line ${i + 1}: ${describeIssues(parsed.error.issues)}`, 2);
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
