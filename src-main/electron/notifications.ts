import type { TaskState } from '../../contracts/task.js';

export interface DesktopNotice {
  title: string;
  body: string;
  taskId: number;
}

const WORTH_A_NOTICE: Partial<Record<TaskState, string>> = {
  succeeded: 'finished',
  failed: 'failed',
  timed_out: 'timed out',
  interrupted: 'was interrupted',
};

/**
 * The desktop notification for a task that just ended, or null: none when they are turned off,
 * none for a cancel (the person did that), none for a state that is not an end.
 */
export function noticeFor(
  t: { id: number; agent: string; name: string | null; state: TaskState; error: string | null },
  enabled: boolean,
): DesktopNotice | null {
  const verb = WORTH_A_NOTICE[t.state];
  if (!enabled || !verb) return null;
  return {
    title: `${t.name ?? t.agent} ${verb}`,
    body: t.state === 'succeeded' ? `Task #${t.id} (${t.agent}) succeeded.` : `Task #${t.id} (${t.agent}): ${t.error ?? t.state}`,
    taskId: t.id,
  };
}
