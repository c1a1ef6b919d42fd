import { closeSync, existsSync, ftruncateSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface LogCaps {
  /** Bytes kept from the start of the log. */
  headBytes: number;
  /** Bytes kept from the end of the log. */
  tailBytes: number;
}

export const DEFAULT_LOG_CAPS: LogCaps = { headBytes: 4 * 1024 * 1024, tailBytes: 1024 * 1024 };

interface LogState {
  /** Bytes of output.log that are the head (anything past them was written after the last save). */
  headBytes: number;
  cutBytes: number;
  cutLines: number;
  /** Some of the cut was dropped unread (a flood), so its line count is a lower bound. */
  cutLinesAtLeast?: boolean;
  /** Raw stdout/stderr bytes consumed (complete lines only). */
  offsets: { stdout: number; stderr: number };
  /** The log is complete: output.log holds head, marker and tail. */
  finalized?: boolean;
}

export const LOG_FILE = 'output.log';
/** The state as one JSON line, then the tail's bytes: one file, replaced in one rename. */
const STATE_FILE = 'log-state';

export function cutMarker(bytes: number, lines: number, atLeast = false): string {
  const count = atLeast ? (lines > 0 ? ` (at least ${lines} lines)` : '') : ` (${lines} lines)`;
  return `\n[agentmgr: ${bytes} bytes${count} cut from the middle of this log]\n\n`;
}

/**
 * An attempt's readable log with a size cap: the first `headBytes` go to output.log as they come;
 * past that, only the last `tailBytes` are kept and the cut is marked when the attempt ends.
 *
 * Crash safety: the state (how much raw output was consumed, how long the head is, and the tail)
 * is saved in one file with one rename. A Manager that reopens the log cuts output.log back to
 * the saved head, so the lines read again from the raw files after a crash are written once
 * only. `finalize` marks the state finalized after output.log is complete, so replaying the end
 * of an attempt writes nothing twice.
 */
export class AttemptLog {
  private state: LogState;
  private tail: Buffer[] = [];
  private tailSize = 0;
  private dirty = false;
  private fd: number;

  constructor(
    private readonly dir: string,
    private readonly caps: LogCaps,
  ) {
    mkdirSync(dir, { recursive: true });
    const saved = loadState(dir);
    this.state = saved.state;
    if (saved.tail.length > 0) {
      this.tail = [saved.tail];
      this.tailSize = saved.tail.length;
    }
    this.fd = openSync(join(dir, LOG_FILE), 'a');
    // What was appended after the last save is read again from the raw files.
    if (!this.state.finalized && fstatSync(this.fd).size > this.state.headBytes) ftruncateSync(this.fd, this.state.headBytes);
  }

  get offsets(): Readonly<LogState['offsets']> {
    return this.state.offsets;
  }

  /** The log was completed by an earlier end of this attempt. */
  get finalized(): boolean {
    return this.state.finalized === true;
  }

  setOffset(stream: keyof LogState['offsets'], offset: number): void {
    if (this.state.offsets[stream] === offset) return;
    this.state.offsets[stream] = offset;
    this.dirty = true;
  }

  private get cutting(): boolean {
    return this.tail.length > 0 || this.state.cutBytes > 0;
  }

  /** Appends whole lines (each ending in \n). */
  append(text: string): void {
    let buf = Buffer.from(text);
    this.dirty = true;
    if (!this.cutting) {
      const room = this.caps.headBytes - this.state.headBytes;
      // As many whole lines as fit in the head.
      const cut = buf.length <= room ? buf.length : buf.lastIndexOf(10, room - 1) + 1;
      if (cut > 0) {
        writeSync(this.fd, buf, 0, cut);
        this.state.headBytes += cut;
        buf = buf.subarray(cut);
      }
      if (buf.length === 0) return;
    }
    this.tail.push(buf);
    this.tailSize += buf.length;
    // Drop from the front, at line boundaries, down to the tail's size.
    while (this.tailSize > this.caps.tailBytes && this.tail.length > 0) {
      const first = this.tail[0]!;
      const excess = this.tailSize - this.caps.tailBytes;
      let drop = first.length;
      if (first.length > excess) {
        const nl = first.indexOf(10, excess - 1);
        if (nl >= 0 && nl + 1 < first.length) drop = nl + 1;
      }
      this.cut(first.subarray(0, drop));
      this.tailSize -= drop;
      if (drop === first.length) this.tail.shift();
      else this.tail[0] = first.subarray(drop);
    }
  }

  /**
   * Output that was dropped unread (a flood): counted in the cut middle. The tail keeps what it
   * holds (the other stream's recent lines among them), so nothing already read is lost.
   */
  dropped(bytes: number): void {
    if (bytes <= 0) return;
    this.state.cutBytes += bytes;
    this.state.cutLinesAtLeast = true;
    this.dirty = true;
  }

  private cut(b: Buffer): void {
    this.state.cutBytes += b.length;
    this.state.cutLines += countLines(b);
  }

  /** Saves the tail and the consumed offsets, if they changed. */
  flush(): void {
    if (!this.dirty) return;
    saveState(this.dir, this.state, Buffer.concat(this.tail));
    this.dirty = false;
  }

  /** Writes the cut marker and the tail into output.log and marks the log complete. */
  finalize(): void {
    if (!this.state.finalized) {
      if (this.state.cutBytes > 0) writeSync(this.fd, cutMarker(this.state.cutBytes, this.state.cutLines, this.state.cutLinesAtLeast));
      if (this.tail.length > 0) writeSync(this.fd, Buffer.concat(this.tail));
      this.state.finalized = true;
      this.state.headBytes = fstatSync(this.fd).size;
      saveState(this.dir, this.state, Buffer.alloc(0));
    }
    closeSync(this.fd);
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

const emptyState = (): LogState => ({ headBytes: 0, cutBytes: 0, cutLines: 0, offsets: { stdout: 0, stderr: 0 } });

function saveState(dir: string, state: LogState, tail: Buffer): void {
  const tmp = join(dir, STATE_FILE + '.tmp');
  writeFileSync(tmp, Buffer.concat([Buffer.from(JSON.stringify(state) + '\n'), tail]));
  renameSync(tmp, join(dir, STATE_FILE));
}

function loadState(dir: string): { state: LogState; tail: Buffer } {
  let raw: Buffer;
  try {
    raw = readFileSync(join(dir, STATE_FILE));
  } catch {
    return { state: emptyState(), tail: Buffer.alloc(0) };
  }
  const nl = raw.indexOf(10);
  try {
    const state = JSON.parse(raw.toString('utf8', 0, nl < 0 ? raw.length : nl)) as LogState;
    if (typeof state.headBytes !== 'number' || typeof state.offsets?.stdout !== 'number') throw new Error('bad state');
    return { state, tail: nl < 0 ? Buffer.alloc(0) : raw.subarray(nl + 1) };
  } catch {
    return { state: emptyState(), tail: Buffer.alloc(0) };
  }
}

/** The log as a reader sees it, also while the attempt runs: head, then the cut marker and tail. */
export function readAttemptLog(dir: string): string {
  const head = existsSync(join(dir, LOG_FILE)) ? readFileSync(join(dir, LOG_FILE), 'utf8') : '';
  if (!existsSync(join(dir, STATE_FILE))) return head;
  const { state, tail } = loadState(dir);
  if (state.finalized) return head;
  // The head as last saved: a writer may be part way through appending to it.
  const saved = Buffer.from(head).subarray(0, state.headBytes).toString('utf8');
  return saved + (state.cutBytes > 0 ? cutMarker(state.cutBytes, state.cutLines, state.cutLinesAtLeast) : '') + tail.toString('utf8');
}
