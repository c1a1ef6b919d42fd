import type { AgentView } from '../../../contracts/agent-manifest.js';
import type { FreeVramResult, ResidentView } from '../../../contracts/residents.js';
import { aboutIn } from '../../../contracts/workflow.js';
import { parseDuration } from '../args.js';
import { CliError } from '../client.js';
import { print, printJson, type Command } from '../command.js';
import { table } from '../format.js';

export const COMMANDS: Record<string, Command> = {
  agents: {
    options: { reload: { type: 'boolean' } },
    async run(api, pos, v) {
      if (pos.length > 1) throw new CliError('agents takes at most one agent name: `agentmgr agents NAME`', 2);
      const r = v.reload ? await api.agents.reload.mutate() : await api.agents.list.query();
      const res = (r: { cpu: number; memoryMB: number; gpu?: { vramMB: number; count: number } | null }) =>
        `${r.cpu} CPU, ${r.memoryMB} MB${r.gpu ? `, ${r.gpu.count > 1 ? `${r.gpu.count}×` : ''}${r.gpu.vramMB} MB VRAM` : ''}`;
      if (pos.length === 1) {
        const a = r.agents.find((x) => x.name === pos[0]);
        if (!a) throw new CliError(`no agent "${pos[0]}"; agents are: ${r.agents.map((x) => x.name).join(', ') || 'none'}`, 1, 'NOT_FOUND');
        if (v.json) return (printJson(a), 0);
        print(agentDetail(a, res));
        return 0;
      }
      if (v.json) return (printJson(r), 0);
      if (v.reload) print(`reloaded: ${r.agents.length} agent(s)${r.problems.length ? `, ${r.problems.length} not loaded` : ''}`);
      print(
        table(
          ['NAME', 'DECLARED', 'LEARNED', 'ACCEPTS', 'DESCRIPTION'],
          r.agents.map((a) => [
            a.name,
            res(a.resources),
            a.learned ? `${res(a.learned.request)} (${a.learned.samples} runs)` : '-',
            a.accepts.join(' ') || '-',
            a.description.split('\n')[0] ?? '',
          ]),
        ),
      );
      for (const p of r.problems) print(`not loaded: ${p.path}: ${p.message}`);
      return 0;
    },
  },
  status: {
    options: {},
    async run(api, _pos, v) {
      const [q, res, health, projects] = await Promise.all([api.queue.status.query(), api.resources.query(), api.health.query(), api.projects.list.query()]);
      if (v.json) return (printJson({ queue: q, resources: res, health, projects }), 0);
      const c = q.counts;
      print(
        `Queue:   ${q.paused ? 'PAUSED' : 'running'}; ${q.running} running (max ${q.maxConcurrency}), ${q.queued} queued; ${c.succeeded} succeeded, ${c.failed} failed, ${c.cancelled} cancelled, ${c.timed_out} timed out, ${c.interrupted} interrupted`,
      );
      // Fair share: each project's part of the recent use against what its weight entitles it to.
      if (projects.length > 1 || projects.some((p) => p.name !== 'default'))
        print(
          `Projects: ${projects
            .map(
              (p) =>
                `${p.name} ${Math.round(p.usageShare * 100)} % of use (share ${Math.round(p.targetShare * 100)} %, ${p.running} running, ${p.queued} queued)`,
            )
            .join('; ')}`,
        );
      const e = q.estimate;
      if (e.drainsAt !== null && q.queued + q.running > 0)
        print(
          `Estimate: the queue is done in ${aboutIn(new Date(e.drainsAt).getTime() - Date.now())}${e.withoutEstimate > 0 ? ` (${e.withoutEstimate} task(s) without an estimate: see \`agentmgr show ID\`)` : ''}`,
        );
      if (q.yielding) print(`Held:    ${q.yielding.reason}`);
      if (health.slurm)
        print(
          health.slurm.reachable
            ? `Slurm:   the controller answers; ${health.slurm.watched} job(s) watched`
            : `Slurm:   the controller does NOT answer since ${new Date(health.slurm.since).toLocaleTimeString()} (${health.slurm.message ?? 'no answer'}); its tasks wait, nothing is lost`,
        );
      // Said only when agents are not started through the spawner (ADR 22): slower, and why.
      if (health.spawner?.mode === 'direct') print(`Spawner: not in use; agents are started by the Manager itself (${health.spawner.problem ?? 'starting'})`);
      if (q.idle)
        print(`Away:    ${q.idle.awaySec >= q.idle.needSec ? 'yes' : 'no'}: ${q.idle.awaySec} s without input; idle-only work needs ${q.idle.needSec} s`);
      if (q.keptFor !== null) print(`Kept:    what finishing tasks free is kept for task ${q.keptFor}, which has waited too long for room`);
      print(
        `CPU:     ${res.cpu.held} of ${res.cpu.cores} cores held by our tasks${res.snapshot.cpu.loadPct !== null ? `; load ${res.snapshot.cpu.loadPct}%` : ''}`,
      );
      print(
        `RAM:     ${res.memory.oursMB} MB ours, ${res.memory.foreignMB} MB other programs, ${Math.max(0, res.memory.freeMB)} MB free of ${res.memory.totalMB} MB`,
      );
      if (res.gpus.length === 0) print(`GPU:     none visible (${health.gpu.message ?? 'no NVIDIA GPU'})`);
      for (const g of res.gpus) {
        print(
          `GPU ${g.index}:   ${g.name}: ${g.oursMB} MB ours, ${g.foreignMB} MB other programs${g.foreignTop.length ? ` (${g.foreignTop.join('; ')})` : ''}, ${Math.max(0, g.freeMB)} MB free of ${g.totalMB} MB (${res.vramMarginMB} MB margin)`,
        );
        if (g.limited) print(`         ${g.limited}: no new GPU task starts on it`);
      }
      for (const r of res.residents) print(`${(r.label + ':').padEnd(9)}${residentLine(r)}`);
      return 0;
    },
  },
  pause: {
    options: { 'free-vram': { type: 'boolean' } },
    async run(api, _pos, v) {
      if (!v['free-vram']) {
        const r = await api.queue.pause.mutate();
        if (v.json) printJson(r);
        else print('queue paused: running tasks go on, no new ones start (`agentmgr resume` to continue)');
        return 0;
      }
      const r = await api.queue.pause.mutate({ freeVram: true });
      if (v.json) printJson(r);
      else print(freeVramText(r.freed!).join('\n'));
      return 0;
    },
  },
  idle: {
    options: {},
    async run(api, pos, v) {
      const sec = pos.length === 1 && /^\d+(\.\d+)?$/.test(pos[0]!) ? Number(pos[0]) : NaN;
      if (!Number.isFinite(sec) || sec > 365 * 86_400)
        throw new CliError('say how long you have been away, in seconds: `agentmgr idle 900` (0: you are back)', 2);
      const r = await api.queue.idle.mutate({ idleSec: sec });
      if (v.json) return (printJson(r), 0);
      const g = r.idle!;
      print(
        g.awaySec >= g.needSec
          ? `away ${g.awaySec} s: idle-only work may start (it waits for ${g.needSec} s away)`
          : `away ${g.awaySec} s: idle-only work waits until you have been away ${g.needSec} s`,
      );
      return 0;
    },
  },
  focus: {
    options: {},
    async run(api, pos, v) {
      const forSec = focusArgs(pos);
      const r =
        forSec === 'status'
          ? { yielding: (await api.queue.status.query()).yielding }
          : await api.queue.focus.mutate(forSec === 'off' ? { on: false } : forSec === 'on' ? { on: true } : { on: true, forSec });
      if (v.json) return (printJson(r), 0);
      const y = r.yielding;
      if (forSec === 'status') print(y === null ? 'nothing holds GPU work: GPU tasks start as they fit' : `held: ${y.reason}`);
      else if (forSec === 'off') print(y === null ? 'focus mode off: GPU tasks start as they fit' : `focus mode off; ${y.reason} still holds`);
      else print(`focus mode on: ${y?.reason ?? 'nothing holds (it may have ended already)'}`);
      return 0;
    },
  },
  resume: {
    options: {},
    async run(api, _pos, v) {
      const r = await api.queue.resume.mutate();
      if (v.json) printJson(r);
      else print('queue resumed');
      return 0;
    },
  },
};

/** `focus on`, `focus off`, `focus for 1h` (s, m, min, h, d; `1h30m`), or `focus` alone (where it stands). */
function focusArgs(pos: readonly string[]): 'on' | 'off' | 'status' | number {
  const usage = 'say `agentmgr focus on`, `agentmgr focus off`, or `agentmgr focus for 1h` (also 30m, 90s, 1h30m)';
  if (pos.length === 0) return 'status';
  if (pos.length === 1 && (pos[0] === 'on' || pos[0] === 'off')) return pos[0];
  if (pos[0] !== 'for' || pos.length !== 2) throw new CliError(`focus ${pos.join(' ')}: ${usage}`, 2);
  const sec = parseDuration(pos[1]!);
  if (sec === null) throw new CliError(`focus for ${pos[1]}: not a duration; ${usage}`, 2);
  if (sec < 1 || sec > 7 * 86_400) throw new CliError(`focus for ${pos[1]}: give between 1 s and 7 days`, 2);
  return sec;
}

/** "llama3.1:8b 5600 MB, idle 3 min, can be freed (policy when-idle)", or why it is not read. */
function residentLine(r: ResidentView): string {
  if (r.state !== 'ok') return `${r.state} at ${r.url}: ${r.message ?? ''} (its VRAM counts as any other program's)`;
  const models = r.models.length > 0 ? r.models.map((m) => `${m.name}${m.vramMB !== null ? ` ${m.vramMB} MB` : ''}`).join(', ') : 'no model loaded';
  const activity = r.busy ? 'busy' : r.lastActiveAt !== null ? `idle ${aboutIn(Date.now() - r.lastActiveAt)}` : 'idle';
  const free = r.freeing ? 'being asked to unload' : r.canFree ? 'can be freed' : (r.message ?? 'not freed now');
  return `${models}; ${r.vramMB} MB on the GPU; ${activity}; ${free} (policy ${r.policy})`;
}

/** What `pause --free-vram` did, a line each: the hold, the tasks queued again or kept, each resident. */
function freeVramText(r: FreeVramResult): string[] {
  const lines = ['queue paused: no new task starts (`agentmgr resume` to continue)'];
  if (r.requeued.length > 0) lines.push(`queued again to free the GPU (nothing lost): ${r.requeued.map((id) => `#${id}`).join(', ')}`);
  for (const k of r.kept) lines.push(`left running: #${k.id} (${k.why})`);
  for (const x of r.residents)
    lines.push(x.asked ? `${x.label}: asked to unload (${x.vramMB} MB)` : `${x.label}: not asked (${x.why}); it keeps ${x.vramMB} MB`);
  if (r.requeued.length === 0 && r.kept.length === 0 && r.residents.length === 0) lines.push('nothing of ours or of the residents holds the GPU');
  return lines;
}

interface SchemaProperty {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
}

/** `agentmgr agents NAME`: what it is, what it takes (each input with its type, default and limits) and a submit line to copy. */
function agentDetail(a: AgentView, res: (r: AgentView['resources']) => string): string {
  const schema = (a.inputSchema ?? {}) as { properties?: Record<string, SchemaProperty>; required?: string[] };
  const props = Object.entries(schema.properties ?? {});
  const required = new Set(schema.required ?? []);
  const lines = [`${a.name}${a.title && a.title !== a.name ? ` — ${a.title}` : ''}`, ...a.description.split('\n').map((l) => `  ${l}`)];
  lines.push(`  resources:  ${res(a.resources)}${a.learned ? `; learned ${res(a.learned.request)} over ${a.learned.samples} runs` : ''}`);
  if (a.learnedOnCluster) lines.push(`  on Slurm:   learned ${res(a.learnedOnCluster.request)} over ${a.learnedOnCluster.samples} runs (Slurm's accounting)`);
  if (a.accepts.length) lines.push(`  accepts:    ${a.accepts.join(' ')} (as --file; each file is one task)`);
  if (a.timeoutSec) lines.push(`  timeout:    ${a.timeoutSec} s`);
  if (a.preemptible) lines.push(`  preemptible, with ${a.preemptGraceSec} s to stop`);
  lines.push(`  folder:     ${a.dir}`);
  if (props.length === 0) lines.push('  input:      none');
  else {
    lines.push('  input:');
    for (const [name, p] of props) {
      const type = Array.isArray(p.type) ? p.type.join('|') : (p.type ?? 'any');
      const limits = [
        p.enum ? `one of ${p.enum.map((x) => JSON.stringify(x)).join(', ')}` : null,
        p.minimum !== undefined ? `≥ ${p.minimum}` : null,
        p.maximum !== undefined ? `≤ ${p.maximum}` : null,
        p.default !== undefined ? `default ${JSON.stringify(p.default)}` : null,
        required.has(name) ? 'required' : null,
      ].filter(Boolean);
      lines.push(`    ${name.padEnd(12)} ${type}${limits.length ? ` (${limits.join(', ')})` : ''}${p.description ? `: ${p.description}` : ''}`);
    }
  }
  lines.push(`  example:    ${exampleSubmit(a, props, required)}`);
  return lines.join('\n');
}

/** A submit line that would be accepted: every required input, with its default or a value of its type. */
function exampleSubmit(a: AgentView, props: [string, SchemaProperty][], required: Set<string>): string {
  const input: Record<string, unknown> = {};
  for (const [name, p] of props) {
    if (!required.has(name) && input[name] === undefined && Object.keys(input).length >= 2) continue;
    if (name === 'file' && a.accepts.length) continue;
    const type = Array.isArray(p.type) ? p.type[0] : p.type;
    input[name] =
      p.default ??
      p.enum?.[0] ??
      (type === 'number' || type === 'integer' ? (p.minimum ?? 1) : type === 'boolean' ? true : type === 'array' ? [] : type === 'object' ? {} : 'text');
  }
  const file = a.accepts.length ? ` --file FILE${a.accepts[0] === '*' ? '' : a.accepts[0]}` : '';
  const json = Object.keys(input).length ? ` --input '${JSON.stringify(input).replace(/'/g, "'\\''")}'` : '';
  return `agentmgr submit ${a.name}${json}${file}`;
}
