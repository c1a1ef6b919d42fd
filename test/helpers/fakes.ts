import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readProcStat } from '../../src-main/adapters/process/proc-stat.js';
import type { AgentManifest } from '../../contracts/agent-manifest.js';
import { AgentManifestSchema } from '../../contracts/agent-manifest.js';
import { notStarted, outcome, startFailed, unknownOutcome, type RunOutcome } from '../../src-main/core/lifecycle/attempt-end.js';
import type { GpuView, NodeSnapshot } from '../../src-main/core/model/node.js';
import type {
  AdoptSpec,
  AgentCatalog,
  AgentRunner,
  AgentSpec,
  EventSink,
  LaunchSpec,
  Logger,
  ManagerEvent,
  RunHandle,
  RunListener,
  StopRequest,
  TelemetrySource,
} from '../../src-main/core/ports.js';

export function tempDir(prefix = 'agentmgr-test-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const quietLogger: Logger = { info() {}, warn() {}, error() {} };

export function rtx4060(over: Partial<GpuView> = {}): GpuView {
  return {
    index: 0,
    uuid: 'GPU-4060-0',
    name: 'NVIDIA GeForce RTX 4060',
    totalMB: 8188,
    usedMB: 0,
    freeMB: 8188,
    utilizationPct: 0,
    temperatureC: 40,
    powerW: 10,
    powerLimitW: 115,
    processes: [],
    ...over,
  };
}

export function node(over: Partial<NodeSnapshot> = {}): NodeSnapshot {
  return {
    cpuCores: 8,
    memoryTotalMB: 32_000,
    memoryAvailableMB: 32_000,
    gpus: [rtx4060()],
    gpuStatus: { state: 'ok', message: null },
    ...over,
  };
}

/** Telemetry whose readings the test sets. */
export class FakeTelemetry implements TelemetrySource {
  private listeners = new Set<() => void>();
  constructor(public snapshot: NodeSnapshot = node()) {}
  /** As the real one: only the groups asked for with watch() are reported. */
  current(): NodeSnapshot {
    const groups = this.snapshot.groups;
    if (!groups) return this.snapshot;
    return { ...this.snapshot, groups: new Map([...groups].filter(([pgid]) => this.watched.includes(pgid))) };
  }
  set(snapshot: NodeSnapshot): void {
    this.snapshot = snapshot;
    for (const l of this.listeners) l();
  }
  subscribe(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  watched: number[] = [];
  watch(pgids: readonly number[]): void {
    this.watched = [...pgids];
  }
}

export function agent(m: Partial<AgentManifest> & { name: string }): AgentSpec {
  const parsed = AgentManifestSchema.parse({ command: ['/bin/true'], ...m });
  return { ...parsed, title: parsed.title ?? parsed.name, dir: '/nonexistent', source: 'bundled' };
}

/** Agents given by the test; every input is valid unless `reject` says otherwise. */
export class FakeCatalog implements AgentCatalog {
  constructor(
    private readonly agents: AgentSpec[],
    private readonly reject: (a: AgentSpec, input: Record<string, unknown>) => string | null = () => null,
  ) {}
  get(name: string) {
    return this.agents.find((a) => a.name === name);
  }
  list() {
    return [...this.agents];
  }
  problems() {
    return [];
  }
  validateInput(a: AgentSpec, input: Record<string, unknown>) {
    return this.reject(a, input);
  }
}

export interface FakeRun {
  spec: LaunchSpec;
  listener: RunListener;
  /** How it was asked to stop: a preemption's grace and log line; null for a plain cancel (or none). */
  stop: StopRequest | null;
  cancelled: boolean;
  detached: boolean;
  ended: boolean;
  pgid: number;
  /** Ends the run the way a process would; only the first call counts. */
  exit(outcome?: Partial<RunOutcome>): void;
}

let nextPid = 10_000;

function makeRun(spec: LaunchSpec, listener: RunListener, pgid: number, linger = false): { run: FakeRun; handle: RunHandle } {
  const run: FakeRun = {
    spec,
    listener,
    stop: null,
    cancelled: false,
    detached: false,
    ended: false,
    pgid,
    exit: (o = {}) => {
      if (run.ended || run.detached) return;
      run.ended = true;
      listener({ type: 'exit', outcome: outcome({ exitCode: 0, cancelled: run.cancelled, ...o }) });
    },
  };
  const handle: RunHandle = {
    cancel: (request) => {
      if (run.cancelled || run.ended) return;
      run.cancelled = true;
      run.stop = request ?? null;
      // As a process that takes its grace to checkpoint: it ends when the test says so.
      if (!linger) run.exit({ exitCode: null, signal: 'SIGTERM' });
    },
    detach: () => {
      run.detached = true;
    },
  };
  return { run, handle };
}

/**
 * A runner that starts nothing: the test decides when and how each run ends. It reports the
 * spawn at once (as the real runner does right after spawn); cancel ends the run as SIGTERM would.
 */
export class FakeRunner implements AgentRunner {
  runs: FakeRun[] = [];
  /** Pids that an adopt() call finds alive. */
  alive = new Set<number>();

  /** Agents whose start fails, with the error (as a missing executable does for the real runner). */
  startErrors = new Map<string, string>();

  /** Runs cancelled go on until the test ends them (a process checkpointing in its grace period). */
  lingerOnCancel = false;

  start(spec: LaunchSpec, listener: RunListener): RunHandle {
    const startError = this.startErrors.get(spec.agent.name);
    if (startError !== undefined) {
      // As the real runner: no spawn, and the end comes on a later turn, never from inside start().
      setImmediate(() => listener({ type: 'exit', outcome: startFailed(startError) }));
      return { cancel() {}, detach() {} };
    }
    const pid = nextPid++;
    const { run, handle } = makeRun(spec, listener, pid, this.lingerOnCancel);
    this.runs.push(run);
    listener({ type: 'spawned', pid, pidStartTime: String(pid * 7), pgid: pid, logDir: `/runs/${spec.taskId}/${spec.attempt}` });
    return handle;
  }

  adopt(spec: AdoptSpec, listener: RunListener): { alive: true; handle: RunHandle } | { alive: false; outcome: RunOutcome } {
    // Never recorded as spawned: as the real runner finds when the attempt folder has no run id.
    if (spec.pid === null || spec.pgid === null) return { alive: false, outcome: notStarted() };
    // Alive only when the test says so: a run the Manager let go of may have ended meanwhile.
    if (!this.alive.has(spec.pid)) return { alive: false, outcome: unknownOutcome() };
    const { run, handle } = makeRun(spec, listener, spec.pgid);
    this.runs.push(run);
    return { alive: true, handle };
  }

  /** Runs that have not ended and are still watched. */
  live(): FakeRun[] {
    return this.runs.filter((r) => !r.ended && !r.detached);
  }
}

export class RecordingSink implements EventSink {
  events: ManagerEvent[] = [];
  emit(e: ManagerEvent): void {
    this.events.push(e);
  }
}

/**
 * A process a test started, remembered with its start time, so cleanup never signals another
 * process that got the same number later (pids wrap around quickly on a busy machine).
 */
export function remember(pid: number): { pid: number; startTime: string | null } {
  return { pid, startTime: readProcStat(pid)?.startTime ?? null };
}

/**
 * SIGKILL to the remembered process (its whole group, with `group`), only while the number is
 * still ours: the same process, or (for a group) no process with that pid at all, since the kernel
 * never gives a new process the number of a group that still has members.
 */
export function killIfSame(p: { pid: number; startTime: string | null }, group = true): void {
  const now = readProcStat(p.pid);
  const same = now !== null && p.startTime !== null && now.startTime === p.startTime;
  if (!same && (now !== null || !group)) return;
  try {
    process.kill(group ? -p.pid : p.pid, 'SIGKILL');
  } catch {
    // gone meanwhile
  }
}
