// Types for the agent SDK (agent.mjs beside this file; `agentmgr/agent` in the package).

/** The SDK's version: `agentmgr agent check` says when a folder's copy is older than the Manager's. */
export declare const SDK_VERSION: number;

/** One task's attempt, as the Manager started it. `Input` is the input's shape (its inputSchema). */
export declare class Agent<Input = Record<string, unknown>> {
  constructor(env?: Record<string, string | undefined>);
  /** The agent's name (AGENT_NAME). */
  readonly name: string;
  readonly taskId: number;
  /** 1 for the first attempt, then one more for each retry or preemption. */
  readonly attempt: number;
  /** The task's input, checked against the manifest's inputSchema before it was stored. */
  readonly input: Input;
  /** Where output files go (AGENT_ARTIFACTS_DIR). */
  readonly artifactsDir: string;
  /** A folder of the task's own that outlives its attempts: checkpoints go here (AGENT_STATE_DIR). */
  readonly stateDir: string | null;
  /** The GPUs the task was given (CUDA_VISIBLE_DEVICES); empty without one. */
  readonly gpus: string[];
  /** For a task of an array: the array's id and this task's index in it. */
  readonly array: { id: number; index: number } | null;
  /** Whether the task may be preempted, and its time to checkpoint after SIGTERM then. */
  readonly preemptible: boolean;
  readonly preemptGraceSec: number;
  /** The resident server's URL, for an agent with `resident` (AGENT_RESIDENT_URL). */
  readonly residentUrl: string | null;
  /** True once the Manager has asked the task to stop. */
  readonly stopping: boolean;
  /** Aborted when the Manager asks the task to stop: pass it to fetch, or check it in a loop. */
  readonly signal: AbortSignal;
  /** How far along it is, from 0 to 1 (a RangeError otherwise), with an optional message. */
  progress(fraction: number, message?: string): void;
  /** A line for the task's log. */
  log(message: string): void;
  /** The task's result: any JSON value (the last one wins). */
  result(data: unknown): void;
  /** Where to write an output file named `name`. */
  artifactPath(name: string): string;
  /** Reports an output file; one outside the artifacts folder is copied in first. Returns its path there. */
  artifact(path: string, name?: string): string;
  /** Ends the attempt as failed, `message` being its reason. */
  fail(message: string, code?: number): never;
  /** Called on SIGTERM (cancel, timeout, preemption): checkpoint, then the agent exits (code 143). */
  onStop(handler: () => void | Promise<void>): void;
}

/** The attempt the Manager started; runs `main(task)` when given one, an error it throws failing the attempt. */
export declare function agent<Input = Record<string, unknown>>(main?: (task: Agent<Input>) => void | Promise<void>): Agent<Input>;
