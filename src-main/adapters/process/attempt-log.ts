import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface LogCaps {
  /** Bytes kept from the start of the log. */
  headBytes: number;
  /** Bytes kept from the end of the log. */
  tailBytes: number;
}

export const DEFAULT_LOG_CAPS: LogCaps = { headBytes: 4 * 1024 * 1024, tailBytes: 1024 * 1024 };

interface LogState {
  headBytes: number;
  cutBytes: number;
  cutLines: number;
  /** Raw stdout/stderr bytes consumed (complete lines only). */
  offsets: { stdout: number; stderr: number };
}

export const LOG_FILE = 'output.log';
const TAIL_FILE = 'output.tail';
const STATE_FILE = 'log-state.json';

export function cutMarker(bytes: number, lines: number): string {
  return `\n[agentmgr: ${bytes} bytes (${lines} lines) cut from the middle of this log]\n\n`;
}

/**
 * An attempt's readable log with a size cap: the first `headBytes` go to output.log as they come;
 * past that, only the last `tailBytes` are kept (in output.tail while running) and the cut is
 * marked when the attempt ends. The state (how much was consumed) is saved with each flush, so a
 * Manager that re-adopts the run continues where the last one stopped.
 */
export class AttemptLog {
  private state: LogState;
  private tail: Buffer[] = [];
  private tailSize = 0;
  private tailDirty = false;
  private stateDirty = false;
  private fd: number;

  constructor(
    private readonly dir: string,
    private readonly caps: LogCaps,
  ) {
    mkdirSync(dir, { recursive: true });
    this.state = loadState(dir);
    const tailFile = join(dir, TAIL_FILE);
    if (existsSync(tailFile)) {
      const t = readFileSync(tailFile);
      if (t.length > 0) {
        this.tail = [t];
        this.tailSize = t.length;
      }
    }
    this.fd = openSync(join(dir, LOG_FILE), 'a');
  }

  get offsets(): Readonly<LogState['offsets']> {
    return this.state.offsets;
  }

  setOffset(stream: keyof LogState['offsets'], offset: number): void {
    if (this.state.offsets[stream] === offset) return;
    this.state.offsets[stream] = offset;
    this.stateDirty = true;
  }

  private get cutting(): boolean {
    return this.tail.length > 0 || this.state.cutBytes > 0;
  }

  /** Appends whole lines (each ending in \n). */
  append(text: string): void {
    let buf = Buffer.from(text);
    if (!this.cutting) {
      const room = this.caps.headBytes - this.state.headBytes;
      // As many whole lines as fit in the head.
      const cut = buf.length <= room ? buf.length : buf.lastIndexOf(10, room - 1) + 1;
      if (cut > 0) {
        writeSync(this.fd, buf, 0, cut);
        this.state.headBytes += cut;
        this.stateDirty = true;
        buf = buf.subarray(cut);
      }
      if (buf.length === 0) return;
    }
    this.tail.push(buf);
    this.tailSize += buf.length;
    this.tailDirty = true;
    this.stateDirty = true;
    // Drop from the front, at line boundaries, down to the tail's size.
    while (this.tailSize > this.caps.tailBytes && this.tail.length > 0) {
      const first = this.tail[0]!;
      const excess = this.tailSize - this.caps.tailBytes;
      let drop = first.length;
      if (first.length > excess) {
        const nl = first.indexOf(10, excess - 1);
        if (nl >= 0 && nl + 1 < first.length) drop = nl + 1;
      }
      const dropped = first.subarray(0, drop);
      this.state.cutBytes += drop;
      this.state.cutLines += countLines(dropped);
      this.tailSize -= drop;
      if (drop === first.length) this.tail.shift();
      else this.tail[0] = first.subarray(drop);
    }
  }

  /** Saves the tail and the consumed offsets, if they changed. */
  flush(): void {
    if (!this.stateDirty && !this.tailDirty) return;
    if (this.tailDirty) {
      const tmp = join(this.dir, TAIL_FILE + '.tmp');
      writeFileSync(tmp, Buffer.concat(this.tail));
      renameSync(tmp, join(this.dir, TAIL_FILE));
      this.tailDirty = false;
    }
    const tmp = join(this.dir, STATE_FILE + '.tmp');
    writeFileSync(tmp, JSON.stringify(this.state));
    renameSync(tmp, join(this.dir, STATE_FILE));
    this.stateDirty = false;
  }

  /** Writes the cut marker and the tail into output.log and drops the working files. */
  finalize(): void {
    if (this.state.cutBytes > 0) writeSync(this.fd, cutMarker(this.state.cutBytes, this.state.cutLines));
    if (this.tail.length > 0) writeSync(this.fd, Buffer.concat(this.tail));
    closeSync(this.fd);
    for (const f of [TAIL_FILE, STATE_FILE]) rmSync(join(this.dir, f), { force: true });
  }

  /** Stops writing without finalizing (the Manager is shutting down; the run goes on). */
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}

function loadState(dir: string): LogState {
  try {
    return JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as LogState;
  } catch {
    return { headBytes: 0, cutBytes: 0, cutLines: 0, offsets: { stdout: 0, stderr: 0 } };
  }
}

/** The log as a reader sees it, also while the attempt runs: head, then the cut marker and tail. */
export function readAttemptLog(dir: string): string {
  const head = existsSync(join(dir, LOG_FILE)) ? readFileSync(join(dir, LOG_FILE), 'utf8') : '';
  if (!existsSync(join(dir, TAIL_FILE))) return head;
  const state = loadState(dir);
  const tail = readFileSync(join(dir, TAIL_FILE), 'utf8');
  return head + (state.cutBytes > 0 ? cutMarker(state.cutBytes, state.cutLines) : '') + tail;
}
