import type { TaskSubmission } from '../../../contracts/task.js';
import { ManagerError } from '../errors.js';
import type { LearnedProfile } from '../model/profile.js';
import type { NewTask } from '../model/task.js';
import type { AgentCatalog } from '../ports.js';
import { describeStatus } from '../scheduler/describe.js';
import { neverFits, type Capacity } from '../scheduler/fit.js';
import { resolveRequest } from '../scheduler/request.js';
import { parseBegin } from './begin.js';
import { neverAt } from '../scheduler/status.js';

export interface AdmissionContext {
  agents: Pick<AgentCatalog, 'get' | 'list' | 'validateInput'>;
  capacity: Capacity;
  /** What the agent was learned to use (null until measured enough). */
  profile(agent: string): LearnedProfile | null;
  now: number;
}

/**
 * Submissions in, new tasks out, or a coded error (ManagerError) naming the first bad one by its
 * index: pure, nothing is stored here. Checks the agent exists, the input satisfies its schema,
 * and the request (declared, learned, or the submitter's own) could ever fit this machine.
 */
export function admit(submissions: readonly TaskSubmission[], ctx: AdmissionContext): NewTask[] {
  return submissions.map((s, index) => {
    const where = submissions.length > 1 ? ` (task ${index + 1} of ${submissions.length})` : '';
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
    const inputProblem = ctx.agents.validateInput(agent, input);
    if (inputProblem) throw new ManagerError('INVALID_INPUT', `input for agent ${agent.name} is invalid${where}: ${inputProblem}`, index);
    const resolved = resolveRequest(agent.resources, s.resources, { mapping: agent.resourceInputs, input });
    const learned = resolved.pinned ? null : ctx.profile(agent.name);
    const { request, pinned } = learned ? { request: learned.request, pinned: false } : resolved;
    let notBefore: number | null = null;
    if (s.begin !== undefined) {
      const b = parseBegin(s.begin, ctx.now);
      if ('problem' in b) throw new ManagerError('INVALID_INPUT', `${b.problem}${where}`, index);
      notBefore = b.at > ctx.now ? b.at : null;
    }
    const impossible = neverFits(request, ctx.capacity);
    if (impossible)
      throw new ManagerError('UNSATISFIABLE', `task can never run on this machine${where}: it ${describeStatus(neverAt('resources', [impossible]))}`, index);
    return {
      agent: agent.name,
      name: s.name ?? null,
      priority: s.priority ?? 0,
      input,
      request,
      requestPinned: pinned,
      maxAttempts: s.maxAttempts ?? agent.retry.maxAttempts,
      backoffSec: agent.retry.backoffSec,
      timeoutSec: s.timeoutSec ?? agent.timeoutSec,
      createdAt: ctx.now,
      notBefore,
      held: s.hold ?? false,
    };
  });
}
