import { closeSync, constants as fsc, existsSync, fstatSync, ftruncateSync, openSync, readSync } from 'node:fs';
import { LineSplitter, type SplitLine } from './lines.js';

export interface PumpLimits {
  /** Bytes read at a time. */
  chunkBytes: number;
  /** Most bytes read from one stream per look, so one flooding agent cannot starve the event loop. */
  budgetBytes: number;
  /** Once this much of a raw file has been read, the file is emptied (the agent appends to it). */
  rotateBytes: number;
  /**
   * Most unread bytes a raw file may hold. Past that the agent writes faster than it can be read
   * (or it ran unwatched): the oldest unread bytes are dropped, so disk and work stay bounded.
   */
  maxBacklogBytes: number;
  /** Longer lines keep their head, and the rest is dropped (see LineSplitter). */
  maxLineBytes: number;
}

export const DEFAULT_PUMP_LIMITS: PumpLimits = {
  chunkBytes: 1024 * 1024,
  budgetBytes: 8 * 1024 * 1024,
  rotateBytes: 8 * 1024 * 1024,
  maxBacklogBytes: 16 * 1024 * 1024,
  maxLineBytes: 1024 * 1024,
};

export interface PumpSink {
  /** The lines of one chunk (never more than about a chunk's worth at once). */
  lines(lines: SplitLine[]): void;
  /** Output was dropped unread (a flood): `bytes` of it. */
  dropped(bytes: number): void;
}

/**
 * One raw output file of an agent (stdout.raw or stderr.raw), read from where the last look
 * stopped. The agent appends (O_APPEND), so emptying the file under it is safe: its next write
 * lands at the new end. Every look does bounded work and holds bounded memory; nothing ever
 * builds one string of everything that is left.
 */
export class RawStream {
  private readonly splitter: LineSplitter;
  private readonly buf: Buffer;

  private constructor(
    readonly name: 'stdout' | 'stderr',
    private fd: number | null,
    private readPos: number,
    private readonly limits: PumpLimits,
  ) {
    this.splitter = new LineSplitter(limits.maxLineBytes);
    this.buf = Buffer.allocUnsafe(limits.chunkBytes);
  }

  /** Opens the stream's file, if it exists, to read from `offset`. */
  static open(file: string, name: 'stdout' | 'stderr', offset: number, limits: PumpLimits): RawStream | null {
    if (!existsSync(file)) return null;
    return new RawStream(name, openSync(file, fsc.O_RDWR), offset, limits);
  }

  /** Where a later reader should start so that no whole line is lost (the unfinished one is read again). */
  get resumeOffset(): number {
    return Math.max(0, this.readPos - this.splitter.pendingBytes);
  }

  /**
   * Reads what arrived since the last look, within the budget (all of it when `final`, the
   * agent having ended), and hands the lines to the sink. `writerAlive` says whether the agent
   * may still write (see rotate). Returns the bytes read.
   */
  pump(final: boolean, sink: PumpSink, writerAlive: () => boolean = () => true): number {
    if (this.fd === null) return 0;
    const fd = this.fd;
    const size = fstatSync(fd).size;
    if (size < this.readPos) this.readPos = 0; // emptied by someone else: start over
    let budget = final ? Number.POSITIVE_INFINITY : this.limits.budgetBytes;
    let total = 0;
    const readChunk = (): number => {
      const n = readSync(fd, this.buf, 0, this.buf.length, this.readPos);
      if (n <= 0) return 0;
      this.readPos += n;
      total += n;
      const lines: SplitLine[] = [];
      this.splitter.feed(this.buf.subarray(0, n), (l) => lines.push(l));
      if (lines.length > 0) sink.lines(lines);
      return n;
    };
    if (size - this.readPos > this.limits.maxBacklogBytes) {
      // Too far behind. Half the budget continues where reading stopped (the head of the log
      // fills from there), the rest goes to the newest part: what ends the output (a result,
      // the last words) matters most. The middle is dropped.
      const half = Math.floor(Math.min(this.limits.budgetBytes, this.limits.maxBacklogBytes) / 2);
      const frontEnd = this.readPos + half;
      while (this.readPos < frontEnd && readChunk() > 0);
      const from = Math.max(this.readPos, size - half);
      this.interrupt(sink, from - this.readPos);
      this.readPos = from;
      if (!final) budget = half;
    }
    while (budget > 0) {
      const n = readChunk();
      if (n <= 0) break;
      budget -= n;
    }
    if (final) {
      const last: SplitLine[] = [];
      this.splitter.end((l) => last.push(l));
      if (last.length > 0) sink.lines(last);
    } else if (this.readPos >= this.limits.rotateBytes) this.rotate(fd, readChunk, writerAlive, sink);
    return total;
  }

  /**
   * Empties the file once enough of it was read. Normally only when everything in it has been
   * read: the rest is read first if it fits in a few reads, else rotation waits for a later look.
   * When the agent outruns the reader for good (the file passes rotate + backlog while the agent
   * lives), the unread part is dropped with a truncation right after a look at the size, so only
   * what is written in that instant can be lost unseen; what the agent writes next (its result,
   * its last words) lands in the emptied file and is read.
   */
  private rotate(fd: number, readChunk: () => number, writerAlive: () => boolean, sink: PumpSink): void {
    let size = fstatSync(fd).size;
    if (size - this.readPos <= 4 * this.limits.chunkBytes) {
      while (this.readPos < size && readChunk() > 0);
      size = fstatSync(fd).size;
      if (size === this.readPos) {
        ftruncateSync(fd, 0);
        this.readPos = 0;
      }
      return;
    }
    if (size < this.limits.rotateBytes + this.limits.maxBacklogBytes || !writerAlive()) return;
    const at = fstatSync(fd).size;
    ftruncateSync(fd, 0);
    this.interrupt(sink, at - this.readPos);
    this.readPos = 0;
  }

  /** `bytes` are dropped unread: the line in progress ends, marked, and the drop is reported. */
  private interrupt(sink: PumpSink, bytes: number): void {
    const partial = this.splitter.interrupt();
    if (partial) sink.lines([partial]);
    sink.dropped(bytes);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
