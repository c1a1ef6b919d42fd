/**
 * Slurm's view of a job, read from `squeue --json` (22.05, and the 23.02+ layout) or from one
 * line of `scontrol show job -o`, and what its final state means for the attempt.
 */
export interface SlurmJob {
  id: string;
  name: string;
  /** PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, ... */
  state: string;
  /** Why it is in that state (pending: Resources, Priority, Dependency, ...); null: none. */
  reason: string | null;
  /** Where it runs (or ran); null before it starts. */
  node: string | null;
  partition: string | null;
  /** How its batch script ended, once it has: exit code, or the signal that killed it. */
  exitCode: number | null;
  signal: number | null;
  /** How often Slurm requeued it (a node failure, a preemption). */
  restarts: number;
  /** When it was submitted, epoch ms by the controller's clock; null where not said. */
  submittedAt: number | null;
  /** When it began to run (the controller's clock); null before it has, or where not said. */
  startedAt?: number | null;
}

/** Still to run or running: its end is still to come. */
export const LIVE_STATES = new Set([
  'PENDING',
  'CONFIGURING',
  'RUNNING',
  'COMPLETING',
  'SUSPENDED',
  'REQUEUED',
  'REQUEUE_FED',
  'REQUEUE_HOLD',
  'RESIZING',
  'SIGNALING',
  'STAGE_OUT',
  'RESV_DEL_HOLD',
  'STOPPED',
]);

export const isLive = (j: SlurmJob): boolean => LIVE_STATES.has(j.state);

const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' && v !== 'None' && v !== '(null)' ? v : null);

/** 23.02+ wraps numbers as {set, infinite, number}. */
function num(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && 'number' in v) {
    const o = v as { set?: boolean; number?: unknown };
    return o.set === false ? null : typeof o.number === 'number' ? o.number : null;
  }
  return null;
}

/** A wait(2) status, as 22.05's squeue reports exit_code: the code in the high byte, the signal in the low. */
export function decodeWaitStatus(status: number): { exitCode: number | null; signal: number | null } {
  const signal = status & 0x7f;
  return signal !== 0 ? { exitCode: null, signal } : { exitCode: (status >> 8) & 0xff, signal: null };
}

function exitOf(v: unknown): { exitCode: number | null; signal: number | null } {
  if (typeof v === 'number') return decodeWaitStatus(v);
  if (v && typeof v === 'object') {
    const o = v as { status?: unknown; return_code?: unknown; signal?: { id?: unknown } };
    const status = Array.isArray(o.status) ? o.status.map(String) : typeof o.status === 'string' ? [o.status] : [];
    const signal = num(o.signal?.id);
    if (status.includes('SIGNALED') && signal) return { exitCode: null, signal };
    return { exitCode: num(o.return_code), signal: null };
  }
  return { exitCode: null, signal: null };
}

function fromJson(j: Record<string, unknown>): SlurmJob {
  const state = Array.isArray(j.job_state) ? String(j.job_state[0] ?? 'UNKNOWN') : String(j.job_state ?? 'UNKNOWN');
  return {
    id: String(num(j.job_id) ?? j.job_id),
    name: String(j.name ?? ''),
    state,
    reason: text(j.state_reason),
    node: text(j.nodes) ?? text(j.batch_host),
    partition: text(j.partition),
    ...exitOf(j.exit_code),
    restarts: num(j.restart_cnt) ?? 0,
    submittedAt: num(j.submit_time) !== null ? num(j.submit_time)! * 1000 : null,
    startedAt: num(j.start_time) ? num(j.start_time)! * 1000 : null,
  };
}

/**
 * `squeue --json`. It exits 0 even when it could not ask the controller, with the reason in
 * `errors`: that is thrown, so a dead controller is never read as "no jobs".
 */
export function parseSqueueJson(out: string): SlurmJob[] {
  let doc: { jobs?: unknown; errors?: unknown };
  try {
    doc = JSON.parse(out) as typeof doc;
  } catch {
    throw new Error(`squeue --json printed something that is not JSON: ${out.slice(0, 120)}`);
  }
  const errors = Array.isArray(doc.errors) ? doc.errors : [];
  if (errors.length > 0) {
    // 22.05 puts the cause in `error` ("Unable to contact slurm controller ...") and what failed in `description`.
    const e = errors[0] as { error?: unknown; description?: unknown };
    const said = [e.error, e.description].filter((x) => typeof x === 'string' && x !== '').join(': ');
    throw new Error(`squeue: ${said || JSON.stringify(e)}`);
  }
  if (!Array.isArray(doc.jobs)) throw new Error('squeue --json printed no "jobs" list');
  return (doc.jobs as Record<string, unknown>[]).map(fromJson);
}

/** One line of `scontrol show job -o <id>`: Key=Value words. */
export function parseScontrolLine(line: string): SlurmJob | null {
  const f = new Map<string, string>();
  for (const m of line.matchAll(/(?:^|\s)([A-Za-z][\w:/]*)=(\S*)/g)) if (!f.has(m[1]!)) f.set(m[1]!, m[2]!);
  const id = f.get('JobId');
  if (!id) return null;
  const [code, sig] = (f.get('ExitCode') ?? '').split(':').map(Number);
  return {
    id,
    name: f.get('JobName') ?? '',
    state: f.get('JobState') ?? 'UNKNOWN',
    reason: text(f.get('Reason')),
    node: text(f.get('NodeList')) ?? text(f.get('BatchHost')),
    partition: text(f.get('Partition')),
    exitCode: sig ? null : Number.isFinite(code) ? code! : null,
    signal: sig ? sig : null,
    restarts: Number(f.get('Restarts') ?? 0) || 0,
    // The controller's local time, as scontrol prints it.
    submittedAt: Number.isFinite(Date.parse(f.get('SubmitTime') ?? '')) ? Date.parse(f.get('SubmitTime')!) : null,
    startedAt: Number.isFinite(Date.parse(f.get('StartTime') ?? '')) ? Date.parse(f.get('StartTime')!) : null,
  };
}

/** The fields asked of sacct, in this order (`sacct -X -P -n -o SACCT_FIELDS`). */
export const SACCT_FIELDS = 'JobID,JobName,State,ExitCode,NodeList,Partition,Submit';

/**
 * One line of `sacct -j ID -X -P -n -o SACCT_FIELDS`: a job Slurm's accounting remembers after the
 * controller forgot it. Its State may carry who did it ("CANCELLED by 1000").
 */
export function parseSacctLine(line: string): SlurmJob | null {
  const [id, name, state, exit, node, partition, submit] = line.trim().split('|');
  if (!id || !/^\d+(_\d+)?$/.test(id) || state === undefined) return null;
  const [code, sig] = (exit ?? '').split(':').map(Number);
  return {
    id,
    name: name ?? '',
    state: state.split(' ')[0] ?? 'UNKNOWN',
    reason: null,
    node: text(node) === 'None assigned' ? null : text(node),
    partition: text(partition),
    exitCode: sig ? null : Number.isFinite(code) ? code! : null,
    signal: sig ? sig : null,
    restarts: 0,
    submittedAt: Number.isFinite(Date.parse(submit ?? '')) ? Date.parse(submit!) : null,
  };
}

/** The fields asked of sacct for what a job used (`sacct -j ID -P -n -o USAGE_FIELDS`): one line per step. */
export const USAGE_FIELDS = 'JobID,MaxRSS,TRESUsageInMax';

/** A size as sacct prints it: "10372780K", "38888M", "4G", or plain bytes ("0"); null for none. */
export function sizeMB(v: string | undefined): number | null {
  const m = /^(\d+(?:\.\d+)?)([KMGTP]?)$/i.exec((v ?? '').trim());
  if (!m) return null;
  const f: Record<string, number> = { '': 1 / 1048576, K: 1 / 1024, M: 1, G: 1024, T: 1024 * 1024, P: 1024 ** 3 };
  return Math.round(Number(m[1]) * f[m[2]!.toUpperCase()]!);
}

/** What a job's steps used at their peak, by Slurm's accounting. */
export interface SlurmUsage {
  memoryMB: number | null;
  /** GPU memory (the gres/gpumem TRES, where the cluster tracks it: AccountingStorageTRES with a GPU plugin); null where it does not. */
  vramMB: number | null;
}

/**
 * The peak use of job `id` from `sacct -j ID -P -n -o USAGE_FIELDS`: the largest over its steps
 * (the batch step and any srun steps; the extern step holds only Slurm's own processes), memory
 * from MaxRSS or the TRES `mem`, GPU memory from `gres/gpumem`. null when no step was recorded yet.
 */
export function parseSacctUsage(out: string, id: string): SlurmUsage | null {
  let memoryMB: number | null = null;
  let vramMB: number | null = null;
  let steps = 0;
  const max = (a: number | null, b: number | null): number | null => (b === null ? a : a === null ? b : Math.max(a, b));
  for (const line of out.split('\n')) {
    const [jobId, maxRss, tres] = line.trim().split('|');
    if (!jobId?.startsWith(`${id}.`) || jobId.endsWith('.extern')) continue;
    steps++;
    const usage = new Map((tres ?? '').split(',').map((kv) => kv.split('=') as [string, string]));
    memoryMB = max(memoryMB, max(sizeMB(maxRss), sizeMB(usage.get('mem'))));
    vramMB = max(vramMB, sizeMB(usage.get('gres/gpumem')));
  }
  return steps === 0 ? null : { memoryMB, vramMB };
}

/**
 * What a final Slurm state says about an attempt whose agent left no exit status of its own
 * (the job never got to run it, or Slurm killed the whole job). null: the state says nothing more.
 */
export type SlurmEnd =
  | { kind: 'timedOut'; note: string }
  | { kind: 'oom'; note: string }
  | { kind: 'interrupted'; note: string; counts: boolean }
  | { kind: 'cancelled'; note: string }
  | { kind: 'exit'; note: string };

export function jobEnd(job: SlurmJob): SlurmEnd {
  const id = `Slurm job ${job.id}`;
  const where = job.node ? ` on ${job.node}` : '';
  switch (job.state) {
    case 'COMPLETED':
      return { kind: 'exit', note: `${id} completed${where}` };
    case 'FAILED':
      return { kind: 'exit', note: `${id} failed${where}${job.reason ? ` (${job.reason})` : ''}` };
    case 'TIMEOUT':
      return { kind: 'timedOut', note: `${id} reached its Slurm time limit (--time)` };
    case 'DEADLINE':
      return { kind: 'timedOut', note: `${id} passed its Slurm deadline` };
    case 'OUT_OF_MEMORY':
      return { kind: 'oom', note: `${id} went over its memory (--mem)${where}` };
    case 'NODE_FAIL':
      return { kind: 'interrupted', counts: false, note: `${id}'s node${where} failed` };
    case 'BOOT_FAIL':
      return { kind: 'interrupted', counts: false, note: `${id}'s node${where} failed to boot` };
    case 'PREEMPTED':
      return { kind: 'interrupted', counts: false, note: `${id} was preempted by Slurm` };
    case 'CANCELLED':
      return { kind: 'cancelled', note: `${id} was cancelled in Slurm (scancel, or an administrator)` };
    default:
      return { kind: 'interrupted', counts: true, note: `${id} ended as ${job.state}` };
  }
}
