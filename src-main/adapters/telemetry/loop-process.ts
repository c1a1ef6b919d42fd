import { spawn, type ChildProcess } from 'node:child_process';

export interface LoopExit {
  /** Spawn failure (ENOENT: not installed). */
  errorCode: string | null;
  code: number | null;
  signal: string | null;
  /** The last lines it printed on stderr (and stdout lines that were not data), for the status. */
  said: string;
}

/**
 * One long-lived child that prints lines (nvidia-smi in loop mode). Lines are handed over whole;
 * the exit is reported once. Its stdout is a pipe to us: if we die, its next write kills it.
 */
export class LoopProcess {
  private child: ChildProcess | null = null;
  private carry = '';
  private stderr = '';
  private stopped = false;

  constructor(
    private readonly binary: string,
    private readonly args: readonly string[],
    private readonly onLine: (line: string) => void,
    private readonly onExit: (exit: LoopExit) => void,
  ) {}

  get running(): boolean {
    return this.child !== null;
  }

  start(): void {
    this.stopped = false;
    this.carry = '';
    this.stderr = '';
    let child: ChildProcess;
    try {
      child = spawn(this.binary, [...this.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      queueMicrotask(() => this.onExit({ errorCode: (e as NodeJS.ErrnoException).code ?? 'ERROR', code: null, signal: null, said: (e as Error).message }));
      return;
    }
    this.child = child;
    let reported = false;
    // Only the current child counts: an old one's exit or lines, arriving after a restart, must
    // neither clear the new one nor report a failure (which would start a third loop).
    const current = (): boolean => this.child === child;
    const report = (exit: LoopExit): void => {
      if (reported || !current()) return;
      reported = true;
      this.child = null;
      if (!this.stopped) this.onExit(exit);
    };
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      if (!current()) return;
      const text = this.carry + chunk;
      const lines = text.split('\n');
      this.carry = lines.pop() ?? '';
      for (const l of lines) if (l.trim()) this.onLine(l.replace(/\r$/, ''));
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-2000);
    });
    child.on('error', (e: NodeJS.ErrnoException) => report({ errorCode: e.code ?? 'ERROR', code: null, signal: null, said: e.message }));
    child.on('close', (code, signal) => {
      if (current() && this.carry.trim()) this.onLine(this.carry);
      this.carry = '';
      report({ errorCode: null, code, signal, said: this.stderr.trim() });
    });
  }

  /** SIGTERM, then SIGKILL if it is still there after `graceMs` (a stuck driver call ignores TERM). */
  stop(graceMs = 2000): void {
    this.stopped = true;
    const child = this.child;
    this.child = null;
    if (!child) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, graceMs);
    timer.unref();
    child.once('close', () => clearTimeout(timer));
  }
}
