import type { Holding, Shortfall, Status } from './status.js';
import { cores, mb, plural, seconds } from './format.js';

/**
 * The one formatter: a scheduling status in the words the UI, the CLI and the API's
 * `waitingReason` show. Null when nothing holds the task back.
 */
export function describeStatus(status: Status | null): string | null {
  if (!status || status.code === 'ok') return null;
  if (status.step === 'paused')
    return status.shortfalls.length > 0 ? `the queue is paused; also: ${status.shortfalls.map(wait).join('; ')}` : 'the queue is paused';
  if (status.step === 'held') return 'held: it starts once released (agentmgr release)';
  if (status.step === 'person' && status.yielding) return `held: ${status.yielding.reason}`;
  if (status.step === 'idle' && status.yielding) return status.yielding.reason;
  if (status.step === 'dependencies' && status.dependencies) return dependencyText(status.dependencies);
  if (status.step === 'begin') return `waits to start until ${new Date(status.until ?? 0).toISOString()} (it was submitted to begin then)`;
  if (status.step === 'backoff') return `waiting to retry: next attempt not before ${new Date(status.until ?? 0).toISOString()}`;
  const parts = status.shortfalls.map(status.code === 'never' ? never : wait);
  if (status.kept)
    parts.push(`task ${status.kept.taskId} has waited longer than ${seconds(status.kept.afterMs)}, so what our tasks free is kept for it until it fits`);
  if (status.preempting?.length)
    parts.push(
      `room is being made: ${status.preempting.length === 1 ? 'task' : 'tasks'} ${status.preempting.join(', ')} of lower priority ${status.preempting.length === 1 ? 'is' : 'are'} being preempted`,
    );
  if (status.freeing?.length)
    parts.push(
      `room is being made: asked ${status.freeing.map((f) => `${f.label} to unload ${f.models.length > 0 ? f.models.join(', ') : 'its models'} (${mb(f.mb)})`).join(' and ')}; it starts once the memory shows free`,
    );
  return parts.length > 0 ? parts.join('; ') : 'waiting for the next scheduling cycle';
}

const amount = (held: readonly Holding[], by: Holding['by']): Holding | undefined => held.find((h) => h.by === by);
const of = (held: readonly Holding[], by: Holding['by']): number => amount(held, by)?.amount ?? 0;

function keptText(held: readonly Holding[], unit: (n: number) => string): string | null {
  const k = amount(held, 'kept');
  return k && k.amount > 0 ? `${unit(k.amount)} kept for task ${k.taskId}` : null;
}

/** "2000 MB free of 8188 MB: 3000 MB held by other programs (game.exe 3000 MB), ..." */
function gpuText(free: number, total: number, held: readonly Holding[]): string {
  const others = amount(held, 'others');
  let first = `${mb(others?.amount ?? 0)} held by other programs`;
  if (others?.top?.length) first += ` (${others.top.map(holderText).join('; ')})`;
  const parts = [first];
  const ours = amount(held, 'ours');
  if (ours && ours.amount > 0) parts.push(`${mb(ours.amount)} by ${plural(ours.tasks ?? 0, 'running task')}`);
  const kept = keptText(held, mb);
  if (kept) parts.push(kept);
  if (of(held, 'margin') > 0) parts.push(`${mb(of(held, 'margin'))} safety margin`);
  return `${mb(free)} free of ${mb(total)}: ${parts.join(', ')}`;
}

/** "game.exe 3000 MB", "Ollama: llama3.1:8b 5600 MB, idle 3 min, can be freed" */
export function holderText(h: { name: string; mb: number; note?: string }): string {
  return `${h.name} ${Math.round(h.mb)} MB${h.note ? `, ${h.note}` : ''}`;
}

function wait(s: Shortfall): string {
  switch (s.resource) {
    case 'tasks':
      return `the maximum of ${plural(s.capacity, 'task')} at once is reached`;
    case 'agent-tasks':
      return `agent ${s.agent} runs at most ${s.capacity} at once (${amount(s.heldBy, 'ours')?.tasks ?? 0} running)`;
    case 'array-tasks':
      return `array ${s.array} runs at most ${s.capacity} at once (${amount(s.heldBy, 'ours')?.tasks ?? 0} running)`;
    case 'project-tasks':
      return `project ${s.project}: ${of(s.heldBy, 'ours')} of ${s.capacity} running`;
    case 'project-vram':
      return (
        `project ${s.project}: ${mb(of(s.heldBy, 'ours'))} of ${mb(s.capacity)} VRAM held, needs ${mb(s.requested)}` +
        (s.requested > s.capacity ? ` (more than the whole quota: raise it with \`agentmgr project set ${s.project} maxVramMB=N\`)` : '')
      );
    case 'cpu': {
      const kept = keptText(s.heldBy, cores);
      return `needs ${cores(s.requested)}, ${cores(s.free)} free of ${s.capacity}${kept ? ` (${kept})` : ''}`;
    }
    case 'memory': {
      const kept = keptText(s.heldBy, mb);
      return (
        `needs ${mb(s.requested)} RAM, ${mb(s.free)} free of ${mb(s.capacity)}` +
        ` (${mb(of(s.heldBy, 'others'))} used by other programs, ${mb(of(s.heldBy, 'ours'))} held by our tasks${kept ? `, ${kept}` : ''})`
      );
    }
    case 'vram':
      return `needs ${mb(s.requested)} VRAM on GPU ${s.gpu}, ${gpuText(s.free, s.capacity, s.heldBy)}`;
    case 'gpus':
      if (s.limited) return `waits for a GPU under its limits: ${s.note ?? ''}`;
      if (s.note !== undefined) return `needs ${plural(s.requested, 'GPU')} with ${mb(s.vramMB ?? 0)} VRAM, but ${s.note}`;
      return (
        `needs ${s.requested} GPUs with ${mb(s.vramMB ?? 0)} VRAM each, ${s.free} ${s.free === 1 ? 'has' : 'have'} enough free` +
        ` (${(s.perGpu ?? []).map((g) => `GPU ${g.gpu}: ${gpuText(g.free, g.capacity, g.heldBy)}`).join('; ')})`
      );
  }
}

function never(s: Shortfall): string {
  switch (s.resource) {
    case 'cpu':
      return `needs ${cores(s.requested)} but this machine has ${s.capacity}`;
    case 'memory':
      return `needs ${mb(s.requested)} RAM but this machine has ${mb(s.capacity)} (${mb(s.free)} usable after the ${mb(of(s.heldBy, 'margin'))} margin)`;
    case 'gpus':
      return `needs ${plural(s.requested, 'GPU')} but this machine has ${s.capacity}`;
    case 'vram':
      return `needs ${mb(s.requested)} VRAM${(s.count ?? 1) > 1 ? ' on each GPU' : ''} but the largest GPU has ${mb(s.capacity)} (${mb(s.free)} usable after the ${mb(of(s.heldBy, 'margin'))} safety margin)`;
    default:
      return wait(s);
  }
}

type Deps = NonNullable<Status['dependencies']>;

const depState = (d: Deps['pending'][number]): string =>
  `${d.id} (${d.state}${d.progress !== null && d.state === 'running' ? `, ${Math.round(d.progress * 100)} %` : ''})`;

/** "waits for task 12 (running, 40 %) and 13 (queued)"; "waits for 98 tasks: 12 (...), ... and 95 more". */
function dependencyText(d: Deps): string {
  const count = d.pending.length + d.more;
  const shown = d.pending.map(depState);
  const joiner = d.mode === 'any' ? ' or ' : ' and ';
  const list =
    d.more > 0
      ? `${shown.join(', ')}${joiner}${d.more} more`
      : shown.length > 1
        ? `${shown.slice(0, -1).join(', ')}${joiner}${shown.at(-1)}`
        : (shown[0] ?? '');
  if (count === 0) return 'waits for its dependencies';
  const what = d.mode === 'any' ? `any one of ${count > 1 ? 'tasks' : 'task'}` : d.more > 0 ? `${count} tasks:` : 'task';
  return `waits for ${what} ${list}`;
}
