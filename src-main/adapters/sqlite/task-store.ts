import { and, desc, eq, inArray, isNotNull, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Statement } from 'better-sqlite3';
import type { TaskSort, TaskState } from '../../../contracts/task.js';
import { TASK_STATES } from '../../../contracts/task.js';
import type {
  ArtifactRecord,
  AttemptEndRecord,
  AttemptRecord,
  DependencyLink,
  NewTask,
  TaskAfterAttempt,
  TaskEventRecord,
  TaskRecord,
} from '../../core/model/task.js';
import type { DepTarget } from '../../core/workflow/dependencies.js';
import { newTaskRecord } from '../../core/model/task.js';
import type { ResourceRequest } from '../../../contracts/resources.js';
import type { PeakSample } from '../../core/model/profile.js';
import type { QueueEntry } from '../../core/scheduler/queue.js';
import type { ProjectRecord } from '../../core/projects/projects.js';
import type { ArraySummary, PageFilter, TaskFilter, TaskStore } from '../../core/ports.js';
import type { OpenDb } from './db.js';
import { artifacts, attempts, projects as projectsTable, settings, tasks } from './schema.js';

type TaskRow = typeof tasks.$inferSelect;
type AttemptRow = typeof attempts.$inferSelect;

const parse = (s: string | null): unknown => (s === null ? null : JSON.parse(s));

function summarise(arrayId: number, rows: readonly { state: TaskState; n: number; done: number; throttle: number | null }[]): ArraySummary {
  const counts = Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
  let total = 0;
  let done = 0;
  let throttle: number | null = null;
  for (const r of rows) {
    counts[r.state] = r.n;
    total += r.n;
    done += r.done;
    throttle = r.throttle ?? throttle;
  }
  return { arrayId, total, counts, progress: total > 0 ? done / total : 0, throttle };
}

function toTask(r: TaskRow): TaskRecord {
  return {
    id: r.id,
    agent: r.agent,
    project: r.project,
    name: r.name,
    state: r.state as TaskState,
    desired: r.desired as TaskRecord['desired'],
    priority: r.priority,
    input: JSON.parse(r.input) as Record<string, unknown>,
    request: {
      cpu: r.cpu,
      memoryMB: r.memoryMB,
      ...(r.gpuCount > 0 ? { gpu: { count: r.gpuCount, vramMB: r.vramMB } } : {}),
    },
    requestPinned: r.requestPinned === 1,
    attempts: r.attempts,
    maxAttempts: r.maxAttempts,
    backoffSec: r.backoffSec,
    timeoutSec: r.timeoutSec,
    progress: r.progress,
    progressMessage: r.progressMessage,
    result: parse(r.result),
    error: r.error,
    notBefore: r.notBefore,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    held: r.held === 1,
    preemptible: r.preemptible === 1,
    blocked: r.blocked === 1,
    dependsMode: (r.dependsMode as TaskRecord['dependsMode']) ?? null,
    cause: r.cause,
    arrayId: r.arrayId,
    arrayIndex: r.arrayIndex,
    throttle: r.throttle,
    seq: r.seq ?? r.id,
    residentModel: r.residentModel ?? null,
    whenIdle: r.whenIdle === 1,
    backend: r.backend === 'slurm' ? 'slurm' : 'local',
    backendAuto: r.backendAuto === 1,
    remoteJob: r.remoteJob ?? null,
    remoteWhere: r.remoteWhere ?? null,
  };
}

function toAttempt(r: AttemptRow): AttemptRecord {
  return {
    taskId: r.taskId,
    number: r.number,
    outcome: r.outcome as AttemptRecord['outcome'],
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    exitCode: r.exitCode,
    signal: r.signal,
    reason: r.reason,
    pid: r.pid,
    pidStartTime: r.pidStartTime,
    pgid: r.pgid,
    gpus: JSON.parse(r.gpus) as number[],
    logDir: r.logDir,
    peakVramMB: r.peakVramMB,
    peakMemoryMB: r.peakMemoryMB,
    peakCpu: r.peakCpu,
    peakWhere: r.peakWhere ?? null,
  };
}

/** A task row's columns under the names toTask reads (for SELECT and RETURNING alike). */
const TASK_COLS = `id, agent, project, name, state, desired, priority, input, cpu, memory_mb AS memoryMB, gpu_count AS gpuCount, vram_mb AS vramMB, request_pinned AS requestPinned, attempts, max_attempts AS maxAttempts, backoff_sec AS backoffSec, timeout_sec AS timeoutSec, progress, progress_message AS progressMessage, result, error, not_before AS notBefore, created_at AS createdAt, updated_at AS updatedAt, started_at AS startedAt, finished_at AS finishedAt, held, preemptible, blocked, depends_mode AS dependsMode, cause, array_id AS arrayId, array_index AS arrayIndex, throttle, seq, resident_model AS residentModel, when_idle AS whenIdle, backend, backend_auto AS backendAuto, remote_job AS remoteJob, remote_where AS remoteWhere`;

/** TaskStore on SQLite through drizzle. Every method commits before it returns. */
export class SqliteTaskStore implements TaskStore {
  private readonly insertStmt;
  /** The hot paths (every start, spawn, exit, progress update) use prepared statements, made once. */
  private readonly hot;

  constructor(private readonly conn: OpenDb) {
    const q = (sql: string) => conn.sqlite.prepare(sql);
    this.hot = {
      getTask: q(`SELECT ${TASK_COLS} FROM tasks WHERE id = ?`),
      begin: q(
        `UPDATE tasks SET state = 'starting', attempts = ?, started_at = ?, updated_at = ?, not_before = NULL, progress = NULL, progress_message = NULL WHERE id = ? AND state = 'queued' AND attempts = ? RETURNING ${TASK_COLS}`,
      ),
      insertAttempt: q(`INSERT INTO attempts (task_id, number, outcome, started_at, gpus) VALUES (?, ?, 'running', ?, ?)`),
      spawnedAttempt: q(`UPDATE attempts SET pid = ?, pid_start_time = ?, pgid = ?, log_dir = ? WHERE task_id = ? AND number = ? AND outcome = 'running'`),
      remoteJob: q(`UPDATE tasks SET remote_job = ?, remote_where = NULL WHERE id = ?`),
      spawnedTask: q(`UPDATE tasks SET state = 'running', updated_at = ? WHERE id = ? AND state = 'starting' AND attempts = ? RETURNING ${TASK_COLS}`),
      endAttempt: q(
        `UPDATE attempts SET outcome = ?, reason = ?, exit_code = ?, signal = ?, ended_at = ?, peak_vram_mb = ?, peak_memory_mb = ?, peak_cpu = ?, peak_where = ? WHERE task_id = ? AND number = ? AND outcome = 'running'`,
      ),
      endTask: q(`UPDATE tasks SET state = ?, not_before = ?, error = ?, finished_at = ?, updated_at = ?, progress = coalesce(?, progress),
        cpu = coalesce(?, cpu), memory_mb = coalesce(?, memory_mb), gpu_count = coalesce(?, gpu_count), vram_mb = coalesce(?, vram_mb),
        max_attempts = coalesce(?, max_attempts), desired = coalesce(?, desired)
        WHERE id = ? AND attempts = ? AND state IN ('starting', 'running') RETURNING ${TASK_COLS}`),
      progress: q(`UPDATE tasks SET progress = ?, progress_message = ?, updated_at = ? WHERE id = ? RETURNING ${TASK_COLS}`),
      cancelQueued: q(
        `UPDATE tasks SET state = 'cancelled', desired = 'cancel', blocked = 0, finished_at = ?, updated_at = ?, not_before = NULL, error = 'cancelled while queued' WHERE id = ? AND state = 'queued' RETURNING ${TASK_COLS}`,
      ),
      desired: q(`UPDATE tasks SET desired = ?, updated_at = ? WHERE id = ? RETURNING ${TASK_COLS}`),
      priority: q(`UPDATE tasks SET priority = ?, updated_at = ? WHERE id = ? AND state = 'queued' RETURNING ${TASK_COLS}`),
      held: q(`UPDATE tasks SET held = ?, updated_at = ? WHERE id = ? AND state = 'queued' RETURNING ${TASK_COLS}`),
      requeue:
        q(`UPDATE tasks SET state = 'queued', desired = 'run', held = 0, blocked = ?, cause = NULL, max_attempts = max(max_attempts, attempts + 1), not_before = NULL, error = NULL, result = NULL,
        progress = NULL, progress_message = NULL, finished_at = NULL, updated_at = ? WHERE id = ? AND state = ? AND state IN ('succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted') RETURNING ${TASK_COLS}`),
      event: q(`INSERT INTO task_events (task_id, attempt, at, type, data) VALUES (?, ?, ?, ?, ?)`),
      place: q(`UPDATE tasks SET priority = ?, seq = ?, updated_at = ? WHERE id = ? AND state = 'queued' RETURNING ${TASK_COLS}`),
      unblock: q(`UPDATE tasks SET blocked = 0, updated_at = ? WHERE id = ? AND state = 'queued' AND blocked = 1 RETURNING ${TASK_COLS}`),
      cancelBlocked: q(
        `UPDATE tasks SET state = 'cancelled', desired = 'cancel', blocked = 0, cause = ?, error = ?, finished_at = ?, updated_at = ?, not_before = NULL WHERE id = ? AND state = 'queued' AND blocked = 1 RETURNING ${TASK_COLS}`,
      ),
      insertDep: q(`INSERT OR IGNORE INTO task_deps (task_id, dep_id, type) VALUES (?, ?, ?)`),
      arrayHead: q(`UPDATE tasks SET array_id = id WHERE id = ?`),
    };
    // The one hot path (batch submit) uses a raw prepared statement: drizzle's row-by-row insert
    // is ten times slower.
    this.insertStmt = conn.sqlite.prepare(
      `INSERT INTO tasks (agent, project, name, state, desired, priority, input, cpu, memory_mb, gpu_count, vram_mb,
        request_pinned, attempts, max_attempts, backoff_sec, timeout_sec, created_at, updated_at, not_before, held,
        blocked, depends_mode, array_id, array_index, throttle, preemptible, resident_model, when_idle, backend, backend_auto)
       VALUES (?, ?, ?, 'queued', 'run', ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  private readonly dependentsStmt: { blocked?: Statement; all?: Statement } = {};

  private get db() {
    return this.conn.db;
  }

  insertTasks(list: readonly NewTask[]): TaskRecord[] {
    const run = this.conn.sqlite.transaction((items: readonly NewTask[]) => {
      const out: TaskRecord[] = [];
      // Each array's id is its first task's.
      const arrays = new Map<number, number>();
      for (const t of items) {
        const arrayId = t.array ? (arrays.get(t.array.group) ?? null) : null;
        const info = this.insertStmt.run(
          t.agent,
          t.project ?? 'default',
          t.name,
          t.priority,
          JSON.stringify(t.input),
          t.request.cpu,
          t.request.memoryMB,
          t.request.gpu?.count ?? 0,
          t.request.gpu?.vramMB ?? 0,
          t.requestPinned ? 1 : 0,
          t.maxAttempts,
          t.backoffSec,
          t.timeoutSec,
          t.createdAt,
          t.createdAt,
          t.notBefore ?? null,
          t.held ? 1 : 0,
          t.blocked ? 1 : 0,
          t.dependsOn?.length ? (t.dependsMode ?? 'all') : null,
          arrayId,
          t.array?.index ?? null,
          t.array?.throttle ?? null,
          t.preemptible ? 1 : 0,
          t.residentModel ?? null,
          t.whenIdle ? 1 : 0,
          t.backend ?? 'local',
          t.backendAuto ? 1 : 0,
        );
        const id = Number(info.lastInsertRowid);
        if (t.array && arrayId === null) {
          this.hot.arrayHead.run(id);
          arrays.set(t.array.group, id);
        }
        out.push(newTaskRecord(id, t, t.array ? (arrayId ?? id) : null));
      }
      items.forEach((t, i) => {
        for (const d of t.dependsOn ?? []) {
          const on = 'taskId' in d ? d.taskId : out[d.index]?.id;
          if (on === undefined) throw new Error(`task ${i + 1} of the batch depends on task ${(d as { index: number }).index + 1}, which is not in it`);
          this.hot.insertDep.run(out[i]!.id, on, d.type);
        }
      });
      return out;
    });
    const stored = run(list);
    // A large batch is folded into the main file at once, so it is never far behind the WAL.
    if (list.length >= 1000) this.conn.checkpointSoon();
    return stored;
  }

  getTask(id: number): TaskRecord | null {
    const r = this.hot.getTask.get(id) as TaskRow | undefined;
    return r ? toTask(r) : null;
  }

  listTasks(f: TaskFilter): TaskRecord[] {
    const where: SQL[] = [];
    if (f.states && f.states.length > 0) {
      // Waiting tasks are found through the partial index tasks_blocked: "+state" keeps the
      // planner off the state index, which would scan every queued task.
      if (f.blocked === true)
        where.push(
          sql`+${tasks.state} IN (${sql.join(
            f.states.map((st) => sql`${st}`),
            sql`, `,
          )})`,
        );
      else where.push(inArray(tasks.state, [...f.states]));
    }
    if (f.agent) where.push(eq(tasks.agent, f.agent));
    if (f.project !== undefined) where.push(eq(tasks.project, f.project));
    if (f.arrayId !== undefined) where.push(eq(tasks.arrayId, f.arrayId));
    // A literal, not a parameter: the partial index tasks_blocked is used only for `blocked = 1` as written.
    if (f.blocked !== undefined) where.push(f.blocked ? sql`${tasks.blocked} = 1` : sql`${tasks.blocked} = 0`);
    if (f.beforeId !== undefined) where.push(lt(tasks.id, f.beforeId));
    if (f.name) where.push(sql`${tasks.name} LIKE ${`%${f.name.replace(/[\\%_]/g, (c) => `\\${c}`)}%`} ESCAPE '\\'`);
    return this.db
      .select()
      .from(tasks)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(tasks.id))
      .limit(f.limit)
      .all()
      .map(toTask);
  }

  projects(): ProjectRecord[] {
    return this.db.select().from(projectsTable).all();
  }

  putProject(p: ProjectRecord): void {
    const row = { weight: p.weight, maxRunning: p.maxRunning, maxVramMB: p.maxVramMB, maxQueued: p.maxQueued, usage: p.usage, usageAt: p.usageAt };
    this.db
      .insert(projectsTable)
      .values({ name: p.name, ...row })
      .onConflictDoUpdate({ target: projectsTable.name, set: row })
      .run();
  }

  countQueued(project: string): number {
    return (this.conn.sqlite.prepare(`SELECT count(*) FROM tasks WHERE project = ? AND state = 'queued'`).pluck().get(project) as number) ?? 0;
  }

  countByState(): Record<TaskState, number> {
    const out = Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
    const rows = this.db
      .select({ state: tasks.state, n: sql<number>`count(*)` })
      .from(tasks)
      .groupBy(tasks.state)
      .all();
    for (const r of rows) out[r.state as TaskState] = r.n;
    return out;
  }

  pageTasks(filter: PageFilter, sort: TaskSort, offset: number, limit: number): { items: TaskRecord[]; total: number } {
    const where: SQL[] = [];
    if (filter.states && filter.states.length > 0) where.push(inArray(tasks.state, [...filter.states]));
    if (filter.agent) where.push(eq(tasks.agent, filter.agent));
    if (filter.project !== undefined) where.push(eq(tasks.project, filter.project));
    if (filter.arrayId !== undefined) where.push(eq(tasks.arrayId, filter.arrayId));
    if (filter.arrayHeads) where.push(sql`(${tasks.arrayId} IS NULL OR ${tasks.arrayId} = ${tasks.id})`);
    const q = filter.search?.trim();
    if (q) {
      const like = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      const byName = sql`${tasks.name} LIKE ${like} ESCAPE '\\'`;
      const id = Number(q.replace(/^#/, ''));
      where.push(Number.isInteger(id) && id > 0 ? (or(eq(tasks.id, id), byName) as SQL) : byName);
    }
    const cond = where.length ? and(...where) : undefined;
    // 'priority' is the queue's order: priority, then place (seq, its id until moved).
    const order =
      sort === 'oldest'
        ? [tasks.id]
        : sort === 'priority'
          ? [desc(tasks.priority), sql`coalesce(${tasks.seq}, ${tasks.id})`, tasks.id]
          : sort === 'agent'
            ? [tasks.agent, desc(tasks.id)]
            : sort === 'state'
              ? [sql.raw(`CASE state ${TASK_STATES.map((s, i) => `WHEN '${s}' THEN ${i}`).join(' ')} END`), desc(tasks.id)]
              : [desc(tasks.id)];
    const items = this.db
      .select()
      .from(tasks)
      .where(cond)
      .orderBy(...order)
      .limit(limit)
      .offset(offset)
      .all()
      .map(toTask);
    const total = this.db
      .select({ n: sql<number>`count(*)` })
      .from(tasks)
      .where(cond)
      .get()!.n;
    return { items, total };
  }

  queuedEntries(): QueueEntry[] {
    // Raw rows as arrays, few columns, one pass: at start-up a long queue loads in a blink.
    // Requests of the same shape share one object.
    const shapes = new Map<string, ResourceRequest>();
    const names = new Map<string, string>();
    const rows = this.conn.sqlite
      .prepare(
        `SELECT id, agent, priority, not_before, cpu, memory_mb, gpu_count, vram_mb, attempts, created_at, updated_at, coalesce(seq, id), array_id, throttle, project, resident_model, when_idle, backend FROM tasks WHERE state = 'queued' AND held = 0 AND blocked = 0`,
      )
      .raw(true)
      .iterate() as IterableIterator<
      [
        number,
        string,
        number,
        number | null,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number,
        number | null,
        number | null,
        string,
        string | null,
        number,
        string,
      ]
    >;
    // Row by row: no array of every row is ever held, so a long queue does not raise the peak.
    const out: QueueEntry[] = [];
    for (const [
      id,
      agent,
      priority,
      notBefore,
      cpu,
      memoryMB,
      gpuCount,
      vramMB,
      attempts,
      createdAt,
      updatedAt,
      seq,
      arrayId,
      throttle,
      project,
      model,
      whenIdle,
      backend,
    ] of rows) {
      const key = cpu + '|' + memoryMB + '|' + gpuCount + '|' + vramMB;
      let request = shapes.get(key);
      if (!request) {
        request = { cpu, memoryMB, ...(gpuCount > 0 ? { gpu: { count: gpuCount, vramMB } } : {}) };
        shapes.set(key, request);
      }
      let name = names.get(agent);
      if (name === undefined) names.set(agent, (name = agent));
      let proj = names.get('\0' + project);
      if (proj === undefined) names.set('\0' + project, (proj = project));
      // Waiting since its submit; or, once it has run, since it was queued again (a retry's backoff
      // ended, or a person retried it: the last change of a queued task that has run).
      const since = attempts === 0 ? Math.max(createdAt, notBefore ?? 0) : Math.max(updatedAt, notBefore ?? 0);
      const array = throttle !== null ? arrayId : null;
      out.push({
        id,
        agent: name,
        project: proj,
        priority,
        notBefore,
        request,
        since,
        seq,
        array,
        throttle: array === null ? null : throttle,
        model,
        whenIdle: whenIdle === 1,
        ...(backend === 'slurm' ? { remote: true } : {}),
      });
    }
    return out;
  }

  active(): { task: TaskRecord; attempt: AttemptRecord }[] {
    const rows = this.db
      .select()
      .from(tasks)
      .innerJoin(attempts, and(eq(attempts.taskId, tasks.id), eq(attempts.number, tasks.attempts)))
      .where(inArray(tasks.state, ['starting', 'running']))
      .all();
    return rows.map((r) => ({ task: toTask(r.tasks), attempt: toAttempt(r.attempts) }));
  }

  beginAttempt(taskId: number, expectedAttempts: number, startedAt: number, gpus: readonly number[]): TaskRecord | null {
    return this.conn.sqlite.transaction(() => {
      const row = this.hot.begin.get(expectedAttempts + 1, startedAt, startedAt, taskId, expectedAttempts) as TaskRow | undefined;
      if (!row) return null;
      this.hot.insertAttempt.run(taskId, expectedAttempts + 1, startedAt, JSON.stringify(gpus));
      return toTask(row);
    })();
  }

  markSpawned(taskId: number, attempt: number, proc: { pid: number | null; pidStartTime: string; pgid: number | null; logDir: string }): TaskRecord | null {
    return this.conn.sqlite.transaction(() => {
      if (this.hot.spawnedAttempt.run(proc.pid, proc.pidStartTime, proc.pgid, proc.logDir, taskId, attempt).changes !== 1) return null;
      // A run elsewhere (no local pid) is named by its job: shown with the task.
      if (proc.pid === null) this.hot.remoteJob.run(proc.pidStartTime, taskId);
      const row = this.hot.spawnedTask.get(Date.now(), taskId, attempt) as TaskRow | undefined;
      // Already running (a re-adopted run whose identity is only now known): the row as it is.
      return row ? toTask(row) : this.getTask(taskId);
    })();
  }

  endAttempt(taskId: number, attempt: number, end: AttemptEndRecord, next: TaskAfterAttempt): TaskRecord | null {
    const round = (x: number | null | undefined) => (x == null ? null : Math.round(x));
    if (next.state === 'starting' || next.state === 'running') throw new Error(`an ended attempt cannot leave task ${taskId} ${next.state}`);
    return this.conn.sqlite.transaction(() => {
      const a = this.hot.endAttempt.run(
        end.outcome,
        end.reason,
        end.exitCode,
        end.signal,
        end.endedAt,
        round(end.peakVramMB),
        round(end.peakMemoryMB),
        end.peakCpu ?? null,
        end.peakWhere ?? null,
        taskId,
        attempt,
      );
      if (a.changes !== 1) return null;
      const r = next.request;
      const row = this.hot.endTask.get(
        next.state,
        next.notBefore,
        next.error,
        next.finishedAt,
        end.endedAt,
        next.progress ?? null,
        r ? r.cpu : null,
        r ? r.memoryMB : null,
        r ? (r.gpu?.count ?? 0) : null,
        r ? (r.gpu?.vramMB ?? 0) : null,
        next.maxAttempts ?? null,
        next.desired ?? null,
        taskId,
        attempt,
      ) as TaskRow | undefined;
      if (!row) throw new Error(`task ${taskId} attempt ${attempt} ended but the task was not active`);
      this.insertEvent(taskId, attempt, 'attempt-ended', { ...end, next: next.state }, end.endedAt);
      return toTask(row);
    })();
  }

  cancelQueued(taskId: number, at: number): TaskRecord | null {
    return this.row(this.hot.cancelQueued.get(at, at, taskId));
  }

  setDesired(taskId: number, desired: TaskRecord['desired']): TaskRecord | null {
    return this.row(this.hot.desired.get(desired, Date.now(), taskId));
  }

  setHeld(taskId: number, held: boolean, at: number): TaskRecord | null {
    return this.row(this.hot.held.get(held ? 1 : 0, at, taskId));
  }

  setPriority(taskId: number, priority: number): TaskRecord | null {
    return this.row(this.hot.priority.get(priority, Date.now(), taskId));
  }

  requeue(taskId: number, from: TaskState, at: number, blocked = false): TaskRecord | null {
    return this.conn.sqlite.transaction(() => {
      const row = this.hot.requeue.get(blocked ? 1 : 0, at, taskId, from) as TaskRow | undefined;
      if (!row) return null;
      this.insertEvent(taskId, null, 'retried', { from }, at);
      return toTask(row);
    })();
  }

  setPlace(taskId: number, priority: number, seq: number, at: number): TaskRecord | null {
    return this.row(this.hot.place.get(priority, seq, at, taskId));
  }

  seqBounds(q: { priority?: number; below?: number; above?: number }): { min: number | null; max: number | null } {
    const where = [`state = 'queued'`];
    const args: number[] = [];
    const add = (cond: string, value: number | undefined): void => {
      if (value === undefined) return;
      where.push(cond);
      args.push(value);
    };
    add('priority = ?', q.priority);
    add('coalesce(seq, id) < ?', q.below);
    add('coalesce(seq, id) > ?', q.above);
    const r = this.conn.sqlite
      .prepare(`SELECT min(coalesce(seq, id)) AS min, max(coalesce(seq, id)) AS max FROM tasks WHERE ${where.join(' AND ')}`)
      .get(...args) as {
      min: number | null;
      max: number | null;
    };
    return { min: r.min, max: r.max };
  }

  dependencyTargets(ids: readonly number[]): Map<number, DepTarget[]> {
    const out = new Map<number, DepTarget[]>();
    const own = this.conn.sqlite.prepare(`SELECT id, state, attempts, array_id AS arrayId FROM tasks WHERE id = ?`);
    const members = this.conn.sqlite.prepare(`SELECT id, state, attempts FROM tasks WHERE array_id = ? ORDER BY id`);
    for (const id of ids) {
      const t = own.get(id) as (DepTarget & { arrayId: number | null }) | undefined;
      if (!t) continue;
      // The id of an array (its first task's) means every task of it.
      out.set(id, t.arrayId === id ? (members.all(id) as DepTarget[]) : [{ id: t.id, state: t.state, attempts: t.attempts }]);
    }
    return out;
  }

  dependencies(taskId: number, limit = Number.MAX_SAFE_INTEGER): { mode: 'all' | 'any'; links: DependencyLink[]; total: number } | null {
    const t = this.conn.sqlite.prepare(`SELECT depends_mode AS mode FROM tasks WHERE id = ?`).get(taskId) as { mode: 'all' | 'any' | null } | undefined;
    if (!t?.mode) return null;
    const links = this.conn.sqlite
      .prepare(
        `SELECT d.type, d.dep_id AS id, coalesce(t.state, 'cancelled') AS state, coalesce(t.attempts, 0) AS attempts, t.progress FROM task_deps d LEFT JOIN tasks t ON t.id = d.dep_id WHERE d.task_id = ? ORDER BY d.rowid LIMIT ?`,
      )
      .all(taskId, limit) as DependencyLink[];
    const total = (this.conn.sqlite.prepare(`SELECT count(*) AS n FROM task_deps WHERE task_id = ?`).get(taskId) as { n: number }).n;
    return { mode: t.mode, links, total };
  }

  removeEnded(ids: readonly number[]): number[] {
    const del = this.conn.sqlite.prepare(`DELETE FROM tasks WHERE id = ? AND state IN ('succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted')`);
    return this.conn.sqlite.transaction(() => ids.filter((id) => del.run(id).changes > 0))();
  }

  inputMentions(text: string): boolean {
    const needle = JSON.stringify(text).slice(1, -1);
    return this.conn.sqlite.prepare('SELECT 1 FROM tasks WHERE instr(input, ?) > 0 LIMIT 1').get(needle) !== undefined;
  }

  endedIds(f: { states: readonly TaskState[]; agent?: string; project?: string; endedBefore?: number }): number[] {
    const where = [`state IN (${f.states.map(() => '?').join(', ')})`];
    const args: (string | number)[] = [...f.states];
    const add = (cond: string, value: string | number): void => {
      where.push(cond);
      args.push(value);
    };
    if (f.agent) add('agent = ?', f.agent);
    if (f.project !== undefined) add('project = ?', f.project);
    if (f.endedBefore !== undefined) add('coalesce(finished_at, updated_at) < ?', f.endedBefore);
    return this.conn.sqlite
      .prepare(`SELECT id FROM tasks WHERE ${where.join(' AND ')} ORDER BY id`)
      .pluck()
      .all(...args) as number[];
  }

  dependents(ids: readonly number[], blockedOnly: boolean): number[] {
    if (ids.length === 0) return [];
    const found = new Set<number>();
    // Asked at every end (workflow/settle.ts): prepared once.
    const key = blockedOnly ? 'blocked' : 'all';
    let q = this.dependentsStmt[key];
    if (!q)
      q = this.dependentsStmt[key] = this.conn.sqlite
        .prepare(
          `SELECT DISTINCT d.task_id AS id FROM task_deps d JOIN tasks t ON t.id = d.task_id WHERE d.dep_id = ?${blockedOnly ? ` AND t.state = 'queued' AND t.blocked = 1` : ''}`,
        )
        .pluck();
    for (const id of ids) for (const d of q.all(id) as number[]) found.add(d);
    return [...found].sort((a, b) => a - b);
  }

  settleDependents(change: { unblock: readonly number[]; cancel: readonly { id: number; cause: number; reason: string }[] }, at: number): TaskRecord[] {
    return this.conn.sqlite.transaction(() => {
      const out: TaskRecord[] = [];
      for (const id of change.unblock) {
        const row = this.hot.unblock.get(at, id) as TaskRow | undefined;
        if (!row) continue;
        this.insertEvent(id, null, 'dependencies-met', null, at);
        out.push(toTask(row));
      }
      for (const c of change.cancel) {
        const row = this.hot.cancelBlocked.get(c.cause, c.reason, at, at, c.id) as TaskRow | undefined;
        if (!row) continue;
        this.insertEvent(c.id, null, 'cancelled', { while: 'waiting for dependencies', cause: c.cause, reason: c.reason }, at);
        out.push(toTask(row));
      }
      return out;
    })();
  }

  arraySummaries(ids: readonly number[]): ArraySummary[] {
    const q = this.conn.sqlite.prepare(
      `SELECT state, count(*) AS n, sum(CASE WHEN state IN ('succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted') THEN 1.0 ELSE coalesce(progress, 0) END) AS done, max(throttle) AS throttle FROM tasks WHERE array_id = ? GROUP BY state`,
    );
    const out: ArraySummary[] = [];
    for (const arrayId of ids) {
      const rows = q.all(arrayId) as { state: TaskState; n: number; done: number; throttle: number | null }[];
      if (rows.length === 0) continue;
      out.push(summarise(arrayId, rows));
    }
    return out;
  }

  causedBy(id: number): number[] {
    return this.conn.sqlite.prepare(`SELECT id FROM tasks WHERE cause = ? AND state = 'cancelled' ORDER BY id`).pluck().all(id) as number[];
  }

  setProgress(taskId: number, progress: number, message: string | null, at: number): TaskRecord | null {
    return this.row(this.hot.progress.get(progress, message, at, taskId));
  }

  private row(r: unknown): TaskRecord | null {
    return r ? toTask(r as TaskRow) : null;
  }

  autoQueued(limit: number): TaskRecord[] {
    const rows = this.conn.sqlite
      .prepare(
        `SELECT ${TASK_COLS} FROM tasks WHERE state = 'queued' AND backend_auto = 1 AND backend = 'local' AND held = 0 AND blocked = 0 ORDER BY priority DESC, coalesce(seq, id) LIMIT ?`,
      )
      .all(limit) as TaskRow[];
    return rows.map(toTask);
  }

  offload(taskId: number, data: unknown, at: number): TaskRecord | null {
    return this.conn.sqlite.transaction(() => {
      const row = this.conn.sqlite
        .prepare(
          `UPDATE tasks SET backend = 'slurm', updated_at = ? WHERE id = ? AND state = 'queued' AND backend_auto = 1 AND backend = 'local' AND held = 0 AND blocked = 0 RETURNING ${TASK_COLS}`,
        )
        .get(at, taskId) as TaskRow | undefined;
      if (!row) return null;
      this.insertEvent(taskId, null, 'offloaded', data, at);
      return toTask(row);
    })();
  }

  setPlacement(taskId: number, attempt: number, where: string): boolean {
    const r = this.db
      .update(tasks)
      .set({ remoteWhere: where })
      .where(and(eq(tasks.id, taskId), eq(tasks.attempts, attempt), sql`${tasks.remoteWhere} IS NOT ${where}`))
      .run();
    return r.changes === 1;
  }

  setResult(taskId: number, attempt: number, data: unknown): boolean {
    const json = JSON.stringify(data ?? null);
    const r = this.db
      .update(tasks)
      .set({ result: json, updatedAt: Date.now() })
      .where(and(eq(tasks.id, taskId), eq(tasks.attempts, attempt), sql`${tasks.result} IS NOT ${json}`))
      .run();
    return r.changes === 1;
  }

  addArtifact(a: ArtifactRecord): void {
    this.db
      .insert(artifacts)
      .values(a)
      .onConflictDoUpdate({ target: [artifacts.taskId, artifacts.path], set: { name: a.name, sizeBytes: a.sizeBytes, attempt: a.attempt } })
      .run();
  }

  attempts(taskId: number): AttemptRecord[] {
    return this.db.select().from(attempts).where(eq(attempts.taskId, taskId)).orderBy(attempts.number).all().map(toAttempt);
  }

  recentArtifacts(limit: number, project?: string): { artifact: ArtifactRecord; index: number; agent: string }[] {
    type Row = ArtifactRecord & { idx: number; agent: string };
    const rows = this.conn.sqlite
      .prepare(
        `SELECT a.task_id AS taskId, a.attempt, a.name, a.path, a.size_bytes AS sizeBytes, a.created_at AS createdAt, t.agent,
                (SELECT count(*) FROM artifacts b WHERE b.task_id = a.task_id AND b.id < a.id) AS idx
           FROM artifacts a JOIN tasks t ON t.id = a.task_id
          ${project !== undefined ? 'WHERE t.project = ?' : ''}
          ORDER BY a.created_at DESC, a.task_id DESC, a.id DESC LIMIT ?`,
      )
      .all(...(project !== undefined ? [project, limit] : [limit])) as Row[];
    return rows.map(({ idx, agent, ...artifact }) => ({ artifact, index: idx, agent }));
  }

  artifacts(taskId: number): ArtifactRecord[] {
    return this.db
      .select()
      .from(artifacts)
      .where(eq(artifacts.taskId, taskId))
      .orderBy(artifacts.id)
      .all()
      .map((r) => ({ taskId: r.taskId, attempt: r.attempt, name: r.name, path: r.path, sizeBytes: r.sizeBytes, createdAt: r.createdAt }));
  }

  addEvent(taskId: number, attempt: number | null, type: string, data: unknown, at: number): void {
    this.insertEvent(taskId, attempt, type, data, at);
  }

  events(taskId: number): TaskEventRecord[] {
    const rows = this.conn.sqlite.prepare(`SELECT attempt, at, type, data FROM task_events WHERE task_id = ? ORDER BY id`).all(taskId) as {
      attempt: number | null;
      at: number;
      type: string;
      data: string | null;
    }[];
    return rows.map((r) => ({ taskId, attempt: r.attempt, at: r.at, type: r.type, data: parse(r.data) }));
  }

  private insertEvent(taskId: number, attempt: number | null, type: string, data: unknown, at: number): void {
    this.hot.event.run(taskId, attempt, at, type, data === null ? null : JSON.stringify(data));
  }

  recentPeaks(agent: string, limit: number, where: string | null = null): PeakSample[] {
    return this.db
      .select({ vramMB: attempts.peakVramMB, memoryMB: attempts.peakMemoryMB, cpu: attempts.peakCpu })
      .from(attempts)
      .innerJoin(tasks, eq(tasks.id, attempts.taskId))
      .where(
        and(
          eq(tasks.agent, agent),
          eq(attempts.outcome, 'succeeded'),
          isNotNull(attempts.peakMemoryMB),
          where === null ? isNull(attempts.peakWhere) : eq(attempts.peakWhere, where),
        ),
      )
      .orderBy(desc(attempts.endedAt))
      .limit(limit)
      .all();
  }

  recentDurations(agent: string, limit: number): number[] {
    return this.conn.sqlite
      .prepare(
        `SELECT a.ended_at - a.started_at FROM attempts a JOIN tasks t ON t.id = a.task_id WHERE t.agent = ? AND a.outcome = 'succeeded' AND a.ended_at IS NOT NULL ORDER BY a.ended_at DESC LIMIT ?`,
      )
      .pluck()
      .all(agent, limit) as number[];
  }

  getSetting<T>(key: string): T | undefined {
    const r = this.db.select().from(settings).where(eq(settings.key, key)).get();
    return r ? (JSON.parse(r.value) as T) : undefined;
  }

  setSetting(key: string, value: unknown): void {
    this.db
      .insert(settings)
      .values({ key, value: JSON.stringify(value) })
      .onConflictDoUpdate({ target: settings.key, set: { value: JSON.stringify(value) } })
      .run();
  }
}
