import type { Backend } from '../../../contracts/agent-manifest.js';
import { DEFAULT_PROJECT, MAX_ARRAY, type TaskSubmission } from '../../../contracts/task.js';
import { parseArraySpec } from '../../../contracts/workflow.js';
import { ManagerError } from '../errors.js';
import type { ResidentKind } from '../../../contracts/residents.js';
import type { LearnedProfile } from '../model/profile.js';
import type { NewDependency, NewTask } from '../model/task.js';
import type { AgentCatalog, AgentSpec } from '../ports.js';
import { describeStatus } from '../scheduler/describe.js';
import { neverFits, type Capacity } from '../scheduler/fit.js';
import { resolveRequest } from '../scheduler/request.js';
import { neverAt } from '../scheduler/status.js';
import { batchRefs } from '../workflow/batch.js';
import { judge, type DepLinkLike, type DepTarget } from '../workflow/dependencies.js';
import { parseBegin } from './begin.js';

/** What to set for backend slurm, said wherever it is refused. */
export const SET_SLURM = 'set slurmEnabled=true and slurmSharedDir=/a/folder/the/nodes/share (agentmgr settings set, or Settings), then restart the Manager';

export interface AdmissionContext {
  agents: Pick<AgentCatalog, 'get' | 'list' | 'validateInput' | 'withDefaults'>;
  capacity: Capacity;
  /** What the agent was learned to use (null until measured enough). */
  /** The agent's learned profile: from this machine's attempts, or (where "slurm") the cluster's. */
  profile(agent: string, where?: string | null): LearnedProfile | null;
  /** What the resident server says a model needs in VRAM (MB), for an agent that drives one; null when it cannot say. */
  residentModelMB?: (kind: ResidentKind, model: string) => number | null;
  now: number;
  /**
   * The stored tasks the submissions depend on, by the id given (an array's id: all its tasks);
   * an id missing here does not exist.
   */
  targets: ReadonlyMap<number, readonly DepTarget[]>;
  /** A Slurm cluster is set up: backend slurm is allowed, and auto sends there what can never fit here. */
  slurm?: boolean;
}

/** The stored ids a list of submissions depends on (for the caller to look up as `targets`). */
export function dependencyIds(submissions: readonly TaskSubmission[]): number[] {
  const ids = new Set<number>();
  for (const s of submissions) for (const d of s.dependsOn ?? []) for (const id of d.ids ?? []) ids.add(id);
  return [...ids];
}

/** At most this many dependency links (dependent × task it waits on) in one submission. */
export const MAX_LINKS = 1_000_000;

function dependencyCount(s: TaskSubmission, lines: readonly Line[], refs: readonly number[][], ctx: AdmissionContext): number {
  let n = 0;
  for (const d of s.dependsOn ?? []) for (const id of d.ids ?? []) n += ctx.targets.get(id)?.length ?? 0;
  for (const r of refs) for (const j of r) n += lines[j]!.members.length;
  return n;
}

/** A new task of a batch line not yet stored: it waits, whatever the rule (nothing has started). */
const UNSTARTED = (id: number): DepTarget => ({ id, state: 'queued', attempts: 0 });

interface Line {
  base: Omit<NewTask, 'input' | 'request' | 'requestPinned'>;
  members: { input: Record<string, unknown>; index: number | null; name?: string }[];
  throttle: number | null;
}

/**
 * Submissions in, new tasks out, or a coded error (ManagerError) naming the first bad one by its
 * index: pure, nothing is stored here. Checks the agent exists, the input satisfies its schema,
 * the request (declared, learned, or the submitter's own) could ever fit this machine, and the
 * workflow: each array's indices and throttle, each dependency's ids and refs (no cycle), and
 * that what it depends on can still be met. An array line becomes one task per index; a
 * dependency on a batch line means every task that line makes.
 */
export function admit(submissions: readonly TaskSubmission[], ctx: AdmissionContext): NewTask[] {
  const steps = admission(submissions, ctx);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** How many submissions, or tasks made, one step of `admission` takes on. */
export const ADMIT_PER_STEP = 100;

/**
 * The same admission, a few hundred submissions (or tasks of an array) a step: what lets a batch
 * of thousands be admitted over several turns of the Manager's thread (Manager.submitInTurns).
 */
export function* admission(submissions: readonly TaskSubmission[], ctx: AdmissionContext): Generator<void, NewTask[], void> {
  const n = submissions.length;
  const at = (i: number): string => (n > 1 ? ` (task ${i + 1} of ${n})` : '');
  const lines: Line[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(line(submissions[i]!, i, at(i), ctx));
    if ((i + 1) % ADMIT_PER_STEP === 0) yield;
  }
  const total = lines.reduce((sum, l) => sum + l.members.length, 0);
  if (total > MAX_ARRAY) throw new ManagerError('INVALID_INPUT', `this submission makes ${total} tasks; at most ${MAX_ARRAY} go in one request`);
  const refs = batchRefs(submissions);
  const links = lines.reduce((sum, l, i) => sum + l.members.length * dependencyCount(submissions[i]!, lines, refs[i] ?? [], ctx), 0);
  if (links > MAX_LINKS)
    throw new ManagerError(
      'INVALID_INPUT',
      `this submission's dependencies come to ${links} links between tasks (each task of an array waits on each task it depends on); at most ${MAX_LINKS} are taken: depend on fewer tasks, or chain a single task in between`,
    );
  // Where each line's tasks will be in the flat list.
  const first: number[] = [];
  let next = 0;
  for (const l of lines) {
    first.push(next);
    next += l.members.length;
  }
  const out: NewTask[] = [];
  let made = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    const s = submissions[i]!;
    const dependsOn: NewDependency[] = [];
    const links: DepLinkLike[] = [];
    (s.dependsOn ?? []).forEach((d, k) => {
      for (const id of d.ids ?? []) {
        const found = ctx.targets.get(id);
        if (!found || found.length === 0)
          throw new ManagerError(
            'INVALID_INPUT',
            `${d.type}:${id}${at(i)}: there is no task ${id} to depend on; \`agentmgr list\` shows the tasks there are`,
            i,
          );
        for (const t of found) {
          dependsOn.push({ type: d.type, taskId: t.id });
          links.push({ type: d.type, ...t });
        }
      }
      for (const j of refs[i]?.[k] ?? []) {
        for (let m = 0; m < lines[j]!.members.length; m++) {
          dependsOn.push({ type: d.type, index: first[j]! + m });
          links.push({ type: d.type, ...UNSTARTED(-1) });
        }
      }
    });
    const mode = s.dependsMode ?? 'all';
    let blocked = false;
    if (dependsOn.length > 0) {
      // A dependency on tasks that have ended is decided now: one that can never be met is refused.
      const verdict = judge(mode, links);
      if (verdict.code === 'never') throw new ManagerError('INVALID_INPUT', `the task could never start${at(i)}: ${verdict.reason}; nothing was submitted`, i);
      blocked = verdict.code === 'wait';
    }
    const agent = ctx.agents.get(s.agent)!;
    // Members of one array with the same input share one resolved request.
    let lastInput: Record<string, unknown> | null = null;
    let lastRequest: { request: NewTask['request']; requestPinned: boolean; backend: Backend } | null = null;
    let stored: Record<string, unknown> = {};
    for (const m of l.members) {
      if (m.input !== lastInput) {
        // The request from the input as given (a default is not the submitter's choice); stored with its defaults.
        lastRequest = requestFor(agent, s, m.input, i, at(i), ctx);
        lastInput = m.input;
        stored = ctx.agents.withDefaults ? ctx.agents.withDefaults(agent, m.input) : m.input;
      }
      // Spelled out, not spread: a spread makes V8 build a slow object (see newTaskRecord).
      const b = l.base;
      const linked = dependsOn.length > 0;
      out.push({
        agent: b.agent,
        project: b.project,
        preemptible: b.preemptible,
        residentModel: modelOf(agent, m.input),
        whenIdle: b.whenIdle,
        name: m.name ?? b.name,
        priority: b.priority,
        input: m.index === null ? stored : { ...stored, arrayIndex: m.index },
        request: lastRequest!.request,
        requestPinned: lastRequest!.requestPinned,
        backend: lastRequest!.backend,
        backendAuto: (s.backend ?? agent.backend) === 'auto',
        maxAttempts: b.maxAttempts,
        backoffSec: b.backoffSec,
        timeoutSec: b.timeoutSec,
        createdAt: b.createdAt,
        notBefore: b.notBefore,
        held: b.held,
        dependsOn: linked ? dependsOn : undefined,
        dependsMode: linked ? mode : undefined,
        blocked: linked ? blocked : undefined,
        array: m.index !== null ? { group: i, index: m.index, throttle: l.throttle } : undefined,
      });
      if (++made % ADMIT_PER_STEP === 0) yield;
    }
  }
  return out;
}

const extOf = (file: string): string => {
  const base = file.split(/[\\/]/).pop() ?? '';
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot).toLowerCase() : '';
};

/** Whether an agent takes a file by its extension; one that declares no `accepts` is not judged. */
function takesFile(agent: AgentSpec, file: string): boolean {
  if (agent.accepts.length === 0 || agent.accepts.includes('*')) return true;
  return agent.accepts.includes(extOf(file));
}

/** One line checked: its agent, inputs (one per array member), begin and throttle. */
function line(s: TaskSubmission, index: number, where: string, ctx: AdmissionContext): Line {
  const agent = ctx.agents.get(s.agent);
  if (!agent) {
    const known =
      ctx.agents
        .list()
        .map((a) => a.name)
        .join(', ') || 'none';
    throw new ManagerError('UNKNOWN_AGENT', `unknown agent "${s.agent}"${where}; known agents: ${known}`, index);
  }
  const input = s.input ?? {};
  let members: Line['members'] = [{ input, index: null }];
  let throttle = s.throttle ?? null;
  if (s.array !== undefined && s.each !== undefined)
    throw new ManagerError('INVALID_INPUT', `give either "array" (indices) or "each" (one input per task), not both${where}`, index);
  if (s.array !== undefined) {
    const spec = parseArraySpec(s.array);
    if ('problem' in spec) throw new ManagerError('INVALID_INPUT', `${spec.problem}${where}`, index);
    if (spec.throttle !== null && throttle !== null && spec.throttle !== throttle)
      throw new ManagerError(
        'INVALID_INPUT',
        `array "${s.array}" says at most ${spec.throttle} at once but throttle says ${throttle}; give one${where}`,
        index,
      );
    throttle = spec.throttle ?? throttle;
    members = spec.indices.map((i) => ({ input, index: i }));
  } else if (s.each !== undefined) {
    // A task over a file is named for it, as one from a drop or `--file` is.
    const named = (extra: Record<string, unknown>): string | undefined =>
      s.name === undefined && typeof extra.file === 'string' ? extra.file.split(/[\\/]/).pop() || undefined : undefined;
    members = s.each.map((extra, i) => ({ input: { ...input, ...extra }, index: i, name: named(extra) }));
  } else if (throttle !== null) {
    throw new ManagerError('INVALID_INPUT', `a throttle limits an array; give "array" (like "0-9") or "each" with it${where}`, index);
  }
  let checked: Record<string, unknown> | null = null;
  for (const m of members) {
    if (m.input === checked) continue;
    const file = m.input.file;
    if (typeof file === 'string' && !s.force && !takesFile(agent, file))
      throw new ManagerError(
        'INVALID_INPUT',
        `agent ${agent.name} takes ${agent.accepts.join(', ')} files, not ${extOf(file) || 'a file without an extension'} (${file})${where}; pick another agent, or submit it anyway with --force (force: true)`,
        index,
      );
    const problem = ctx.agents.validateInput(agent, m.input);
    if (problem)
      throw new ManagerError(
        'INVALID_INPUT',
        `input for agent ${agent.name} is invalid${where}${m.index !== null && s.each ? ` (each[${m.index}])` : ''}: ${problem}`,
        index,
      );
    checked = m.input;
  }
  let notBefore: number | null = null;
  if (s.begin !== undefined) {
    const b = parseBegin(s.begin, ctx.now);
    if ('problem' in b) throw new ManagerError('INVALID_INPUT', `${b.problem}${where}`, index);
    notBefore = b.at > ctx.now ? b.at : null;
  }
  return {
    base: {
      agent: agent.name,
      project: s.project ?? DEFAULT_PROJECT,
      preemptible: s.preemptible ?? agent.preemptible,
      whenIdle: s.whenIdle ?? agent.whenIdle,
      name: s.name ?? null,
      priority: s.priority ?? 0,
      maxAttempts: s.maxAttempts ?? agent.retry.maxAttempts,
      backoffSec: agent.retry.backoffSec,
      timeoutSec: s.timeoutSec ?? agent.timeoutSec,
      createdAt: ctx.now,
      notBefore,
      held: s.hold ?? false,
    },
    members,
    throttle: members[0]!.index !== null ? throttle : null,
  };
}

/** The model a task names on the resident server its agent drives (its input's `resident.modelInput`); null for none. */
function modelOf(agent: AgentSpec, input: Record<string, unknown>): string | null {
  const key = agent.resident?.modelInput;
  const v = key ? input[key] : undefined;
  return typeof v === 'string' && v.length > 0 ? v : null;
}

/**
 * An agent that drives a resident server, for a model the server knows: the VRAM that model needs
 * there (loaded: what it holds; else estimated from its size), which says more than what the
 * agent was learned to use across all its models.
 */
function modelSized(agent: AgentSpec, input: Record<string, unknown>, ctx: AdmissionContext): NewTask['request'] | null {
  const use = agent.resident;
  const name = modelOf(agent, input);
  if (!use || name === null || !ctx.residentModelMB) return null;
  const mb = ctx.residentModelMB(use.kind, name);
  if (mb === null || !(mb > 0)) return null;
  return { cpu: agent.resources.cpu, memoryMB: agent.resources.memoryMB, gpu: { count: agent.resources.gpu?.count || 1, vramMB: Math.ceil(mb) } };
}

function requestFor(agent: AgentSpec, s: TaskSubmission, input: Record<string, unknown>, index: number, where: string, ctx: AdmissionContext) {
  const resolved = resolveRequest(agent.resources, s.resources, { mapping: agent.resourceInputs, input });
  const model = resolved.pinned ? null : modelSized(agent, input, ctx);
  const sized = resolved.pinned || model !== null;
  const learned = sized ? null : ctx.profile(agent.name);
  // What it used on the cluster (sacct), where it ran there: kept apart from this machine's.
  const learnedThere = sized ? null : ctx.profile(agent.name, 'slurm');
  const { request, pinned } = model ? { request: model, pinned: false } : learned ? { request: learned.request, pinned: false } : resolved;
  const backend = s.backend ?? agent.backend;
  if (backend === 'slurm') {
    if (!ctx.slurm) throw new ManagerError('INVALID_INPUT', `task is for the Slurm cluster (backend slurm)${where}, but none is set up: ${SET_SLURM}`, index);
    // This machine's limits do not apply: Slurm says whether the cluster can run it.
    return { request: learnedThere?.request ?? request, requestPinned: pinned, backend };
  }
  // auto: the cluster, for what this machine can never run, by its declared or learned size (what
  // it used here; never run here, what it used on the cluster).
  const judged = learned || model || !learnedThere ? request : learnedThere.request;
  if (backend === 'auto' && (neverFits(judged, ctx.capacity) || (judged.gpu && judged.gpu.count > 0 && ctx.capacity.gpuAbsent))) {
    if (ctx.slurm) return { request: learnedThere?.request ?? request, requestPinned: pinned, backend: 'slurm' as const };
  }
  if (request.gpu && request.gpu.count > 0 && ctx.capacity.gpuAbsent && !s.waitForGpu)
    throw new ManagerError(
      'UNSATISFIABLE',
      `task asks for ${request.gpu.count} GPU${request.gpu.count === 1 ? '' : 's'} (${request.gpu.vramMB} MB each)${where}, but no GPU can be seen on this machine (${ctx.capacity.gpuAbsent}): submit it without one (--gpus 0, or resources.gpu null), or with --wait-for-gpu (waitForGpu) to keep it until one can be seen`,
      index,
    );
  const impossible = neverFits(request, ctx.capacity);
  const noCluster = backend === 'auto' ? `; with backend auto it would be sent to the Slurm cluster, but none is set up: ${SET_SLURM}` : '';
  if (impossible)
    throw new ManagerError(
      'UNSATISFIABLE',
      `task can never run on this machine${where}: it ${describeStatus(neverAt('resources', [impossible]))}${noCluster}`,
      index,
    );
  return { request, requestPinned: pinned, backend: 'local' as const };
}
