// A day-long trace (issue 13, point 7): one simulated workstation day replayed through the core's
// real scheduling cycle (runCycle, with fair share and preemption) on a virtual clock, and through
// policies that stand in for other tools, written here. No processes are spawned.
//
// The machine: an RTX 4060 (8188 MB), 8 cores, 32 GB RAM. The day's figures, from published
// numbers:
// - LLM chat: Llama 3.1 8B at Q4_K_M is a 4.9 GB file (ollama.com/library/llama3.1:8b); with the
//   default context's KV cache and CUDA buffers it holds about 6.2 GB. Loading from an NVMe disk at
//   about 1.5 GB/s takes ~4 s. Interactive: priority 10.
// - SDXL 1.0 base at 1024×1024 in fp16: about 6.5 GB with ComfyUI/diffusers' memory savings
//   (the diffusers SDXL guide; ComfyUI runs it on 8 GB cards), ~30 s for 30 steps on a 4060,
//   a 6.9 GB checkpoint loaded in ~5 s: the largest model of the day.
// - Whisper small / medium: ~2 GB / ~5 GB of VRAM (openai/whisper README, "Required VRAM").
// - Embedding batches (bge-base class): ~1.1 GB, many, a minute or two each.
// - OCR with tesseract: CPU only, one core.
// The desktop holds 0.5–0.7 GB through the day and 2 GB while a game holds 4 GB, 19:00–20:00
// (no chats or renders then: the person is playing; batch work goes on). A tenth of
// the tasks declare less VRAM than they really peak at (long prompts, big pages), so learned
// profiles and out-of-memory retries are exercised.
import { DEFAULT_PROJECT_SETTINGS } from '../dist/contracts/project.js';
import { Projects } from '../dist/src-main/core/projects/projects.js';
import { runCycle } from '../dist/src-main/core/scheduler/cycle.js';
import { schedulingPipeline } from '../dist/src-main/core/scheduler/pipeline.js';
import { QueueIndex } from '../dist/src-main/core/scheduler/queue.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, rng } from './lib.mjs';

const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const TOTAL = 8188;
const MARGIN = 256;
const CORES = 8;
const LOAD_LARGEST_SEC = 5; // SDXL's checkpoint
const CHECKPOINT_SEC = 3; // a preempted batch task's time to save its state (within its grace)

/** How long Ollama keeps a model loaded after its last request (its default keep_alive). */
const KEEP_ALIVE_MS = 5 * 60 * 1000;

const KINDS = {
  chat: { vram: 6200, sec: [15, 60], loadSec: 4, priority: 10, project: 'interactive', preemptible: false },
  sdxl: { vram: 6500, sec: [25, 45], loadSec: 5, priority: 5, project: 'art', preemptible: false },
  whisperS: { vram: 2000, sec: [120, 360], loadSec: 1, priority: 0, project: 'batch', preemptible: true },
  whisperM: { vram: 5000, sec: [300, 900], loadSec: 2, priority: 0, project: 'batch', preemptible: true },
  embed: { vram: 1100, sec: [60, 150], loadSec: 1, priority: 0, project: 'batch', preemptible: true },
  ocr: { vram: 0, sec: [30, 90], loadSec: 0, priority: 0, project: 'docs', preemptible: false },
};

/** The day: arrivals from 08:00 to 22:00, a saturating art + batch stretch 13:00–16:00. */
export function makeDay(seed = 13) {
  const rnd = rng(seed);
  const between = ([a, b]) => a + (b - a) * rnd();
  const tasks = [];
  let chats = 0;
  const add = (kind, at, project) => {
    const k = { ...KINDS[kind], ...(project ? { project } : {}) };
    // The model a task names on the server that runs it (Ollama): two chat models, one embedding
    // model per script, whisper's two sizes; renders and OCR name none. Chosen without the random
    // stream, so the day itself is what it was.
    const model =
      kind === 'chat'
        ? chats++ % 3 === 2
          ? 'qwen2.5:7b'
          : 'llama3.1:8b'
        : kind === 'embed'
          ? k.project === 'research'
            ? 'nomic-embed-text'
            : 'bge-m3'
          : kind.startsWith('whisper')
            ? kind
            : null;
    // Batch inputs vary (a long recording, a big page of text): those are the ones that peak
    // above what their agent declares, a tenth of all the day's tasks.
    const under = k.preemptible && k.vram > 0 && rnd() < 0.12;
    tasks.push({
      id: tasks.length + 1,
      kind,
      at,
      durMs: Math.round(between(k.sec) * SEC),
      declared: k.vram,
      peak: under ? Math.round(k.vram * 1.2) : k.vram,
      under,
      model,
      ...k,
    });
  };
  // Chats and renders are the person's: none while they play (19:00–20:00).
  for (let t = 8 * HOUR; t < 22 * HOUR; t += between([4, 12]) * MIN) if (!gaming(t)) add('chat', t);
  for (let t = 9 * HOUR; t < 21 * HOUR; t += between([5, 20]) * MIN) if (!gaming(t)) add('sdxl', t);
  for (let i = 0; i < 40; i++) add('sdxl', 13 * HOUR + i * 4 * MIN); // a render session that saturates the GPU
  for (let t = 10 * HOUR; t < 18 * HOUR; t += between([20, 50]) * MIN) add(rnd() < 0.5 ? 'whisperS' : 'whisperM', t);
  // Two scripts' embedding batches, at the same priority: "batch" (weight 1) and "research" (weight
  // 2), both saturating the machine from 13:00.
  for (let i = 0; i < 400; i++) add('embed', 13 * HOUR + Math.floor(i / 100) * 5 * MIN, i % 2 === 0 ? 'batch' : 'research');
  for (let t = 8.5 * HOUR; t < 20 * HOUR; t += between([3, 8]) * MIN) add('ocr', t);
  tasks.sort((a, b) => a.at - b.at || a.id - b.id);
  tasks.forEach((t, i) => (t.seq = i + 1));
  return tasks;
}

const gaming = (t) => t >= 19 * HOUR && t < 20 * HOUR;
// 0.5–0.7 GB through the day (a browser's tabs come and go); 2 GB with the game's launcher and overlay.
const desktopAt = (t) => (gaming(t) ? 2000 : 500 + Math.round(200 * Math.max(0, Math.sin(((t / HOUR - 8) / 14) * Math.PI))));
const gameAt = (t) => (gaming(t) ? 4000 : 0);
const foreignAt = (t) => desktopAt(t) + gameAt(t);

const WEIGHTS = { interactive: 2, art: 2, batch: 1, research: 2, docs: 1 };

/**
 * Plays the day under one policy. `pick(state)` returns the tasks to start now (and victims to
 * stop); the rest is common: real memory, out-of-memory kills, retries with a raised request,
 * learned profiles (as core/model/profile.ts: p95 of recent peaks + 15 % (at most 512 MB) + 128 MB, after 3 runs), the metrics.
 */
export function play(day, policy, { fairShare, preemption, residency = true }) {
  const tasks = day.map((t) => ({
    ...t,
    request: t.declared,
    attempts: 0,
    started: null,
    done: null,
    firstWaitEnd: null,
    remainingMs: t.durMs,
    queuedAt: t.at,
  }));
  const learned = new Map(); // kind -> peaks
  const projects = new Projects({ load: () => [], save: () => {} }, () => HOUR);
  for (const [name, weight] of Object.entries(WEIGHTS)) projects.set(name, { ...DEFAULT_PROJECT_SETTINGS, weight }, 0);
  const queued = [];
  const running = new Map(); // id -> { task, startedAt, endAt, stopping }
  let next = 0;
  let now = day[0].at;
  const stats = { oomTruthful: 0, oomUnder: 0, preemptions: 0, vramMs: 0, failed: 0, gpuMsByProject: {}, loadMs: 0, warmStarts: 0 };
  // Residency: a model stays loaded while a task uses it and KEEP_ALIVE_MS after (the memory it
  // holds then is not modelled: the tasks' own reservations stand for it); a start finds it warm
  // and skips its load.
  const lastUse = new Map();
  const warm = (model) =>
    model !== null && ([...running.values()].some((r) => r.task.model === model && !r.oom) || now - (lastUse.get(model) ?? -Infinity) <= KEEP_ALIVE_MS);
  const cap = day[0].at + 48 * HOUR; // what has not run by then never would
  const requestOf = (t) => {
    const peaks = learned.get(t.kind);
    if (t.requestRaised) return t.request;
    if (peaks && peaks.length >= 3) {
      const sorted = [...peaks].slice(-20).sort((a, b) => a - b);
      const p95 = sorted[Math.ceil(0.95 * sorted.length) - 1];
      return Math.max(t.declared, Math.ceil(p95 + Math.min(p95 * 0.15, 512) + 128)); // as core/model/profile.ts
    }
    return t.declared;
  };
  const realUsed = () => foreignAt(now) + [...running.values()].reduce((a, r) => a + r.task.peak, 0);
  const start = (t) => {
    t.attempts += 1;
    const free = TOTAL - realUsed();
    if (t.peak > 0 && t.peak > free) {
      // Out of memory: it dies while loading; the retry asks for what it reached.
      if (t.under) stats.oomUnder += 1;
      else stats.oomTruthful += 1;
      t.request = Math.min(TOTAL - MARGIN, Math.max(t.request, Math.ceil(t.peak * 1.15 + 128))); // as lifecycle/next-step.ts raisedAfterOom
      t.requestRaised = true;
      running.set(t.id, { task: t, startedAt: now, endAt: now + t.loadSec * SEC, oom: true });
      return;
    }
    if (t.firstWaitEnd === null) t.firstWaitEnd = now;
    const loadMs = warm(t.model) ? 0 : t.loadSec * SEC;
    if (loadMs === 0 && t.loadSec > 0) stats.warmStarts += 1;
    stats.loadMs += loadMs;
    running.set(t.id, { task: t, startedAt: now, endAt: now + t.remainingMs + loadMs, oom: false, loadMs });
  };
  const finish = (r) => {
    running.delete(r.task.id);
    const t = r.task;
    if (t.model !== null && !r.oom) lastUse.set(t.model, now);
    if (r.oom) {
      // As the agents' retry policy: three attempts, then it has failed.
      if (t.attempts >= 3) {
        stats.failed += 1;
        t.failed = true;
        return;
      }
      t.queuedAt = now;
      queued.push(t);
      return;
    }
    if (r.stopping) {
      // Preempted: it checkpointed; the rest of its work is left for its next attempt.
      t.remainingMs = Math.max(0, t.remainingMs - Math.max(0, r.stopping - r.startedAt - r.loadMs));
      t.queuedAt = now;
      queued.push(t);
      return;
    }
    t.done = now;
    if (t.peak > 0) learned.set(t.kind, [...(learned.get(t.kind) ?? []), t.peak]);
  };
  const account = (dt) => {
    // Shares are counted while both embedding projects have work waiting (both saturated).
    const saturated = queued.some((t) => t.project === 'batch') && queued.some((t) => t.project === 'research');
    for (const r of running.values()) {
      stats.vramMs += r.task.peak * dt;
      if (saturated && !r.oom) stats.gpuMsByProject[r.task.project] = (stats.gpuMsByProject[r.task.project] ?? 0) + usageRateOf(r.task) * dt;
    }
  };
  while ((next < day.length || queued.length > 0 || running.size > 0) && now < cap) {
    while (next < day.length && day[next].at <= now) {
      const t = tasks[next++];
      // What held the card when a chat came: to explain its wait.
      if (t.priority === 10)
        t.arrivedWith = [...running.values()].map((r) =>
          r.task.kind === 'sdxl'
            ? 'render'
            : r.task.kind === 'chat'
              ? 'chat'
              : r.task.peak > 0
                ? now - r.startedAt < 60_000
                  ? 'young batch'
                  : 'batch'
                : 'cpu',
        );
      queued.push(t);
    }
    for (const r of [...running.values()]) if (r.endAt <= now) finish(r);
    projects.accrue(
      [...running.values()].filter((r) => !r.oom).map((r) => ({ project: r.task.project, request: req(r.task.request, r.task) })),
      now,
    );
    for (const t of queued) t.request = t.requestRaised ? t.request : requestOf(t);
    const warmModels = residency ? [...new Set(tasks.map((t) => t.model))].filter((m) => m !== null && warm(m)) : [];
    const { starts, stops } = policy({ now, queued, running, projects, fairShare, preemption, used: realUsed(), foreign: foreignAt(now), warmModels });
    for (const id of stops) {
      const r = running.get(id);
      if (!r || r.stopping) continue;
      r.stopping = now;
      r.endAt = now + CHECKPOINT_SEC * SEC;
      stats.preemptions += 1;
    }
    for (const t of starts) {
      queued.splice(queued.indexOf(t), 1);
      start(t);
    }
    const upcoming = [next < day.length ? day[next].at : Infinity, ...[...running.values()].map((r) => r.endAt)];
    const to = Math.max(now + SEC, Math.min(...upcoming, now + MIN));
    account(to - now);
    now = to;
  }
  const high = tasks
    .filter((t) => t.priority === 10)
    .map((t) => ((t.firstWaitEnd ?? now) - t.at) / SEC)
    .sort((a, b) => a - b);
  const unfinished = tasks.filter((t) => t.done === null).length;
  // Each chat that waited longer than the target, by what held the card when it came.
  const slow = {};
  for (const t of tasks.filter((x) => x.priority === 10 && ((x.firstWaitEnd ?? now) - x.at) / SEC >= 1.5 * LOAD_LARGEST_SEC)) {
    const w = t.arrivedWith ?? [];
    const why = w.includes('render')
      ? 'a render'
      : w.includes('chat')
        ? 'another chat'
        : w.includes('young batch')
          ? 'batch tasks too young to preempt'
          : w.includes('batch')
            ? 'batch tasks (preemptible)'
            : 'nothing on the GPU';
    slow[why] = (slow[why] ?? 0) + 1;
  }
  const q = (p) => high[Math.min(high.length - 1, Math.floor(p * high.length))];
  const makespan = now - day[0].at;
  const usable = TOTAL - MARGIN - day.reduce((a, t) => a + desktopAt(t.at), 0) / day.length;
  const vramSec = day.reduce((a, t) => a + t.peak * (t.durMs + t.loadSec * SEC), 0);
  const lower = Math.max(vramSec / usable, ...day.map((t) => t.at + t.durMs + t.loadSec * SEC - day[0].at));
  const share = stats.gpuMsByProject;
  const sat = share.research && share.batch ? share.research / (share.research + share.batch) : null;
  return {
    makespanH: makespan / HOUR,
    vsLowerBound: makespan / lower,
    oomTruthful: stats.oomTruthful,
    oomUnder: stats.oomUnder,
    p50: q(0.5),
    p95: q(0.95),
    meanVramMB: stats.vramMs / makespan,
    researchShare: sat, // research has weight 2, batch 1: target 2/3 of their use while both are saturated
    preemptions: stats.preemptions,
    unfinished,
    slow,
    highCount: high.length,
    loadSec: stats.loadMs / SEC,
    warmStarts: stats.warmStarts,
  };
}

/** A task's usage rate, as the core counts it (projects.ts): 1 a GB of VRAM, 2 a GPU, 0.25 a core. */
const usageRateOf = (t) => (t.peak > 0 ? 2 + t.request / 1024 : 0) + 0.25;

const req = (vram, t) => ({ cpu: t.vram === 0 ? 1 : 1, memoryMB: 1000, ...(vram > 0 ? { gpu: { count: 1, vramMB: vram } } : {}) });

/** Within a priority, fair share's order (the core's own rank: usage + what runs, per weight). */
function order(queued, { projects, fairShare, running, now }, priorities = true) {
  const rate = new Map();
  for (const r of running.values()) if (!r.oom) rate.set(r.task.project, (rate.get(r.task.project) ?? 0) + (r.task.request / 1024 + 2.25));
  const rank = (p) => (fairShare ? (projects.usage(p, now) + (rate.get(p) ?? 0) * 600) / projects.get(p).weight : 0);
  return [...queued].sort((a, b) => (priorities ? b.priority - a.priority : 0) || rank(a.project) - rank(b.project) || a.seq - b.seq);
}

/** The core's scheduler: runCycle with the real pipeline, fed what nvidia-smi would show. */
export function ours(s) {
  const queue = new QueueIndex();
  queue.addAll(
    s.queued.map((t) => ({
      id: t.id,
      agent: t.kind,
      project: t.project,
      request: req(t.request, t),
      notBefore: null,
      priority: t.priority,
      since: t.queuedAt,
      seq: t.seq,
      array: null,
      throttle: null,
      model: t.model,
    })),
    s.now,
  );
  // The models loaded now, as the resident monitor would report them: the order prefers tasks for them.
  const residentSpare = new Map([['ollama', { byGpu: new Map(), models: (s.warmModels ?? []).map((name) => ({ name, vramMB: null })) }]]);
  const live = [...s.running.values()];
  const result = runCycle(
    {
      now: s.now,
      paused: false,
      maxConcurrency: 16,
      reserveAfterMs: 60_000,
      vramMarginMB: MARGIN,
      memoryMarginMB: 512,
      agentLimit: () => null,
      drives: (agent) => (KINDS[agent] && agent !== 'sdxl' && agent !== 'ocr' ? 'ollama' : null),
      observed: { residentSpare },
      queue,
      node: {
        cpuCores: CORES,
        memoryTotalMB: 32_000,
        memoryAvailableMB: 32_000 - live.length * 1000,
        gpuStatus: { state: 'ok', message: null },
        gpus: [
          {
            index: 0,
            uuid: 'GPU-0',
            name: 'RTX 4060',
            totalMB: TOTAL,
            usedMB: Math.min(TOTAL, s.used),
            freeMB: Math.max(0, TOTAL - s.used),
            utilizationPct: null,
            temperatureC: null,
            powerW: null,
            powerLimitW: null,
            processes: [
              ...(s.foreign - desktopAt(s.now) > 0 ? [{ pid: 1, name: 'game', usedMB: s.foreign - desktopAt(s.now), pgid: 1 }] : []),
              ...live.map((r) => ({ pid: 100 + r.task.id, name: r.task.kind, usedMB: r.task.peak, pgid: 100 + r.task.id })),
            ],
          },
        ],
      },
      running: live.map((r) => ({
        taskId: r.task.id,
        agent: r.task.kind,
        project: r.task.project,
        request: req(r.task.request, r.task),
        gpus: r.task.peak > 0 ? [0] : [],
        pgid: 100 + r.task.id,
        priority: r.task.priority,
        preemptible: r.task.preemptible && !r.stopping,
        startedAt: r.startedAt,
      })),
      projects: (name) => s.projects.limits(name, s.now),
      preemption: s.preemption ? { minRunMs: 60_000, inFlight: live.some((r) => r.stopping) ? { forTask: 0, priority: 0, victims: [] } : null } : undefined,
    },
    schedulingPipeline({ fairShare: s.fairShare }),
  );
  const byId = new Map(s.queued.map((t) => [t.id, t]));
  return { starts: result.starts.map((p) => byId.get(p.taskId)), stops: result.preempt?.victims ?? [] };
}

/** Generic starts for the baselines: in `order`, while `admit` says yes; `hol`: stop at the first that cannot. */
function greedy(s, admit, { hol = false, priorities = true, max = 16 } = {}) {
  const starts = [];
  let used = s.used;
  let cores = [...s.running.values()].length;
  let gpuTasks = [...s.running.values()].filter((r) => r.task.peak > 0).length;
  for (const t of order(s.queued, s, priorities)) {
    if (s.running.size + starts.length >= max) break;
    const ok = cores + 1 <= CORES && admit(t, { used, gpuTasks });
    if (!ok) {
      if (hol) break;
      continue;
    }
    starts.push(t);
    used += t.peak;
    cores += 1;
    if (t.peak > 0) gpuTasks += 1;
  }
  return { starts, stops: baselinePreempt(s, starts) };
}

/** The same rule for the baselines when preemption is on: stop lower-priority preemptible GPU tasks, youngest first, for a waiting chat. */
function baselinePreempt(s, starts) {
  if (!s.preemption) return [];
  const head = order(s.queued, s).find((t) => !starts.includes(t) && t.priority > 0 && t.peak > 0);
  if (!head || [...s.running.values()].some((r) => r.stopping)) return [];
  const victims = [...s.running.values()]
    .filter((r) => r.task.preemptible && r.task.priority < head.priority && s.now - r.startedAt >= 60_000 && !r.oom)
    .sort((a, b) => b.startedAt - a.startedAt);
  const out = [];
  let free = TOTAL - MARGIN - s.used;
  for (const v of victims) {
    if (free >= head.request) break;
    out.push(v.task.id);
    free += v.task.peak;
  }
  return free >= head.request ? out : [];
}

export const POLICIES = {
  'Agent Manager (this core)': ours,
  'one at a time (ComfyUI queue)': (s) => greedy(s, () => true, { max: 1, priorities: false }),
  'strict FIFO, free-VRAM check, head-of-line blocking (task-spooler, gflow)': (s) =>
    greedy(s, (t, { used }) => t.request === 0 || TOTAL - used >= t.request, { hol: true, priorities: false }),
  "whole GPU per task (Slurm's default GRES)": (s) => greedy(s, (t, { gpuTasks }) => t.peak === 0 || gpuTasks === 0),
  'no VRAM check': (s) => greedy(s, () => true),
};

export function traceBench() {
  const day = makeDay();
  const rows = [];
  for (const [name, policy] of Object.entries(POLICIES)) {
    for (const fairShare of [true, false])
      for (const preemption of [true, false]) rows.push({ name, fairShare, preemption, ...play(day, policy, { fairShare, preemption }) });
  }
  // The share depends on how the day's slots fall (7 embedding slots split 5:2 or 4:3), so it is
  // the mean over four seeded days.
  const seeds = [13, 1, 2, 3];
  const share = (fairShare) => seeds.reduce((a, s) => a + (play(makeDay(s), ours, { fairShare, preemption: true }).researchShare ?? 0), 0) / seeds.length;
  // Residency-aware order (issue 14, point 4): the same core, told which models are loaded or not.
  const residencyOff = play(day, ours, { fairShare: true, preemption: true, residency: false });
  return { day, rows, shares: { on: share(true), off: share(false) }, residencyOff };
}

const f = (x, d = 2) => (x === null || x === undefined ? '–' : Number(x).toFixed(d));

/** A policy's row with fair share and preemption on. */
const byName = (rows, prefix) => rows.find((r) => r.name.startsWith(prefix) && r.fairShare && r.preemption);

const pick = (rows, fairShare, preemption) =>
  rows.find((r) => r.name === 'Agent Manager (this core)' && r.fairShare === fairShare && r.preemption === preemption);

function slowText(rows) {
  const me = pick(rows, true, true);
  const n = Object.values(me.slow).reduce((a, b) => a + b, 0);
  const parts = Object.entries(me.slow)
    .sort((a, b) => b[1] - a[1])
    .map(([why, k]) => `${k} with ${why} on the card when they came`);
  return `${n} of ${me.highCount} chats waited ${1.5 * LOAD_LARGEST_SEC} s or more: ${parts.join(', ')}`;
}

export function traceTable({ day, rows, residencyOff, shares }) {
  return [
    `### A workstation day (bench/trace.mjs)`,
    '',
    `${day.length} tasks (${Object.keys(KINDS)
      .map((k) => `${day.filter((t) => t.kind === k).length} ${k}`)
      .join(
        ', ',
      )}), ${day.filter((t) => t.under).length} declaring less VRAM than they peak at. Lower bound: the larger of all VRAM-seconds over the usable VRAM and the latest arrival plus its run. "research share": two scripts' embedding projects at the same priority, research (weight 2) and batch (weight 1): research's part of their use (resource-seconds) while both have tasks waiting (target 0.67).`,
    '',
    '| policy | fair share | preemption | makespan (h) | vs lower bound | OOM kills (truthful / under-declared) | not done | high-priority wait p50 / p95 (s) | mean VRAM in use (MB) | research share | preemptions |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.fairShare ? 'on' : 'off'} | ${r.preemption ? 'on' : 'off'} | ${f(r.makespanH)} | ${f(r.vsLowerBound, 3)} | ${r.oomTruthful} / ${r.oomUnder} | ${r.unfinished} | ${f(r.p50, 0)} / ${f(r.p95, 0)} | ${f(r.meanVramMB, 0)} | ${f(r.researchShare)} | ${r.preemptions} |`,
    ),
    '',
    'What the day shows:',
    `- Out of memory: this core and the free-VRAM FIFO kill nothing that declared its VRAM truthfully; with no VRAM check ${byName(rows, 'no VRAM check').oomTruthful.toLocaleString('en')} starts die, and a third of the day never finishes. One at a time and whole-GPU (which do not see the desktop or the game) lose a few starts in the game hour. Under-declared tasks cost nothing here: learned profiles had caught up with them before they met a full card.`,
    `- Makespan: arrivals through the day bound it, so the policies that share the card end within 0.1 % of the bound; one task at a time takes ${f(byName(rows, 'one at a time').vsLowerBound)}× as long, a whole GPU per task ${f(byName(rows, 'whole GPU').vsLowerBound)}×.`,
    `- Fair share: with it, the weight-2 project gets ${f(shares.on)} of the two saturated projects' use (mean of four days; 2/3 is the target); without it, queue order gives each half.`,
    `- Residency: a task whose model is still loaded (in use, or used within Ollama's 5 min keep-alive) skips its load. Told which models are loaded, this core starts such tasks first among equals (bounded: 2 min): ${f(residencyOff.loadSec - pick(rows, true, true).loadSec, 0)} s of model loading saved over the day (${f(pick(rows, true, true).loadSec, 0)} s against ${f(residencyOff.loadSec, 0)} s, ${pick(rows, true, true).warmStarts} warm starts against ${residencyOff.warmStarts}).`,
    `- High-priority wait: **missed**. A chat needs 6.2 GB, nearly the whole card. Under this core ${slowText(rows)}. Preemption cuts the p95 from ${f(pick(rows, true, false).p95, 0)} s to ${f(pick(rows, true, true).p95, 0)} s, not to 7.5 s: \`minRunSec\` (60 s) protects young batch tasks, and renders are not preemptible. Closing the gap needs the chat model kept resident (issue 14) or a shorter \`minRunSec\` for interactive work.`,
    '',
  ].join('\n');
}

/** The issue's targets, for this core with fair share and preemption on. */
export function traceResults(t) {
  const me = t.rows.find((r) => r.name === 'Agent Manager (this core)' && r.fairShare && r.preemption);
  const naive = t.rows.find((r) => r.name === 'no VRAM check' && r.fairShare && r.preemption);
  const fifo = t.rows.find((r) => r.name.startsWith('strict FIFO') && !r.fairShare && !r.preemption);
  const how = "one simulated day (bench/trace.mjs) through the core's runCycle on a virtual clock; the table is below";
  const n = (x, d = 3) => Number((x ?? 0).toFixed(d));
  const rows = [
    {
      name: 'trace: OOM kills of truthful tasks',
      value: me.oomTruthful,
      unit: 'kills',
      baseline: { name: 'no VRAM check', value: naive.oomTruthful },
      target: '0',
      met: me.oomTruthful === 0,
    },
    {
      name: 'trace: makespan vs lower bound',
      value: n(me.vsLowerBound),
      unit: '×',
      baseline: { name: 'strict FIFO (task-spooler)', value: n(fifo.vsLowerBound) },
      target: '≤ 1.15',
      met: me.vsLowerBound <= 1.15,
    },
    {
      name: 'trace: p95 wait of high-priority tasks',
      value: n(me.p95, 1),
      unit: 's',
      baseline: { name: 'strict FIFO (task-spooler)', value: n(fifo.p95, 1) },
      target: `< ${1.5 * LOAD_LARGEST_SEC} s (1.5 × loading SDXL)`,
      met: me.p95 < 1.5 * LOAD_LARGEST_SEC,
    },
    {
      name: 'trace: model loading saved by residency-aware order',
      value: n(t.residencyOff.loadSec - me.loadSec, 0),
      unit: 's over the day',
      baseline: { name: 'the same core, residency-aware order off (s of loading)', value: n(t.residencyOff.loadSec, 0) },
      target: '> 0 s (loads skipped)',
      met: t.residencyOff.loadSec - me.loadSec > 0,
    },
    {
      name: 'trace: share of two saturated projects (weights 2:1), mean of 4 days',
      value: n(t.shares.on),
      unit: 'of their use (target 2/3)',
      baseline: { name: 'fair share off', value: n(t.shares.off) },
      target: '0.667 ± 10 %',
      met: Math.abs(t.shares.on / (2 / 3) - 1) <= 0.1,
    },
  ];
  return rows.map((r, i) => ({ ...r, ratio: null, how, ...(i === 0 ? { table: traceTable(t) } : {}) }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const t = traceBench();
  process.stdout.write(traceTable(t) + '\n');
  const results = traceResults(t);
  for (const r of results) process.stdout.write(`${r.name}: ${r.value} ${r.unit} (target ${r.target}: ${r.met ? 'met' : 'MISSED'})\n`);
  // --write: put this section into docs/benchmarks.md now (the full `npm run bench` writes it too).
  if (process.argv.includes('--write')) {
    const file = join(ROOT, 'docs', 'benchmarks.md');
    const md = readFileSync(file, 'utf8');
    const section = [
      '<!-- trace -->',
      traceTable(t),
      '| target | figure | baseline | target | |',
      '| --- | --- | --- | --- | --- |',
      ...results.map((r) => `| ${r.name} | ${r.value} ${r.unit} | ${r.baseline.name}: ${r.baseline.value} | ${r.target} | ${r.met ? 'met' : '**missed**'} |`),
      '<!-- /trace -->',
    ].join('\n');
    const at = md.indexOf('<!-- trace -->');
    const next = at < 0 ? `${md.trimEnd()}\n\n${section}\n` : md.slice(0, at) + section + md.slice(md.indexOf('<!-- /trace -->') + '<!-- /trace -->'.length);
    writeFileSync(file, next);
  }
}
