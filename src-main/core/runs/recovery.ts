import type { Ledger } from '../ledger/ledger.js';
import { unknownOutcome } from '../lifecycle/attempt-end.js';
import type { AgentCatalog, AgentRunner, Clock, Logger, TaskStore } from '../ports.js';
import type { Supervisor } from './supervisor.js';

export interface RecoveryDeps {
  store: TaskStore;
  clock: Clock;
  runner: AgentRunner;
  agents: AgentCatalog;
  ledger: Ledger;
  supervisor: Supervisor;
  logger: Logger;
}

/**
 * What an earlier Manager left running: each active attempt is re-adopted when its process is
 * still ours and alive, else finished with how it ended (from what it left, or unknown).
 * Call it after the queue is loaded: runs found ended here may be queued again, once.
 */
export function recover({ store, clock, runner, agents, ledger, supervisor, logger }: RecoveryDeps): void {
  for (const { task, attempt } of store.active()) {
    const agent = agents.get(task.agent);
    ledger.add({
      taskId: task.id,
      agent: task.agent,
      project: task.project,
      priority: task.priority,
      preemptible: task.preemptible,
      request: task.request,
      gpus: attempt.gpus,
      array: task.throttle !== null ? task.arrayId : null,
      pgid: attempt.pgid,
      attempt: attempt.number,
      handle: null,
      startedAt: attempt.startedAt,
      peak: { vramMB: attempt.peakVramMB, memoryMB: attempt.peakMemoryMB, cpu: attempt.peakCpu },
      drives: agent?.resident?.kind ?? null,
      remote: task.backend === 'slurm',
    });
    const executor = task.backend === 'slurm' ? supervisor.runnerFor(task) : runner;
    if (!agent || !executor) {
      // Its agent is gone (or its cluster is no longer set up): its fate cannot be known here.
      if (!executor) logger.warn('a Slurm task was running, but no Slurm cluster is set up now', { task: task.id });
      supervisor.finish(task.id, attempt.number, unknownOutcome());
      continue;
    }
    // Where the pid was never recorded (the Manager stopped between spawning and recording),
    // the runner finds the run by the marker it left, or proves it never started.
    const adopted = executor.adopt(
      {
        taskId: task.id,
        attempt: attempt.number,
        agent,
        input: task.input,
        gpus: attempt.gpus,
        array: task.arrayId !== null && task.arrayIndex !== null ? { id: task.arrayId, index: task.arrayIndex } : null,
        preemptible: task.preemptible,
        request: task.request,
        // What is left of its time limit, by the Manager's clock.
        timeoutMs: task.timeoutSec !== null ? Math.max(0, attempt.startedAt + task.timeoutSec * 1000 - clock.now()) : null,
        pid: attempt.pid,
        pidStartTime: attempt.pidStartTime,
        pgid: attempt.pgid,
        logDir: attempt.logDir,
      },
      supervisor.listener(task.id, attempt.number),
    );
    if (adopted.alive) {
      ledger.get(task.id)!.handle = adopted.handle;
      logger.info('re-adopted a running agent', { task: task.id, attempt: attempt.number, pid: attempt.pgid ?? attempt.pid });
      if (task.desired === 'cancel') adopted.handle.cancel();
    } else {
      const outcome = task.desired === 'cancel' ? { ...adopted.outcome, cancelled: true } : adopted.outcome;
      supervisor.finish(task.id, attempt.number, outcome);
    }
  }
}
