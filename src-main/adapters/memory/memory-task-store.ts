import type { ResourceRequest } from '../../../contracts/resources.js';
import { TASK_STATES, TERMINAL_STATES, type TaskSort, type TaskState } from '../../../contracts/task.js';
import {
  newTaskRecord,
  type ArtifactRecord,
  type AttemptEndRecord,
  type AttemptRecord,
  type NewTask,
  type TaskAfterAttempt,
  type TaskEventRecord,
  type TaskRecord,
} from '../../core/model/task.js';
import type { PeakSample } from '../../core/model/profile.js';
import type { QueueEntry } from '../../core/scheduler/queue.js';
import type { PageFilter, TaskFilter, TaskStore } from '../../core/ports.js';
import { isActive } from '../../core/lifecycle/states.js';

const copy = <T>(x: T): T => structuredClone(x);
const round = (x: number | null | undefined): number | null => (x == null ? null : Math.round(x));

/**
 * TaskStore in memory: the same contract as SqliteTaskStore (test/ports/ runs one suite against
 * both), for the Manager's unit and property tests, where a file and its fsyncs only cost time.
 * Returns copies, so a caller can never change what is stored by changing what it was given.
 * `now` stamps updatedAt where the port gives no time (as SQLite's store uses the wall clock).
 */
export class MemoryTaskStore implements TaskStore {
  private readonly tasks = new Map<number, TaskRecord>();
  private readonly attemptsOf = new Map<number, AttemptRecord[]>();
  private readonly artifactsOf = new Map<number, ArtifactRecord[]>();
  private readonly eventsOf = new Map<number, TaskEventRecord[]>();
  private readonly settings = new Map<string, string>();
  private nextId = 1;

  constructor(private readonly now: () => number = Date.now) {}

  insertTasks(list: readonly NewTask[]): TaskRecord[] {
    for (const [i, t] of list.entries()) {
      // What SQLite's NOT NULL and CHECK constraints refuse, refused here too, before anything is stored.
      if (typeof t.agent !== 'string' || typeof t.createdAt !== 'number' || t.input === null || typeof t.input !== 'object' || !t.request) {
        throw new Error(`task ${i + 1} of the batch is incomplete (agent, input, request and createdAt are required)`);
      }
    }
    return list.map((t) => {
      const rec = newTaskRecord(this.nextId++, { ...t, input: copy(t.input), request: copy(t.request) });
      this.tasks.set(rec.id, rec);
      return copy(rec);
    });
  }

  getTask(id: number): TaskRecord | null {
    const t = this.tasks.get(id);
    return t ? copy(t) : null;
  }

  listTasks(f: TaskFilter): TaskRecord[] {
    return [...this.tasks.values()]
      .filter((t) => (!f.states?.length || f.states.includes(t.state)) && (!f.agent || t.agent === f.agent) && (f.beforeId === undefined || t.id < f.beforeId))
      .sort((a, b) => b.id - a.id)
      .slice(0, f.limit)
      .map(copy);
  }

  countByState(): Record<TaskState, number> {
    const out = Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
    for (const t of this.tasks.values()) out[t.state] += 1;
    return out;
  }

  pageTasks(filter: PageFilter, sort: TaskSort, offset: number, limit: number): { items: TaskRecord[]; total: number } {
    const q = filter.search?.trim();
    const id = q ? Number(q.replace(/^#/, '')) : NaN;
    const matches = (t: TaskRecord): boolean => {
      if (filter.states?.length && !filter.states.includes(t.state)) return false;
      if (filter.agent && t.agent !== filter.agent) return false;
      if (!q) return true;
      // SQLite's LIKE: case-insensitive for ASCII.
      const byName = t.name !== null && t.name.toLowerCase().includes(q.toLowerCase());
      return byName || (Number.isInteger(id) && id > 0 && t.id === id);
    };
    const order = (a: TaskRecord, b: TaskRecord): number =>
      sort === 'oldest' ? a.id - b.id : sort === 'priority' ? b.priority - a.priority || a.id - b.id : b.id - a.id;
    const all = [...this.tasks.values()].filter(matches).sort(order);
    return { items: all.slice(offset, offset + limit).map(copy), total: all.length };
  }

  queuedEntries(): QueueEntry[] {
    const shapes = new Map<string, ResourceRequest>();
    const out: QueueEntry[] = [];
    for (const t of this.tasks.values()) {
      if (t.state !== 'queued' || t.held) continue;
      const r = t.request;
      const key = `${r.cpu}|${r.memoryMB}|${r.gpu?.count ?? 0}|${r.gpu?.vramMB ?? 0}`;
      let request = shapes.get(key);
      if (!request) shapes.set(key, (request = copy(r)));
      const since = t.attempts === 0 ? Math.max(t.createdAt, t.notBefore ?? 0) : Math.max(t.updatedAt, t.notBefore ?? 0);
      out.push({ id: t.id, agent: t.agent, priority: t.priority, notBefore: t.notBefore, request, since });
    }
    return out;
  }

  active(): { task: TaskRecord; attempt: AttemptRecord }[] {
    const out: { task: TaskRecord; attempt: AttemptRecord }[] = [];
    for (const t of this.tasks.values()) {
      if (!isActive(t.state)) continue;
      const a = this.attemptsOf.get(t.id)?.find((x) => x.number === t.attempts);
      if (a) out.push({ task: copy(t), attempt: copy(a) });
    }
    return out;
  }

  beginAttempt(taskId: number, expectedAttempts: number, startedAt: number, gpus: readonly number[]): TaskRecord | null {
    const t = this.tasks.get(taskId);
    if (!t || t.state !== 'queued' || t.attempts !== expectedAttempts) return null;
    Object.assign(t, {
      state: 'starting',
      attempts: expectedAttempts + 1,
      startedAt,
      updatedAt: startedAt,
      notBefore: null,
      progress: null,
      progressMessage: null,
    });
    const list = this.attemptsOf.get(taskId) ?? [];
    list.push({
      taskId,
      number: expectedAttempts + 1,
      outcome: 'running',
      startedAt,
      endedAt: null,
      exitCode: null,
      signal: null,
      reason: null,
      pid: null,
      pidStartTime: null,
      pgid: null,
      gpus: [...gpus],
      logDir: null,
      peakVramMB: null,
      peakMemoryMB: null,
      peakCpu: null,
    });
    this.attemptsOf.set(taskId, list);
    return copy(t);
  }

  markSpawned(taskId: number, attempt: number, proc: { pid: number; pidStartTime: string; pgid: number; logDir: string }): TaskRecord | null {
    const a = this.attempt(taskId, attempt);
    if (!a || a.outcome !== 'running') return null;
    Object.assign(a, { pid: proc.pid, pidStartTime: proc.pidStartTime, pgid: proc.pgid, logDir: proc.logDir });
    const t = this.tasks.get(taskId)!;
    if (t.state === 'starting' && t.attempts === attempt) Object.assign(t, { state: 'running', updatedAt: this.now() });
    return copy(t);
  }

  endAttempt(taskId: number, attempt: number, end: AttemptEndRecord, next: TaskAfterAttempt): TaskRecord | null {
    if (next.state === 'starting' || next.state === 'running') throw new Error(`an ended attempt cannot leave task ${taskId} ${next.state}`);
    const a = this.attempt(taskId, attempt);
    if (!a || a.outcome !== 'running') return null;
    const t = this.tasks.get(taskId);
    if (!t || t.attempts !== attempt || (t.state !== 'starting' && t.state !== 'running'))
      throw new Error(`task ${taskId} attempt ${attempt} ended but the task was not active`);
    Object.assign(a, {
      outcome: end.outcome,
      reason: end.reason,
      exitCode: end.exitCode,
      signal: end.signal,
      endedAt: end.endedAt,
      peakVramMB: round(end.peakVramMB),
      peakMemoryMB: round(end.peakMemoryMB),
      peakCpu: end.peakCpu ?? null,
    });
    Object.assign(t, { state: next.state, notBefore: next.notBefore, error: next.error, finishedAt: next.finishedAt, updatedAt: end.endedAt });
    if (next.progress !== undefined) t.progress = next.progress;
    if (next.request) t.request = copy(next.request);
    if (next.maxAttempts !== undefined) t.maxAttempts = next.maxAttempts;
    this.addEvent(taskId, attempt, 'attempt-ended', { ...end, next: next.state }, end.endedAt);
    return copy(t);
  }

  cancelQueued(taskId: number, at: number): TaskRecord | null {
    const t = this.tasks.get(taskId);
    if (!t || t.state !== 'queued') return null;
    Object.assign(t, { state: 'cancelled', desired: 'cancel', finishedAt: at, updatedAt: at, notBefore: null, error: 'cancelled while queued' });
    return copy(t);
  }

  setDesired(taskId: number, desired: TaskRecord['desired']): TaskRecord | null {
    const t = this.tasks.get(taskId);
    if (!t) return null;
    Object.assign(t, { desired, updatedAt: this.now() });
    return copy(t);
  }

  setHeld(taskId: number, held: boolean, at: number): TaskRecord | null {
    const t = this.tasks.get(taskId);
    if (!t || t.state !== 'queued') return null;
    Object.assign(t, { held, updatedAt: at });
    return copy(t);
  }

  setPriority(taskId: number, priority: number): TaskRecord | null {
    const t = this.tasks.get(taskId);
    if (!t || t.state !== 'queued') return null;
    Object.assign(t, { priority, updatedAt: this.now() });
    return copy(t);
  }

  requeue(taskId: number, from: TaskState, at: number): TaskRecord | null {
    const t = this.tasks.get(taskId);
    if (!t || t.state !== from || !TERMINAL_STATES.includes(from)) return null;
    Object.assign(t, {
      state: 'queued',
      desired: 'run',
      held: false,
      maxAttempts: Math.max(t.maxAttempts, t.attempts + 1),
      notBefore: null,
      error: null,
      result: null,
      progress: null,
      progressMessage: null,
      finishedAt: null,
      updatedAt: at,
    });
    this.addEvent(taskId, null, 'retried', { from }, at);
    return copy(t);
  }

  setProgress(taskId: number, progress: number, message: string | null, at: number): TaskRecord | null {
    const t = this.tasks.get(taskId);
    if (!t) return null;
    Object.assign(t, { progress, progressMessage: message, updatedAt: at });
    return copy(t);
  }

  setResult(taskId: number, attempt: number, data: unknown): boolean {
    const t = this.tasks.get(taskId);
    const json = JSON.stringify(data ?? null);
    if (!t || t.attempts !== attempt || JSON.stringify(t.result) === json) return false;
    Object.assign(t, { result: JSON.parse(json), updatedAt: this.now() });
    return true;
  }

  addArtifact(artifact: ArtifactRecord): void {
    const list = this.artifactsOf.get(artifact.taskId) ?? [];
    const same = list.find((a) => a.path === artifact.path);
    if (same) Object.assign(same, { name: artifact.name, sizeBytes: artifact.sizeBytes, attempt: artifact.attempt });
    else list.push(copy(artifact));
    this.artifactsOf.set(artifact.taskId, list);
  }

  attempts(taskId: number): AttemptRecord[] {
    return (this.attemptsOf.get(taskId) ?? []).map(copy);
  }

  artifacts(taskId: number): ArtifactRecord[] {
    return (this.artifactsOf.get(taskId) ?? []).map(copy);
  }

  addEvent(taskId: number, attempt: number | null, type: string, data: unknown, at: number): void {
    const list = this.eventsOf.get(taskId) ?? [];
    list.push({ taskId, attempt, type, data: data === null || data === undefined ? null : JSON.parse(JSON.stringify(data)), at });
    this.eventsOf.set(taskId, list);
  }

  events(taskId: number): TaskEventRecord[] {
    return (this.eventsOf.get(taskId) ?? []).map(copy);
  }

  recentPeaks(agent: string, limit: number): PeakSample[] {
    const out: { endedAt: number; peak: PeakSample }[] = [];
    for (const t of this.tasks.values()) {
      if (t.agent !== agent) continue;
      for (const a of this.attemptsOf.get(t.id) ?? []) {
        if (a.outcome === 'succeeded' && a.peakMemoryMB !== null)
          out.push({ endedAt: a.endedAt ?? 0, peak: { vramMB: a.peakVramMB, memoryMB: a.peakMemoryMB, cpu: a.peakCpu } });
      }
    }
    return out
      .sort((a, b) => b.endedAt - a.endedAt)
      .slice(0, limit)
      .map((x) => x.peak);
  }

  getSetting<T>(key: string): T | undefined {
    const v = this.settings.get(key);
    return v === undefined ? undefined : (JSON.parse(v) as T);
  }

  setSetting(key: string, value: unknown): void {
    this.settings.set(key, JSON.stringify(value));
  }

  private attempt(taskId: number, n: number): AttemptRecord | undefined {
    return this.attemptsOf.get(taskId)?.find((a) => a.number === n);
  }
}
