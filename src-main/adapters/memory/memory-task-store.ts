import type { ResourceRequest } from '../../../contracts/resources.js';
import { TASK_STATES, TERMINAL_STATES, type DependencyType, type TaskSort, type TaskState } from '../../../contracts/task.js';
import {
  newTaskRecord,
  type ArtifactRecord,
  type AttemptEndRecord,
  type AttemptRecord,
  type DependencyLink,
  type NewTask,
  type TaskAfterAttempt,
  type TaskEventRecord,
  type TaskRecord,
} from '../../core/model/task.js';
import type { PeakSample } from '../../core/model/profile.js';
import type { QueueEntry } from '../../core/scheduler/queue.js';
import type { ProjectRecord } from '../../core/projects/projects.js';
import type { ArraySummary, PageFilter, TaskFilter, TaskStore } from '../../core/ports.js';
import { isActive } from '../../core/lifecycle/states.js';
import type { DepTarget } from '../../core/workflow/dependencies.js';

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
  /** What each task depends on, in the order given. */
  private readonly depsOf = new Map<number, { type: DependencyType; id: number }[]>();
  private nextId = 1;

  constructor(private readonly now: () => number = Date.now) {}

  insertTasks(list: readonly NewTask[]): TaskRecord[] {
    for (const [i, t] of list.entries()) {
      // What SQLite's NOT NULL and CHECK constraints refuse, refused here too, before anything is stored.
      if (typeof t.agent !== 'string' || typeof t.createdAt !== 'number' || t.input === null || typeof t.input !== 'object' || !t.request) {
        throw new Error(`task ${i + 1} of the batch is incomplete (agent, input, request and createdAt are required)`);
      }
    }
    for (const [i, t] of list.entries()) {
      for (const d of t.dependsOn ?? []) {
        if ('index' in d && (d.index < 0 || d.index >= list.length))
          throw new Error(`task ${i + 1} of the batch depends on task ${d.index + 1}, which is not in it`);
      }
    }
    const arrays = new Map<number, number>();
    const out = list.map((t) => {
      const id = this.nextId++;
      let arrayId: number | null = null;
      if (t.array) {
        arrayId = arrays.get(t.array.group) ?? id;
        arrays.set(t.array.group, arrayId);
      }
      const rec = newTaskRecord(id, { ...t, input: copy(t.input), request: copy(t.request) }, arrayId);
      this.tasks.set(rec.id, rec);
      return rec;
    });
    list.forEach((t, i) => {
      if (!t.dependsOn?.length) return;
      const seen = new Set<string>();
      const deps: { type: DependencyType; id: number }[] = [];
      for (const d of t.dependsOn) {
        const id = 'taskId' in d ? d.taskId : out[d.index]!.id;
        if (seen.has(`${d.type}:${id}`)) continue;
        seen.add(`${d.type}:${id}`);
        deps.push({ type: d.type, id });
      }
      this.depsOf.set(out[i]!.id, deps);
    });
    return out.map(copy);
  }

  getTask(id: number): TaskRecord | null {
    const t = this.tasks.get(id);
    return t ? copy(t) : null;
  }

  listTasks(f: TaskFilter): TaskRecord[] {
    return [...this.tasks.values()]
      .filter(
        (t) =>
          (!f.states?.length || f.states.includes(t.state)) &&
          (!f.agent || t.agent === f.agent) &&
          (f.project === undefined || t.project === f.project) &&
          (f.arrayId === undefined || t.arrayId === f.arrayId) &&
          (f.blocked === undefined || t.blocked === f.blocked) &&
          (f.beforeId === undefined || t.id < f.beforeId) &&
          (!f.name || (t.name ?? '').toLowerCase().includes(f.name.toLowerCase())),
      )
      .sort((a, b) => b.id - a.id)
      .slice(0, f.limit)
      .map(copy);
  }

  private readonly projectRows = new Map<string, ProjectRecord>();

  projects(): ProjectRecord[] {
    return [...this.projectRows.values()].map((p) => ({ ...p }));
  }

  putProject(p: ProjectRecord): void {
    this.projectRows.set(p.name, { ...p });
  }

  countQueued(project: string): number {
    let n = 0;
    for (const t of this.tasks.values()) if (t.state === 'queued' && t.project === project) n++;
    return n;
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
      if (filter.project !== undefined && t.project !== filter.project) return false;
      if (filter.arrayId !== undefined && t.arrayId !== filter.arrayId) return false;
      if (filter.arrayHeads && t.arrayId !== null && t.arrayId !== t.id) return false;
      if (!q) return true;
      // SQLite's LIKE: case-insensitive for ASCII.
      const byName = t.name !== null && t.name.toLowerCase().includes(q.toLowerCase());
      return byName || (Number.isInteger(id) && id > 0 && t.id === id);
    };
    const order = (a: TaskRecord, b: TaskRecord): number =>
      sort === 'oldest'
        ? a.id - b.id
        : sort === 'priority'
          ? b.priority - a.priority || a.seq - b.seq || a.id - b.id
          : sort === 'agent'
            ? (a.agent < b.agent ? -1 : a.agent > b.agent ? 1 : 0) || b.id - a.id
            : sort === 'state'
              ? TASK_STATES.indexOf(a.state) - TASK_STATES.indexOf(b.state) || b.id - a.id
              : b.id - a.id;
    const all = [...this.tasks.values()].filter(matches).sort(order);
    return { items: all.slice(offset, offset + limit).map(copy), total: all.length };
  }

  queuedEntries(): QueueEntry[] {
    const shapes = new Map<string, ResourceRequest>();
    const out: QueueEntry[] = [];
    for (const t of this.tasks.values()) {
      if (t.state !== 'queued' || t.held || t.blocked) continue;
      const r = t.request;
      const key = `${r.cpu}|${r.memoryMB}|${r.gpu?.count ?? 0}|${r.gpu?.vramMB ?? 0}`;
      let request = shapes.get(key);
      if (!request) shapes.set(key, (request = copy(r)));
      const since = t.attempts === 0 ? Math.max(t.createdAt, t.notBefore ?? 0) : Math.max(t.updatedAt, t.notBefore ?? 0);
      const array = t.throttle !== null ? t.arrayId : null;
      out.push({
        id: t.id,
        agent: t.agent,
        project: t.project,
        priority: t.priority,
        notBefore: t.notBefore,
        request,
        since,
        seq: t.seq,
        array,
        throttle: array === null ? null : t.throttle,
        model: t.residentModel,
        whenIdle: t.whenIdle,
        ...(t.backend === 'slurm' ? { remote: true } : {}),
      });
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
      peakWhere: null,
    });
    this.attemptsOf.set(taskId, list);
    return copy(t);
  }

  markSpawned(taskId: number, attempt: number, proc: { pid: number | null; pidStartTime: string; pgid: number | null; logDir: string }): TaskRecord | null {
    const a = this.attempt(taskId, attempt);
    if (!a || a.outcome !== 'running') return null;
    Object.assign(a, { pid: proc.pid, pidStartTime: proc.pidStartTime, pgid: proc.pgid, logDir: proc.logDir });
    const t = this.tasks.get(taskId)!;
    if (proc.pid === null) Object.assign(t, { remoteJob: proc.pidStartTime, remoteWhere: null });
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
      peakWhere: end.peakWhere ?? null,
    });
    Object.assign(t, { state: next.state, notBefore: next.notBefore, error: next.error, finishedAt: next.finishedAt, updatedAt: end.endedAt });
    if (next.progress !== undefined) t.progress = next.progress;
    if (next.request) t.request = copy(next.request);
    if (next.maxAttempts !== undefined) t.maxAttempts = next.maxAttempts;
    if (next.desired !== undefined) t.desired = next.desired;
    this.addEvent(taskId, attempt, 'attempt-ended', { ...end, next: next.state }, end.endedAt);
    return copy(t);
  }

  cancelQueued(taskId: number, at: number): TaskRecord | null {
    const t = this.tasks.get(taskId);
    if (!t || t.state !== 'queued') return null;
    Object.assign(t, {
      state: 'cancelled',
      desired: 'cancel',
      blocked: false,
      finishedAt: at,
      updatedAt: at,
      notBefore: null,
      error: 'cancelled while queued',
    });
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

  requeue(taskId: number, from: TaskState, at: number, blocked = false): TaskRecord | null {
    const t = this.tasks.get(taskId);
    if (!t || t.state !== from || !TERMINAL_STATES.includes(from)) return null;
    Object.assign(t, {
      state: 'queued',
      desired: 'run',
      held: false,
      blocked,
      cause: null,
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

  setPlace(taskId: number, priority: number, seq: number, at: number): TaskRecord | null {
    const t = this.tasks.get(taskId);
    if (!t || t.state !== 'queued') return null;
    Object.assign(t, { priority, seq, updatedAt: at });
    return copy(t);
  }

  seqBounds(q: { priority?: number; below?: number; above?: number }): { min: number | null; max: number | null } {
    let min: number | null = null;
    let max: number | null = null;
    for (const t of this.tasks.values()) {
      if (t.state !== 'queued' || (q.priority !== undefined && t.priority !== q.priority)) continue;
      if ((q.below !== undefined && t.seq >= q.below) || (q.above !== undefined && t.seq <= q.above)) continue;
      min = min === null ? t.seq : Math.min(min, t.seq);
      max = max === null ? t.seq : Math.max(max, t.seq);
    }
    return { min, max };
  }

  dependencyTargets(ids: readonly number[]): Map<number, DepTarget[]> {
    const out = new Map<number, DepTarget[]>();
    const target = (t: TaskRecord): DepTarget => ({ id: t.id, state: t.state, attempts: t.attempts });
    for (const id of ids) {
      const t = this.tasks.get(id);
      if (!t) continue;
      out.set(id, t.arrayId === id ? [...this.tasks.values()].filter((m) => m.arrayId === id).map(target) : [target(t)]);
    }
    return out;
  }

  dependencies(taskId: number, limit = Number.MAX_SAFE_INTEGER): { mode: 'all' | 'any'; links: DependencyLink[]; total: number } | null {
    const t = this.tasks.get(taskId);
    const deps = this.depsOf.get(taskId);
    if (!t?.dependsMode || !deps) return null;
    const links = deps.slice(0, limit).map((d) => {
      const on = this.tasks.get(d.id);
      return { type: d.type, id: d.id, state: on?.state ?? 'cancelled', attempts: on?.attempts ?? 0, progress: on?.progress ?? null };
    });
    return { mode: t.dependsMode, links, total: deps.length };
  }

  removeEnded(ids: readonly number[]): number[] {
    const ended = new Set(['succeeded', 'failed', 'cancelled', 'timed_out', 'interrupted']);
    return ids.filter((id) => {
      const t = this.tasks.get(id);
      if (!t || !ended.has(t.state)) return false;
      for (const m of [this.tasks, this.attemptsOf, this.artifactsOf, this.eventsOf, this.depsOf]) m.delete(id);
      return true;
    });
  }

  inputMentions(text: string): boolean {
    const needle = JSON.stringify(text).slice(1, -1);
    return [...this.tasks.values()].some((t) => JSON.stringify(t.input).includes(needle));
  }

  endedIds(f: { states: readonly TaskState[]; agent?: string; project?: string; endedBefore?: number }): number[] {
    return [...this.tasks.values()]
      .filter(
        (t) =>
          f.states.includes(t.state) &&
          (!f.agent || t.agent === f.agent) &&
          (f.project === undefined || t.project === f.project) &&
          (f.endedBefore === undefined || (t.finishedAt ?? t.updatedAt) < f.endedBefore),
      )
      .map((t) => t.id)
      .sort((a, b) => a - b);
  }

  dependents(ids: readonly number[], blockedOnly: boolean): number[] {
    const want = new Set(ids);
    const out: number[] = [];
    for (const [id, deps] of this.depsOf) {
      const t = this.tasks.get(id)!;
      if (blockedOnly && !(t.state === 'queued' && t.blocked)) continue;
      if (deps.some((d) => want.has(d.id))) out.push(id);
    }
    return out.sort((a, b) => a - b);
  }

  settleDependents(change: { unblock: readonly number[]; cancel: readonly { id: number; cause: number; reason: string }[] }, at: number): TaskRecord[] {
    const out: TaskRecord[] = [];
    for (const id of change.unblock) {
      const t = this.tasks.get(id);
      if (!t || t.state !== 'queued' || !t.blocked) continue;
      Object.assign(t, { blocked: false, updatedAt: at });
      this.addEvent(id, null, 'dependencies-met', null, at);
      out.push(copy(t));
    }
    for (const c of change.cancel) {
      const t = this.tasks.get(c.id);
      if (!t || t.state !== 'queued' || !t.blocked) continue;
      Object.assign(t, {
        state: 'cancelled',
        desired: 'cancel',
        blocked: false,
        cause: c.cause,
        error: c.reason,
        finishedAt: at,
        updatedAt: at,
        notBefore: null,
      });
      this.addEvent(c.id, null, 'cancelled', { while: 'waiting for dependencies', cause: c.cause, reason: c.reason }, at);
      out.push(copy(t));
    }
    return out;
  }

  arraySummaries(ids: readonly number[]): ArraySummary[] {
    const out: ArraySummary[] = [];
    for (const arrayId of ids) {
      const members = [...this.tasks.values()].filter((t) => t.arrayId === arrayId);
      if (members.length === 0) continue;
      const counts = Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
      let done = 0;
      for (const t of members) {
        counts[t.state] += 1;
        done += TERMINAL_STATES.includes(t.state) ? 1 : (t.progress ?? 0);
      }
      out.push({ arrayId, total: members.length, counts, progress: done / members.length, throttle: members[0]!.throttle });
    }
    return out;
  }

  causedBy(id: number): number[] {
    return [...this.tasks.values()]
      .filter((t) => t.cause === id && t.state === 'cancelled')
      .map((t) => t.id)
      .sort((a, b) => a - b);
  }

  setProgress(taskId: number, progress: number, message: string | null, at: number): TaskRecord | null {
    const t = this.tasks.get(taskId);
    if (!t) return null;
    Object.assign(t, { progress, progressMessage: message, updatedAt: at });
    return copy(t);
  }

  autoQueued(limit: number): TaskRecord[] {
    return [...this.tasks.values()]
      .filter((t) => t.state === 'queued' && t.backendAuto && t.backend === 'local' && !t.held && !t.blocked)
      .sort((a, b) => b.priority - a.priority || a.seq - b.seq)
      .slice(0, limit)
      .map(copy);
  }

  offload(taskId: number, data: unknown, at: number): TaskRecord | null {
    const t = this.tasks.get(taskId);
    if (!t || t.state !== 'queued' || !t.backendAuto || t.backend !== 'local' || t.held || t.blocked) return null;
    Object.assign(t, { backend: 'slurm', updatedAt: at });
    this.addEvent(taskId, null, 'offloaded', data, at);
    return copy(t);
  }

  setPlacement(taskId: number, attempt: number, where: string): boolean {
    const t = this.tasks.get(taskId);
    if (!t || t.attempts !== attempt || t.remoteWhere === where) return false;
    t.remoteWhere = where;
    return true;
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

  recentArtifacts(limit: number, project?: string): { artifact: ArtifactRecord; index: number; agent: string }[] {
    const all: { artifact: ArtifactRecord; index: number; agent: string }[] = [];
    for (const [taskId, list] of this.artifactsOf) {
      const t = this.tasks.get(taskId);
      if (!t || (project !== undefined && t.project !== project)) continue;
      list.forEach((a, index) => all.push({ artifact: copy(a), index, agent: t.agent }));
    }
    return all.sort((x, y) => y.artifact.createdAt - x.artifact.createdAt || y.artifact.taskId - x.artifact.taskId || y.index - x.index).slice(0, limit);
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

  recentPeaks(agent: string, limit: number, where: string | null = null): PeakSample[] {
    const out: { endedAt: number; peak: PeakSample }[] = [];
    for (const t of this.tasks.values()) {
      if (t.agent !== agent) continue;
      for (const a of this.attemptsOf.get(t.id) ?? []) {
        if (a.outcome === 'succeeded' && a.peakMemoryMB !== null && a.peakWhere === where)
          out.push({ endedAt: a.endedAt ?? 0, peak: { vramMB: a.peakVramMB, memoryMB: a.peakMemoryMB, cpu: a.peakCpu } });
      }
    }
    return out
      .sort((a, b) => b.endedAt - a.endedAt)
      .slice(0, limit)
      .map((x) => x.peak);
  }

  recentDurations(agent: string, limit: number): number[] {
    const out: { endedAt: number; ms: number }[] = [];
    for (const t of this.tasks.values()) {
      if (t.agent !== agent) continue;
      for (const a of this.attemptsOf.get(t.id) ?? [])
        if (a.outcome === 'succeeded' && a.endedAt !== null) out.push({ endedAt: a.endedAt, ms: a.endedAt - a.startedAt });
    }
    return out
      .sort((a, b) => b.endedAt - a.endedAt)
      .slice(0, limit)
      .map((x) => x.ms);
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
