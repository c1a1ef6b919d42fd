import { and, desc, eq, inArray, isNotNull, lt, or, sql, type SQL } from 'drizzle-orm';
import type { TaskSort, TaskState } from '../../../contracts/task.js';
import { TASK_STATES } from '../../../contracts/task.js';
import type { ArtifactRecord, AttemptEndRecord, AttemptRecord, NewTask, TaskAfterAttempt, TaskEventRecord, TaskRecord } from '../../core/model/task.js';
import { newTaskRecord } from '../../core/model/task.js';
import type { ResourceRequest } from '../../../contracts/resources.js';
import type { PeakSample } from '../../core/model/profile.js';
import type { QueueEntry } from '../../core/scheduler/queue.js';
import type { PageFilter, TaskFilter, TaskStore } from '../../core/ports.js';
import type { OpenDb } from './db.js';
import { artifacts, attempts, settings, tasks } from './schema.js';

type TaskRow = typeof tasks.$inferSelect;
type AttemptRow = typeof attempts.$inferSelect;

const parse = (s: string | null): unknown => (s === null ? null : JSON.parse(s));

function toTask(r: TaskRow): TaskRecord {
  return {
    id: r.id,
    agent: r.agent,
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
  };
}

/** A task row's columns under the names toTask reads (for SELECT and RETURNING alike). */
const TASK_COLS = `id, agent, name, state, desired, priority, input, cpu, memory_mb AS memoryMB, gpu_count AS gpuCount, vram_mb AS vramMB, request_pinned AS requestPinned, attempts, max_attempts AS maxAttempts, backoff_sec AS backoffSec, timeout_sec AS timeoutSec, progress, progress_message AS progressMessage, result, error, not_before AS notBefore, created_at AS createdAt, updated_at AS updatedAt, started_at AS startedAt, finished_at AS finishedAt, held`;

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
      spawnedTask: q(`UPDATE tasks SET state = 'running', updated_at = ? WHERE id = ? AND state = 'starting' AND attempts = ? RETURNING ${TASK_COLS}`),
      endAttempt: q(
        `UPDATE attempts SET outcome = ?, reason = ?, exit_code = ?, signal = ?, ended_at = ?, peak_vram_mb = ?, peak_memory_mb = ?, peak_cpu = ? WHERE task_id = ? AND number = ? AND outcome = 'running'`,
      ),
      endTask: q(`UPDATE tasks SET state = ?, not_before = ?, error = ?, finished_at = ?, updated_at = ?, progress = coalesce(?, progress),
        cpu = coalesce(?, cpu), memory_mb = coalesce(?, memory_mb), gpu_count = coalesce(?, gpu_count), vram_mb = coalesce(?, vram_mb),
        max_attempts = coalesce(?, max_attempts)
        WHERE id = ? AND attempts = ? AND state IN ('starting', 'running') RETURNING ${TASK_COLS}`),
      progress: q(`UPDATE tasks SET progress = ?, progress_message = ?, updated_at = ? WHERE id = ? RETURNING ${TASK_COLS}`),
      cancelQueued: q(
        `UPDATE tasks SET state = 'cancelled', desired = 'cancel', finished_at = ?, updated_at = ?, not_before = NULL, error = 'cancelled while queued' WHERE id = ? AND state = 'queued' RETURNING ${TASK_COLS}`,
      ),
      desired: q(`UPDATE tasks SET desired = ?, updated_at = ? WHERE id = ? RETURNING ${TASK_COLS}`),
      priority: q(`UPDATE tasks SET priority = ?, updated_at = ? WHERE id = ? AND state = 'queued' RETURNING ${TASK_COLS}`),
      held: q(`UPDATE tasks SET held = ?, updated_at = ? WHERE id = ? AND state = 'queued' RETURNING ${TASK_COLS}`),
      requeue:
        q(`UPDATE tasks SET state = 'queued', desired = 'run', held = 0, max_attempts = max(max_attempts, attempts + 1), not_before = NULL, error = NULL, result = NULL,
        progress = NULL, progress_message = NULL, finished_at = NULL, updated_at = ? WHERE id = ? AND state = ? AND state IN ('succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted') RETURNING ${TASK_COLS}`),
      event: q(`INSERT INTO task_events (task_id, attempt, at, type, data) VALUES (?, ?, ?, ?, ?)`),
    };
    // The one hot path (batch submit) uses a raw prepared statement: drizzle's row-by-row insert
    // is ten times slower.
    this.insertStmt = conn.sqlite.prepare(
      `INSERT INTO tasks (agent, name, state, desired, priority, input, cpu, memory_mb, gpu_count, vram_mb,
        request_pinned, attempts, max_attempts, backoff_sec, timeout_sec, created_at, updated_at, not_before, held)
       VALUES (?, ?, 'queued', 'run', ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  private get db() {
    return this.conn.db;
  }

  insertTasks(list: readonly NewTask[]): TaskRecord[] {
    const run = this.conn.sqlite.transaction((items: readonly NewTask[]) => {
      const out: TaskRecord[] = [];
      for (const t of items) {
        const info = this.insertStmt.run(
          t.agent,
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
        );
        out.push(newTaskRecord(Number(info.lastInsertRowid), t));
      }
      return out;
    });
    const stored = run(list);
    // A large batch is folded into the main file at once, so it is never far behind the WAL.
    if (list.length >= 1000) this.conn.checkpoint();
    return stored;
  }

  getTask(id: number): TaskRecord | null {
    const r = this.hot.getTask.get(id) as TaskRow | undefined;
    return r ? toTask(r) : null;
  }

  listTasks(f: TaskFilter): TaskRecord[] {
    const where: SQL[] = [];
    if (f.states && f.states.length > 0) where.push(inArray(tasks.state, [...f.states]));
    if (f.agent) where.push(eq(tasks.agent, f.agent));
    if (f.beforeId !== undefined) where.push(lt(tasks.id, f.beforeId));
    return this.db
      .select()
      .from(tasks)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(tasks.id))
      .limit(f.limit)
      .all()
      .map(toTask);
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
    const q = filter.search?.trim();
    if (q) {
      const like = `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      const byName = sql`${tasks.name} LIKE ${like} ESCAPE '\\'`;
      const id = Number(q.replace(/^#/, ''));
      where.push(Number.isInteger(id) && id > 0 ? (or(eq(tasks.id, id), byName) as SQL) : byName);
    }
    const cond = where.length ? and(...where) : undefined;
    const order = sort === 'oldest' ? [tasks.id] : sort === 'priority' ? [desc(tasks.priority), tasks.id] : [desc(tasks.id)];
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
        `SELECT id, agent, priority, not_before, cpu, memory_mb, gpu_count, vram_mb, attempts, created_at, updated_at FROM tasks WHERE state = 'queued' AND held = 0`,
      )
      .raw(true)
      .iterate() as IterableIterator<[number, string, number, number | null, number, number, number, number, number, number, number]>;
    // Row by row: no array of every row is ever held, so a long queue does not raise the peak.
    const out: QueueEntry[] = [];
    for (const [id, agent, priority, notBefore, cpu, memoryMB, gpuCount, vramMB, attempts, createdAt, updatedAt] of rows) {
      const key = cpu + '|' + memoryMB + '|' + gpuCount + '|' + vramMB;
      let request = shapes.get(key);
      if (!request) {
        request = { cpu, memoryMB, ...(gpuCount > 0 ? { gpu: { count: gpuCount, vramMB } } : {}) };
        shapes.set(key, request);
      }
      let name = names.get(agent);
      if (name === undefined) names.set(agent, (name = agent));
      // Waiting since its submit; or, once it has run, since it was queued again (a retry's backoff
      // ended, or a person retried it: the last change of a queued task that has run).
      const since = attempts === 0 ? Math.max(createdAt, notBefore ?? 0) : Math.max(updatedAt, notBefore ?? 0);
      out.push({ id, agent: name, priority, notBefore, request, since });
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

  markSpawned(taskId: number, attempt: number, proc: { pid: number; pidStartTime: string; pgid: number; logDir: string }): TaskRecord | null {
    return this.conn.sqlite.transaction(() => {
      if (this.hot.spawnedAttempt.run(proc.pid, proc.pidStartTime, proc.pgid, proc.logDir, taskId, attempt).changes !== 1) return null;
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

  requeue(taskId: number, from: TaskState, at: number): TaskRecord | null {
    return this.conn.sqlite.transaction(() => {
      const row = this.hot.requeue.get(at, taskId, from) as TaskRow | undefined;
      if (!row) return null;
      this.insertEvent(taskId, null, 'retried', { from }, at);
      return toTask(row);
    })();
  }

  setProgress(taskId: number, progress: number, message: string | null, at: number): TaskRecord | null {
    return this.row(this.hot.progress.get(progress, message, at, taskId));
  }

  private row(r: unknown): TaskRecord | null {
    return r ? toTask(r as TaskRow) : null;
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

  recentPeaks(agent: string, limit: number): PeakSample[] {
    return this.db
      .select({ vramMB: attempts.peakVramMB, memoryMB: attempts.peakMemoryMB, cpu: attempts.peakCpu })
      .from(attempts)
      .innerJoin(tasks, eq(tasks.id, attempts.taskId))
      .where(and(eq(tasks.agent, agent), eq(attempts.outcome, 'succeeded'), isNotNull(attempts.peakMemoryMB)))
      .orderBy(desc(attempts.endedAt))
      .limit(limit)
      .all();
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
