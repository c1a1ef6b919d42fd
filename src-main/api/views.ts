import type { AgentView } from '../../contracts/agent-manifest.js';
import type { ArtifactView, AttemptView, TaskDetail, TaskView } from '../../contracts/task.js';
import type { Manager } from '../core/manager.js';
import type { LearnedProfile } from '../core/model/profile.js';
import type { ArtifactRecord, AttemptRecord, TaskRecord } from '../core/model/task.js';
import type { AgentSpec } from '../core/ports.js';
import { describeStatus } from '../core/scheduler/describe.js';

const date = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

/** A task's detail lists at most this many of its dependencies (and says how many there are). */
const DETAIL_LINKS = 200;

export function taskView(t: TaskRecord, manager: Manager): TaskView {
  const scheduling = manager.schedulingStatus(t);
  const { eta, note } = manager.eta(t);
  return {
    id: t.id,
    agent: t.agent,
    project: t.project,
    preemptible: t.preemptible,
    whenIdle: t.whenIdle,
    backend: t.backend,
    slurmJob: t.remoteJob?.startsWith('slurm:') ? t.remoteJob.slice(6) : null,
    runsOn: t.remoteWhere,
    name: t.name,
    state: t.state,
    desired: t.desired,
    priority: t.priority,
    held: t.held,
    blocked: t.blocked,
    arrayId: t.arrayId,
    arrayIndex: t.arrayIndex,
    seq: t.seq,
    input: t.input,
    resources: t.request,
    progress: t.progress,
    progressMessage: t.progressMessage,
    attempts: t.attempts,
    maxAttempts: t.maxAttempts,
    timeoutSec: t.timeoutSec,
    waitingReason: describeStatus(scheduling),
    scheduling,
    eta: eta ? { startAt: new Date(eta.startAt), endAt: new Date(eta.endAt) } : null,
    etaNote: note,
    actions: manager.actions(t),
    peak: manager.livePeak(t.id),
    result: t.result ?? null,
    error: t.error,
    notBefore: date(t.notBefore),
    createdAt: new Date(t.createdAt),
    updatedAt: new Date(t.updatedAt),
    startedAt: date(t.startedAt),
    finishedAt: date(t.finishedAt),
  };
}

export function attemptView(a: AttemptRecord): AttemptView {
  return {
    number: a.number,
    outcome: a.outcome,
    startedAt: new Date(a.startedAt),
    endedAt: date(a.endedAt),
    exitCode: a.exitCode,
    signal: a.signal,
    reason: a.reason,
    pid: a.pid,
    gpus: a.gpus,
    peakVramMB: a.peakVramMB,
    peakMemoryMB: a.peakMemoryMB,
    peakCpu: a.peakCpu,
  };
}

export function artifactView(a: ArtifactRecord): ArtifactView {
  return { attempt: a.attempt, name: a.name, path: a.path, sizeBytes: a.sizeBytes, createdAt: new Date(a.createdAt) };
}

export function taskDetail(t: TaskRecord, attempts: AttemptRecord[], artifacts: ArtifactRecord[], manager: Manager): TaskDetail {
  const view = taskView(t, manager);
  const last = attempts.at(-1);
  const peak = view.peak ?? (last ? { vramMB: last.peakVramMB, memoryMB: last.peakMemoryMB, cpu: last.peakCpu } : null);
  const deps = manager.queries.dependencies(t.id, DETAIL_LINKS);
  return {
    ...view,
    peak,
    attemptList: attempts.map(attemptView),
    artifacts: artifacts.map(artifactView),
    livePeak: view.peak,
    dependencies: deps ? { mode: deps.mode, items: deps.links.map((l) => ({ type: l.type, id: l.id, state: l.state })), total: deps.total } : null,
    dependents: manager.queries.dependents(t.id),
    offloaded: t.backendAuto && t.backend === 'slurm' ? manager.queries.offloaded(t.id) : null,
  };
}

export function agentView(a: AgentSpec, learned: LearnedProfile | null, learnedOnCluster: LearnedProfile | null = null): AgentView {
  return {
    learned: learned ? { samples: learned.samples, request: learned.request, p95: learned.p95 } : null,
    learnedOnCluster: learnedOnCluster ? { samples: learnedOnCluster.samples, request: learnedOnCluster.request, p95: learnedOnCluster.p95 } : null,
    name: a.name,
    title: a.title,
    description: a.description,
    accepts: a.accepts,
    inputSchema: a.inputSchema,
    resources: a.resources,
    timeoutSec: a.timeoutSec,
    expectedSec: a.expectedSec,
    preemptible: a.preemptible,
    preemptGraceSec: a.preemptGraceSec,
    resident: a.resident,
    whenIdle: a.whenIdle,
    backend: a.backend,
    retry: a.retry,
    concurrency: a.concurrency,
    dir: a.dir,
    source: a.source,
  };
}
