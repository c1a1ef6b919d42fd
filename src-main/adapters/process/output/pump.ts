import { spawn } from 'node:child_process';
import { closeSync, constants as fsc, existsSync, fstatSync, ftruncateSync, openSync, readSync } from 'node:fs';
import { LineSplitter, type SplitLine } from './lines.js';

export interface PumpLimits {
  /** Bytes read at a time. */
  chunkBytes: number;
  /** Most bytes read from one stream per look, so one flooding agent cannot starve the event loop. */
  budgetBytes: number;
  /** Once this much of a raw file has been read, its disk space is given back (see Reclaimer). */
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

/**
 * Gives back the disk blocks of bytes [from, to) of a file that is still being appended to,
 * without changing its length or what any later write lands on; `done(false)` where the file
 * system (or the platform) cannot. Unlike emptying the file, no write can ever be lost to it.
 */
export type Reclaimer = (file: string, from: number, to: number, done: (ok: boolean) => void) => void;

/** Set once `fallocate` turned out not to be there: no stream tries it again. */
let noFallocate = process.platform !== 'linux';

/** Punches a hole with util-linux's `fallocate` (FALLOC_FL_PUNCH_HOLE; ext4, xfs, btrfs, tmpfs…). */
export const punchHole: Reclaimer = (file, from, to, done) => {
  if (noFallocate) return done(false);
  let settled = false;
  const end = (ok: boolean): void => {
    if (settled) return;
    settled = true;
    done(ok);
  };
  const p = spawn('fallocate', ['--punch-hole', '--offset', String(from), '--length', String(to - from), file], { stdio: 'ignore' });
  p.on('error', () => {
    noFallocate = true;
    end(false);
  });
  p.on('exit', (code) => end(code === 0));
};

/**
 * One read buffer per size for every stream: a read is synchronous and the splitter copies what
 * it keeps, so no stream needs its own (a megabyte each, twice per attempt, was a tenth of an
 * attempt's cost in allocation and garbage collection).
 */
const readBuffers = new Map<number, Buffer>();
function readBuffer(bytes: number): Buffer {
  let b = readBuffers.get(bytes);
  if (!b) readBuffers.set(bytes, (b = Buffer.allocUnsafe(bytes)));
  return b;
}

export interface PumpSink {
  /** The lines of one chunk (never more than about a chunk's worth at once). */
  lines(lines: SplitLine[]): void;
  /** Output was dropped unread (a flood): `bytes` of it. */
  dropped(bytes: number): void;
}

/**
 * One raw output file of an agent (stdout.raw or stderr.raw), read from where the last look
 * stopped. Every look does bounded work and holds bounded memory; nothing ever builds one string
 * of everything that is left.
 *
 * What was read is given back to the disk by punching a hole over it (see Reclaimer): the file
 * keeps its length, offsets never move, and nothing the agent writes can be lost. Where holes
 * cannot be punched, the file is emptied instead (the agent appends, O_APPEND, so its next write
 * lands at the new end); that is safe only when everything in it was read, and a write in the
 * instant between the last look at its size and the emptying is lost (see truncate).
 */
export class RawStream {
  private readonly splitter: LineSplitter;
  private readonly buf: Buffer;
  /** Bytes at the start of the file whose blocks were given back. */
  private reclaimed = 0;
  private punching: Promise<void> | null = null;

  private constructor(
    readonly name: 'stdout' | 'stderr',
    private readonly file: string,
    private fd: number | null,
    private readPos: number,
    private readonly limits: PumpLimits,
    /** null: empty the file instead (holes cannot be punched here). */
    private reclaimer: Reclaimer | null,
  ) {
    this.splitter = new LineSplitter(limits.maxLineBytes);
    this.buf = readBuffer(limits.chunkBytes);
  }

  /** Opens the stream's file, if it exists, to read from `offset`. */
  static open(file: string, name: 'stdout' | 'stderr', offset: number, limits: PumpLimits, reclaimer: Reclaimer | null = punchHole): RawStream | null {
    if (!existsSync(file)) return null;
    return new RawStream(name, file, openSync(file, fsc.O_RDWR), offset, limits, reclaimer);
  }

  /** Resolves once no hole is being punched (tests wait on it). */
  async settled(): Promise<void> {
    while (this.punching) await this.punching;
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
    } else if (this.reclaimer) this.punch();
    else if (this.readPos >= this.limits.rotateBytes) this.truncate(fd, readChunk, writerAlive, sink);
    return total;
  }

  /** Gives back what was read once it is rotateBytes, one hole at a time (a hole is never over unread bytes). */
  private punch(): void {
    const reclaimer = this.reclaimer;
    if (!reclaimer || this.punching || this.readPos - this.reclaimed < this.limits.rotateBytes) return;
    const from = this.reclaimed;
    const to = this.readPos;
    this.punching = new Promise((resolve) =>
      reclaimer(this.file, from, to, (ok) => {
        this.punching = null;
        if (ok) this.reclaimed = Math.max(this.reclaimed, to);
        else this.reclaimer = null; // not here: empty the file from now on
        resolve();
      }),
    );
  }

  /**
   * Empties the file once enough of it was read, where holes cannot be punched. Only when
   * everything in it has been read: the rest is read first if it fits in a few reads. When the
   * agent outran the reader (the file passes rotate + backlog while the agent lives), the middle
   * is dropped, the newest part read (the agent may have written its last words and stopped) and
   * the file emptied if that caught up; only if the agent still writes faster than that is the
   * unread rest dropped with the emptying, and its last words, still to come, land in the emptied
   * file. Either way a write in the instant between the last look at the size and the emptying is
   * lost unseen.
   */
  private truncate(fd: number, readChunk: () => number, writerAlive: () => boolean, sink: PumpSink): void {
    const room = 4 * this.limits.chunkBytes;
    let size = fstatSync(fd).size;
    const behind = size - this.readPos > room;
    if (behind) {
      if (size < this.limits.rotateBytes + this.limits.maxBacklogBytes || !writerAlive()) return;
      const from = size - room;
      this.interrupt(sink, from - this.readPos);
      this.readPos = from;
    }
    const end = size + room;
    while (this.readPos < end && readChunk() > 0);
    size = fstatSync(fd).size;
    if (size === this.readPos || behind) {
      if (size > this.readPos) this.interrupt(sink, size - this.readPos);
      ftruncateSync(fd, 0);
      this.readPos = 0;
    }
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
