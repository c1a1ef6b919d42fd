import type { TaskSort, TaskState } from '../../contracts/task.js';
import type { ArtifactRecord, AttemptRecord, DependencyLink, TaskRecord } from './model/task.js';
import type { ArraySummary, PageFilter, TaskFilter, TaskStore } from './ports.js';

/**
 * What the API may read of the store: the Manager's queries. Read-only, so nothing outside core
 * can change a task except through the Manager's commands.
 */
export class TaskQueries {
  constructor(private readonly store: TaskStore) {}

  get(id: number): TaskRecord | null {
    return this.store.getTask(id);
  }

  list(filter: TaskFilter): TaskRecord[] {
    return this.store.listTasks(filter);
  }

  page(filter: PageFilter, sort: TaskSort, offset: number, limit: number): { items: TaskRecord[]; total: number } {
    return this.store.pageTasks(filter, sort, offset, limit);
  }

  counts(): Record<TaskState, number> {
    return this.store.countByState();
  }

  attempts(id: number): AttemptRecord[] {
    return this.store.attempts(id);
  }

  /** Whether any stored task's input names this text (an uploaded file's folder, say). */
  inputMentions(text: string): boolean {
    return this.store.inputMentions(text);
  }

  /** The newest artifacts of all tasks (of one project, when given), newest first. */
  recentArtifacts(limit: number, project?: string): { artifact: ArtifactRecord; index: number; agent: string }[] {
    return this.store.recentArtifacts(limit, project);
  }

  artifacts(id: number): ArtifactRecord[] {
    return this.store.artifacts(id);
  }

  /** What the task depends on (the first `limit` links, and how many in all); null for nothing. */
  dependencies(id: number, limit: number): { mode: 'all' | 'any'; links: DependencyLink[]; total: number } | null {
    return this.store.dependencies(id, limit);
  }

  /** Why backend auto sent it to the Slurm cluster while it waited (its 'offloaded' event); null: it was not. */
  offloaded(id: number): string | null {
    const e = this.store
      .events(id)
      .filter((x) => x.type === 'offloaded')
      .at(-1);
    const reason = (e?.data as { reason?: unknown } | null | undefined)?.reason;
    return typeof reason === 'string' ? reason : null;
  }

  /** The tasks that depend on it. */
  dependents(id: number): number[] {
    return this.store.dependents([id], false);
  }

  /** Each array's counts by state and combined progress; unknown ids are left out. */
  arrays(ids: readonly number[]): ArraySummary[] {
    return this.store.arraySummaries(ids);
  }
}
