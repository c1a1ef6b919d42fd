import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import {
  PrioritySchema,
  MAX_BATCH,
  TaskIdSchema,
  TaskCleanSchema,
  TaskIdsSchema,
  TERMINAL_STATES,
  TaskPageQuerySchema,
  TaskListQuerySchema,
  TaskSubmissionSchema,
  ProjectNameSchema,
  type TaskSubmission,
  type TaskView,
} from '../../contracts/task.js';
import { fileNameOf, PREVIEW_MAX_BYTES, PREVIEW_TEXT_BYTES, previewKind, type ArtifactPreview, type RecentArtifact } from '../../contracts/artifacts.js';
import { ProjectPatchSchema } from '../../contracts/project.js';
import { FocusInputSchema } from '../../contracts/person.js';
import type { FreeVramResult } from '../../contracts/residents.js';
import { SettingsPatchSchema } from '../../contracts/settings.js';
import { HistoryRangeSchema } from '../../contracts/telemetry.js';
import { isTerminal } from '../core/lifecycle/states.js';
import { holderText } from '../core/scheduler/describe.js';
import type { ApiServices } from './services.js';
import { agentView, taskDetail, taskView } from './views.js';
import { nextTurn, parseInTurns, shallowList } from './in-turns.js';
import { mainProcedure, procedure, router, taskProcedure, type ApiContext } from './trpc.js';

const IdInput = z.object({ id: TaskIdSchema }).strict();
const ArrayInput = z.object({ arrayId: TaskIdSchema }).strict();
/** Where a queued task goes: `to` the top or bottom of its priority, or just `before` another queued task. */
const MoveInput = z.union([
  z.object({ id: TaskIdSchema, to: z.enum(['top', 'bottom']) }).strict(),
  z.object({ id: TaskIdSchema, before: TaskIdSchema }).strict(),
]);

/** A bulk action: each task on its own; what could not be done says why, the rest is done. */
function each(ids: readonly number[], act: (id: number) => unknown): { done: number[]; failed: { id: number; message: string }[] } {
  const done: number[] = [];
  const failed: { id: number; message: string }[] = [];
  for (const id of ids) {
    try {
      act(id);
      done.push(id);
    } catch (e) {
      failed.push({ id, message: (e as Error).message });
    }
  }
  return { done, failed };
}
const MAX_LOG_BYTES = 8 * 1024 * 1024;

/** The first `n` tasks estimated to start after `from` (the queued ones; the running started before), soonest first. */
function nextToStart(etas: ReadonlyMap<number, { startAt: number; endAt: number }>, from: number, n: number) {
  return [...etas]
    .filter(([, e]) => e.startAt >= from)
    .sort((x, y) => x[1].startAt - y[1].startAt || x[0] - y[0])
    .slice(0, n)
    .map(([id, e]) => ({ id, startAt: new Date(e.startAt), endAt: new Date(e.endAt) }));
}

function getTask(s: ApiServices, id: number) {
  const t = s.manager.queries.get(id);
  if (!t) throw new TRPCError({ code: 'NOT_FOUND', message: `no task with id ${id}; \`agentmgr list\` shows the tasks there are` });
  return t;
}

function readLog(s: ApiServices, id: number, attempt: number, tailBytes: number): { text: string; truncated: boolean } {
  const full = s.readLog(id, attempt);
  const buf = Buffer.from(full);
  if (buf.length <= tailBytes) return { text: full, truncated: false };
  return { text: buf.subarray(buf.length - tailBytes).toString('utf8'), truncated: true };
}

/** A project's token submits to its own project only; the main token to any (default "default"). */
function inScope(ctx: ApiContext, list: readonly TaskSubmission[]): TaskSubmission[] {
  const own = ctx.project ?? null;
  if (own === null) return [...list];
  return list.map((s, i) => {
    if (s.project !== undefined && s.project !== own)
      throw new TRPCError({
        code: 'FORBIDDEN',
        message: `this token is bound to project ${own}: it cannot submit to project ${s.project}${list.length > 1 ? ` (task ${i + 1} of the batch)` : ''}; leave "project" out, or use a token of that project`,
      });
    return { ...s, project: own };
  });
}

/** Optionally, only these tasks (a subscription's filter). */
const IdsFilter = z
  .object({ ids: z.array(TaskIdSchema).max(10_000).optional() })
  .strict()
  .optional();

/** The task events of one type (of the given tasks, else all this caller may see), as views. */
function taskEvents(ctx: ApiContext, type: 'task' | 'task-ended', only: readonly number[] | undefined, signal: AbortSignal | undefined) {
  const ids = only ? new Set(only) : null;
  const { manager } = ctx.services;
  return ctx.services.events.stream(
    (e) => (e.type === type && (!ids || ids.has(e.task.id)) && visible(ctx, e.task) ? taskView(e.task, manager) : undefined),
    signal,
  );
}

/** The project a list is narrowed to: a project's token sees its own only. */
const listProject = (ctx: ApiContext, asked: string | undefined): string | undefined => ctx.project ?? asked;
const visible = (ctx: ApiContext, t: { project: string }): boolean => ctx.project == null || t.project === ctx.project;

const tasks = router({
  submit: procedure.input(TaskSubmissionSchema).mutation(({ ctx, input }) => {
    const [t] = ctx.services.manager.submit(inScope(ctx, [input]));
    return taskView(t!, ctx.services.manager);
  }),
  /**
   * One request, one transaction: all are stored or none. Returns the ids in order. The items are
   * validated and admitted a few hundred per turn (see in-turns.ts); nothing is stored until all are.
   */
  submitBatch: procedure.input(shallowList(TaskSubmissionSchema, 1, MAX_BATCH)).mutation(async ({ ctx, input }) => {
    const valid = await parseInTurns(TaskSubmissionSchema, input);
    const stored = await ctx.services.manager.submitInTurns(inScope(ctx, valid), nextTurn);
    return { ids: stored.map((t) => t.id), count: stored.length };
  }),
  /** Any window of the filtered, sorted list, with the total: what a virtualized table asks for. */
  page: procedure.input(TaskPageQuerySchema).query(({ ctx, input }) => {
    const { manager } = ctx.services;
    const { items, total } = manager.queries.page(
      {
        states: input.state,
        agent: input.agent,
        project: listProject(ctx, input.project),
        search: input.search,
        arrayId: input.arrayId,
        arrayHeads: input.arrayHeads,
      },
      input.sort,
      input.offset,
      input.limit,
    );
    return { items: items.map((t) => taskView(t, manager)), total, offset: input.offset };
  }),
  cancelMany: taskProcedure.input(TaskIdsSchema).mutation(({ ctx, input }) => each(input.ids, (id) => ctx.services.manager.cancel(id))),
  /** Queued tasks that do not start until released. */
  hold: taskProcedure.input(IdInput).mutation(({ ctx, input }) => taskView(ctx.services.manager.hold(input.id), ctx.services.manager)),
  release: taskProcedure.input(IdInput).mutation(({ ctx, input }) => taskView(ctx.services.manager.release(input.id), ctx.services.manager)),
  holdMany: taskProcedure.input(TaskIdsSchema).mutation(({ ctx, input }) => each(input.ids, (id) => ctx.services.manager.hold(id))),
  releaseMany: taskProcedure.input(TaskIdsSchema).mutation(({ ctx, input }) => each(input.ids, (id) => ctx.services.manager.release(id))),
  retryMany: taskProcedure.input(TaskIdsSchema).mutation(({ ctx, input }) => each(input.ids, (id) => ctx.services.manager.retry(id))),
  setPriorityMany: taskProcedure
    .input(TaskIdsSchema.extend({ priority: PrioritySchema }).strict())
    .mutation(({ ctx, input }) => each(input.ids, (id) => ctx.services.manager.setPriority(id, input.priority))),
  /** Ended tasks removed for good, with their logs and artifacts; each one not removed says why. */
  remove: taskProcedure.input(TaskIdsSchema).mutation(({ ctx, input }) => {
    const r = ctx.services.manager.remove(input.ids);
    ctx.services.removeRuns(r.done);
    return r;
  }),
  /** Every ended task the filter picks, removed (`agentmgr clean`, the UI's "Clear finished"). */
  clean: procedure.input(TaskCleanSchema).mutation(({ ctx, input }) => {
    const r = ctx.services.manager.clean({
      states: input.state ?? TERMINAL_STATES,
      agent: input.agent,
      project: listProject(ctx, input.project),
      endedBefore: input.olderThanSec !== undefined ? Date.now() - input.olderThanSec * 1000 : undefined,
    });
    ctx.services.removeRuns(r.ids);
    return { removed: r.removed, kept: r.kept };
  }),
  list: procedure.input(TaskListQuerySchema).query(({ ctx, input }) => {
    const { manager } = ctx.services;
    const rows = manager.queries.list({
      states: input.state,
      agent: input.agent,
      name: input.name,
      project: listProject(ctx, input.project),
      arrayId: input.arrayId,
      beforeId: input.cursor,
      limit: input.limit + 1,
    });
    const more = rows.length > input.limit;
    const items = rows.slice(0, input.limit).map((t) => taskView(t, manager));
    return { items, nextCursor: more ? items[items.length - 1]!.id : null };
  }),
  get: taskProcedure.input(IdInput).query(({ ctx, input }) => {
    const { manager } = ctx.services;
    const t = getTask(ctx.services, input.id);
    return taskDetail(t, manager.queries.attempts(t.id), manager.queries.artifacts(t.id), manager);
  }),
  cancel: taskProcedure.input(IdInput).mutation(({ ctx, input }) => taskView(ctx.services.manager.cancel(input.id), ctx.services.manager)),
  /** `withDependents`: also the tasks cancelled because this one could not meet their dependency, down the graph. */
  retry: taskProcedure
    .input(z.object({ id: TaskIdSchema, withDependents: z.boolean().optional() }).strict())
    .mutation(({ ctx, input }) => taskView(ctx.services.manager.retry(input.id, { withDependents: input.withDependents }), ctx.services.manager)),
  /** Moves a queued task to the top or bottom of its priority, or just before another queued task (taking its priority). */
  move: taskProcedure.input(MoveInput).mutation(({ ctx, input }) => {
    const where = 'to' in input ? { to: input.to } : { before: input.before };
    return taskView(ctx.services.manager.move(input.id, where), ctx.services.manager);
  }),
  /** Several tasks by id, in the order given; an unknown id is an error naming it. */
  getMany: taskProcedure.input(TaskIdsSchema).query(({ ctx, input }) => input.ids.map((id) => taskView(getTask(ctx.services, id), ctx.services.manager))),
  /** Each array's counts by state and combined progress (what its group row shows). */
  arrays: taskProcedure.input(TaskIdsSchema).query(({ ctx, input }) => ctx.services.manager.queries.arrays(input.ids)),
  cancelArray: taskProcedure.input(ArrayInput).mutation(({ ctx, input }) => ctx.services.manager.cancelArray(input.arrayId)),
  /** `failed`: only the tasks that failed, timed out or were interrupted. */
  retryArray: taskProcedure
    .input(ArrayInput.extend({ failed: z.boolean().optional() }).strict())
    .mutation(({ ctx, input }) => ctx.services.manager.retryArray(input.arrayId, input.failed ?? false)),
  setPriority: taskProcedure
    .input(z.object({ id: TaskIdSchema, priority: PrioritySchema }).strict())
    .mutation(({ ctx, input }) => taskView(ctx.services.manager.setPriority(input.id, input.priority), ctx.services.manager)),
  logs: taskProcedure
    .input(
      z
        .object({ id: TaskIdSchema, attempt: z.number().int().positive().optional(), tailBytes: z.number().int().min(1).max(MAX_LOG_BYTES).optional() })
        .strict(),
    )
    .query(({ ctx, input }) => {
      const t = getTask(ctx.services, input.id);
      const attempt = input.attempt ?? t.attempts;
      if (attempt === 0) return { attempt: 0, text: '', truncated: false, state: t.state };
      if (attempt > t.attempts) throw new TRPCError({ code: 'NOT_FOUND', message: `task ${t.id} has ${t.attempts} attempt(s), not ${attempt}` });
      return { attempt, ...readLog(ctx.services, t.id, attempt, input.tailBytes ?? MAX_LOG_BYTES), state: t.state };
    }),
  /**
   * The log of the task's current attempt as it grows: first what is there, then each new chunk,
   * across retries, until the task ends.
   */
  followLogs: taskProcedure
    .input(z.object({ id: TaskIdSchema, tailBytes: z.number().int().min(0).max(MAX_LOG_BYTES).optional() }).strict())
    .subscription(async function* ({ ctx, input, signal }) {
      const s = ctx.services;
      type Chunk = { attempt: number; text: string; done: false } | { attempt: number; text: ''; done: true; state: TaskView['state'] };
      const ctrl = new AbortController();
      const onAbort = () => ctrl.abort();
      signal?.addEventListener('abort', onAbort);
      // Subscribe before reading the file; both happen in this turn, so nothing falls between.
      const live = s.events.stream<Chunk>((e) => {
        if (e.type === 'log' && e.taskId === input.id) return { attempt: e.attempt, text: e.text, done: false };
        if (e.type === 'task-ended' && e.task.id === input.id) return { attempt: e.task.attempts, text: '', done: true, state: e.task.state };
        return undefined;
      }, ctrl.signal);
      const t = getTask(s, input.id);
      try {
        if (t.attempts > 0) yield { attempt: t.attempts, text: readLog(s, t.id, t.attempts, input.tailBytes ?? MAX_LOG_BYTES).text, done: false } as Chunk;
        if (isTerminal(t.state)) {
          yield { attempt: t.attempts, text: '', done: true, state: t.state } as Chunk;
          return;
        }
        for await (const c of live) {
          yield c;
          if (c.done) return;
        }
      } finally {
        ctrl.abort();
        signal?.removeEventListener('abort', onAbort);
      }
    }),
  /** Every change to a task (or to the given ones), as it happens. */
  changes: procedure.input(IdsFilter).subscription(({ ctx, input, signal }) => taskEvents(ctx, 'task', input?.ids, signal)),
  /**
   * Each task (or each of the given ones) that reaches a terminal state, once, as it happens: what
   * a caller waiting for ends needs, without every step on the way (`agentmgr wait --json`).
   */
  ended: procedure.input(IdsFilter).subscription(({ ctx, input, signal }) => taskEvents(ctx, 'task-ended', input?.ids, signal)),
});

const agents = router({
  /** Each agent with its declared resources and what it was learned to really use. */
  list: procedure.query(({ ctx }) => ({
    agents: ctx.services.agents.list().map((a) => agentView(a, ctx.services.manager.profile(a.name), ctx.services.manager.profile(a.name, 'slurm'))),
    problems: ctx.services.agents.problems(),
  })),
  /** Reads the agents folders again (new, changed and removed agents), then lists them. */
  reload: mainProcedure.mutation(({ ctx }) => {
    ctx.services.reloadAgents();
    return {
      agents: ctx.services.agents.list().map((a) => agentView(a, ctx.services.manager.profile(a.name), ctx.services.manager.profile(a.name, 'slurm'))),
      problems: ctx.services.agents.problems(),
    };
  }),
});

const telemetry = router({
  /** Downsampled history: one point a second for 15 minutes, or one a minute for 24 hours. */
  history: procedure.input(z.object({ range: HistoryRangeSchema }).strict()).query(({ ctx, input }) => ctx.services.history.get(input.range)),
  /** Every new sample, about once a second. */
  live: procedure.subscription(async function* ({ ctx, signal }) {
    yield* ctx.services.events.stream((e) => (e.type === 'telemetry' ? e.sample : undefined), signal);
  }),
});

const queue = router({
  /**
   * Holds the queue. With freeVram, also frees the GPU for the person: preemptible GPU tasks are
   * queued again and residents asked to unload (see Manager.pauseAndFreeVram).
   */
  pause: mainProcedure
    .input(z.object({ freeVram: z.boolean().optional() }).strict().optional())
    .mutation(({ ctx, input }): { paused: true; freed?: FreeVramResult } => {
      if (input?.freeVram) return { paused: true, freed: ctx.services.manager.pauseAndFreeVram() };
      ctx.services.manager.setPaused(true);
      return { paused: true };
    }),
  resume: mainProcedure.mutation(({ ctx }) => {
    ctx.services.manager.setPaused(false);
    return { paused: false };
  }),
  /**
   * Focus mode: the GPU yielded to the person by hand, for good (until turned off) or for
   * `forSec`; GPU tasks below the game-mode threshold wait (see gameModeBelowPriority).
   */
  focus: mainProcedure.input(FocusInputSchema).mutation(({ ctx, input }) => ({
    yielding: ctx.services.manager.setFocus(input.on, input.forSec !== undefined ? input.forSec * 1000 : undefined),
  })),
  /**
   * The person's idle time (seconds without keyboard or mouse input), for idle-only work on a
   * headless Manager; the desktop app reads its own. Fed again as it changes (0: they are back).
   */
  idle: mainProcedure
    .input(
      z
        .object({
          idleSec: z
            .number()
            .min(0)
            .max(365 * 86_400),
        })
        .strict(),
    )
    .mutation(({ ctx, input }) => {
      ctx.services.manager.reportIdle(input.idleSec);
      return { idle: ctx.services.manager.idle() };
    }),
  /** The queue's pause state and what the GPU is yielded to, whenever either changes (from any client). */
  changes: procedure.subscription(async function* ({ ctx, signal }) {
    const { manager } = ctx.services;
    yield* ctx.services.events.stream(
      (e) =>
        e.type === 'queue'
          ? { paused: e.paused, yielding: manager.yielding() }
          : e.type === 'yielding'
            ? { paused: manager.isPaused(), yielding: e.yielding }
            : e.type === 'removed'
              ? { paused: manager.isPaused(), yielding: manager.yielding(), removed: e.ids }
              : undefined,
      signal,
    );
  }),
  status: procedure.query(({ ctx }) => {
    const { manager } = ctx.services;
    return {
      paused: manager.isPaused(),
      /** What the GPU is yielded to (game mode, focus mode): GPU tasks below its priority wait; null: nothing. */
      yielding: manager.yielding(),
      /** How long the person has been away, against how long idle-only work waits for; null: not known (counted as away). */
      idle: manager.idle(),
      counts: manager.queries.counts(),
      running: manager.running().length,
      queued: manager.queueLength(),
      maxConcurrency: manager.config.maxConcurrency,
      /** The task that what finishing tasks free is kept for, so smaller ones cannot starve it. */
      keptFor: manager.keptFor(),
      /** Set while the task database cannot be written (a full disk): nothing new starts. */
      degraded: manager.degraded(),
      /** The queue's estimate: when it was worked out, how far ahead it looks, and when the queue is expected to drain. */
      estimate: ((e) => ({
        computedAt: new Date(e.computedAt),
        horizonMs: e.horizonMs,
        estimated: e.etas.size,
        withoutEstimate: e.none.size,
        drainsAt: e.drainsAt === null ? null : new Date(e.drainsAt),
        truncated: e.truncated,
        /** The next queued tasks to start, soonest first. */
        next: nextToStart(e.etas, e.computedAt, 10),
      }))(manager.estimate()),
    };
  }),
});

const projects = router({
  /** Each project with its weight, quotas, usage and share (a project's token sees its own). */
  list: procedure.query(({ ctx }) => ctx.services.manager.projectViews().filter((p) => ctx.project == null || p.name === ctx.project)),
  /** Sets a project's weight and quotas (creating it); lowering a quota stops nothing running. */
  set: mainProcedure
    .input(z.object({ name: ProjectNameSchema, patch: ProjectPatchSchema }).strict())
    .mutation(({ ctx, input }) => ctx.services.manager.setProject(input.name, input.patch)),
});

const tokens = router({
  /** A token for a script, bound to one project; the token itself is in the answer only. */
  create: mainProcedure.input(z.object({ project: ProjectNameSchema, label: z.string().max(200).optional() }).strict()).mutation(({ ctx, input }) => {
    ctx.services.manager.ensureProject(input.project);
    return ctx.services.tokens.create(input.project, input.label ?? null);
  }),
  list: mainProcedure.query(({ ctx }) => ctx.services.tokens.list()),
  revoke: mainProcedure.input(z.object({ id: z.number().int().positive() }).strict()).mutation(({ ctx, input }) => {
    if (!ctx.services.tokens.revoke(input.id))
      throw new TRPCError({ code: 'NOT_FOUND', message: `no live token with id ${input.id}; \`agentmgr token list\` shows them` });
    return { revoked: input.id };
  }),
});

export const appRouter = router({
  projects,
  tokens,
  health: procedure
    .input(
      z
        .object({
          /** The event-loop delay over the last this many seconds too (`eventLoopWindow`), e.g. while a batch flowed. */
          eventLoopWindowSec: z.number().int().min(1).max(600).optional(),
        })
        .strict()
        .optional(),
    )
    .query(({ ctx, input }) => {
      const s = ctx.services;
      const degraded = s.manager.degraded();
      return {
        /** False while degraded: the Manager answers, but cannot record work (see `degraded`). */
        ok: degraded === null,
        degraded,
        pid: process.pid,
        uptimeSec: Math.round((Date.now() - s.startedAt) / 1000),
        dataDir: s.dataDir,
        gpu: s.telemetry.snapshot().gpuStatus,
        gpuCollectorRestarts: s.telemetry.collectorRestarts(),
        agents: s.agents.list().length,
        agentProblems: s.agents.problems().length,
        /** The Slurm cluster: whether its controller answers, and how many jobs are watched; null when none is set up. */
        slurm: s.slurm?.() ?? null,
        /** How agents are started: through the spawner (a small helper process), or directly by the Manager and why. */
        spawner: s.spawner?.() ?? null,
        /** How late the Manager's timers run (event-loop delay since it started): what the UI and tray feel. */
        eventLoop: s.eventLoop?.() ?? null,
        eventLoopWindow: input?.eventLoopWindowSec !== undefined ? (s.eventLoop?.(input.eventLoopWindowSec) ?? null) : null,
      };
    }),
  /**
   * The machine's resources as the scheduler sees them: `view` is the ResourceView (see
   * contracts/resources.ts); the flat fields are the same numbers, as this procedure always gave.
   */
  resources: procedure.query(({ ctx }) => {
    const { telemetry, manager } = ctx.services;
    const view = manager.resources();
    return {
      snapshot: telemetry.snapshot(),
      view,
      /** The AI servers beside us (Ollama, ComfyUI, llama.cpp): what each holds, and whether it can be freed. */
      residents: manager.residents(),
      vramMarginMB: manager.config.vramMarginMB,
      memoryMarginMB: manager.config.memoryMarginMB,
      cpu: { cores: view.cpu.totalCores, held: view.cpu.oursCores },
      memory: { totalMB: view.memory.totalMB, foreignMB: view.memory.foreignMB, oursMB: view.memory.oursMB, freeMB: view.memory.freeMB },
      gpus: view.gpus.map((g) => ({
        index: g.index,
        name: g.name,
        totalMB: g.totalMB,
        foreignMB: g.foreignMB,
        oursMB: g.oursMB,
        freeMB: g.freeMB,
        foreignTop: g.foreignTop.map(holderText),
        limited: g.limited ?? null,
      })),
    };
  }),
  tasks,
  agents,
  queue,
  telemetry,
  artifacts: router({
    /**
     * What the task view shows inline: an image or a sound (up to PREVIEW_MAX_BYTES), or the start
     * of a text file; the kind comes from the file's own extension. Anything else says why not.
     */
    preview: taskProcedure.input(z.object({ id: TaskIdSchema, index: z.number().int().min(0) }).strict()).query(({ ctx, input }): ArtifactPreview => {
      const a = ctx.services.manager.queries.artifacts(input.id)[input.index];
      if (!a) throw new TRPCError({ code: 'NOT_FOUND', message: `task ${input.id} has no artifact number ${input.index}` });
      const { kind, mime } = previewKind(fileNameOf(a.path));
      if (kind === 'none') return { kind, reason: `${fileNameOf(a.path)} is not an image, a sound or text; download it to open it` };
      if (kind !== 'text' && a.sizeBytes > PREVIEW_MAX_BYTES)
        return { kind: 'none', reason: `${fileNameOf(a.path)} is over ${PREVIEW_MAX_BYTES / 1024 / 1024} MB, too large to show here; download it` };
      const read = ctx.services.readArtifact(a, kind === 'text' ? PREVIEW_TEXT_BYTES : PREVIEW_MAX_BYTES);
      if ('error' in read) return { kind: 'none', reason: read.error };
      if (kind === 'text') {
        const text = new TextDecoder('utf-8', { fatal: false }).decode(read.bytes);
        // A cut in the middle of a character shows as one replacement mark at the end: drop it.
        return {
          kind,
          text: read.sizeBytes > read.bytes.length ? text.replace(/\uFFFD$/, '') : text,
          truncated: read.sizeBytes > read.bytes.length,
          sizeBytes: read.sizeBytes,
        };
      }
      return { kind, mime, base64: Buffer.from(read.bytes).toString('base64'), sizeBytes: read.sizeBytes };
    }),
    /** The newest outputs of all tasks (a project's token: its own), for the gallery. */
    recent: procedure.input(z.object({ limit: z.number().int().min(1).max(500).default(60) }).strict()).query(({ ctx, input }): RecentArtifact[] =>
      ctx.services.manager.queries.recentArtifacts(input.limit, ctx.project ?? undefined).map(({ artifact: a, index, agent }) => ({
        taskId: a.taskId,
        agent,
        index,
        name: a.name,
        fileName: fileNameOf(a.path),
        kind: previewKind(fileNameOf(a.path)).kind,
        sizeBytes: a.sizeBytes,
        createdAt: new Date(a.createdAt),
      })),
    ),
    /** An artifact opened with the system's default app, or shown in its folder (desktop app only). */
    open: taskProcedure
      .input(z.object({ id: TaskIdSchema, index: z.number().int().min(0), reveal: z.boolean().optional() }).strict())
      .mutation(async ({ ctx, input }) => {
        const a = ctx.services.manager.queries.artifacts(input.id)[input.index];
        if (!a) throw new TRPCError({ code: 'NOT_FOUND', message: `task ${input.id} has no artifact number ${input.index}` });
        if (!ctx.desktop) throw new TRPCError({ code: 'BAD_REQUEST', message: 'opening a file is for the desktop app; in a browser, download it' });
        if (input.reveal) ctx.desktop.showInFolder(a.path);
        else {
          const failed = await ctx.desktop.openPath(a.path);
          if (failed) throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: `could not open ${a.name}: ${failed}` });
        }
        return { path: a.path };
      }),
  }),
  /** Dropped files, checked where they are (the desktop app passes paths, not contents). */
  files: router({
    inspect: procedure.input(z.object({ paths: z.array(z.string().min(1).max(4096)).min(1).max(1000) }).strict()).query(({ ctx, input }) => {
      // For the desktop app's drops only: over HTTP it would tell any token holder about any path.
      if (!ctx.desktop)
        throw new TRPCError({
          code: 'FORBIDDEN',
          message: 'files.inspect is for files dropped on the desktop app; over HTTP, send a file with POST /upload?name=FILE',
        });
      return input.paths.map((p) => ctx.services.inspectPath(p));
    }),
  }),
  settings: router({
    get: procedure.query(({ ctx }) => ctx.services.settings.get()),
    update: mainProcedure.input(SettingsPatchSchema).mutation(({ ctx, input }) => ctx.services.settings.update(input)),
  }),
});

export type AppRouter = typeof appRouter;
