/**
 * Splits an agent's raw output into lines with bounded memory and linear work, whatever it
 * writes: a line longer than `maxLineBytes` keeps its head, and the rest of it (up to the next
 * newline) is only counted; binary output is just lines of odd bytes.
 *
 * Invariants: the carry (an unfinished line) never holds more than `maxLineBytes`; each byte fed
 * is searched for a newline once (the carry is never searched again).
 */
export interface SplitLine {
  /** The line without its newline (its head, if it was cut). */
  text: string;
  /** Bytes dropped from its end (0 if it was whole). */
  cutBytes: number;
  /** Its end was lost with output dropped unread (a flood), so cutBytes is a lower bound. */
  interrupted?: boolean;
}

export class LineSplitter {
  private carry: Buffer[] = [];
  private carryBytes = 0;
  /** Bytes of the current line past the cap, dropped while looking for its end. */
  private skipped = 0;
  /** Skipping to the next newline without keeping anything (after output was dropped mid-line). */
  private resync = false;

  constructor(readonly maxLineBytes: number) {}

  /** Bytes held for a line not finished yet. */
  get pendingBytes(): number {
    return this.carryBytes;
  }

  /**
   * Output is about to be dropped: the unfinished line ends here (returned, its head kept, if it
   * had begun), and what comes next starts mid-line, so it is skipped up to its newline.
   */
  interrupt(): SplitLine | null {
    const partial = this.carryBytes > 0 || this.skipped > 0 ? { ...this.take(), interrupted: true } : null;
    this.resync = true;
    return partial;
  }

  /** Feeds a chunk; `onLine` gets each line it completes. */
  feed(chunk: Buffer, onLine: (line: SplitLine) => void): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      if (this.resync) {
        // The rest of a line whose start was dropped: nothing of it is kept.
        if (nl < 0) return;
        this.resync = false;
        start = nl + 1;
        continue;
      }
      this.keep(chunk, start, nl < 0 ? chunk.length : nl);
      if (nl < 0) return;
      onLine(this.take());
      start = nl + 1;
    }
  }

  /** The unfinished last line, if any (at the very end of the output). */
  end(onLine: (line: SplitLine) => void): void {
    if (this.resync) {
      this.resync = false;
      return;
    }
    if (this.carryBytes > 0 || this.skipped > 0) onLine(this.take());
  }

  private keep(chunk: Buffer, start: number, end: number): void {
    const room = this.maxLineBytes - this.carryBytes;
    const len = end - start;
    if (len <= room) {
      if (len > 0) this.push(chunk.subarray(start, end));
      return;
    }
    if (room > 0) this.push(chunk.subarray(start, start + room));
    this.skipped += len - Math.max(0, room);
  }

  private push(b: Buffer): void {
    // A copy: the caller reuses its read buffer.
    this.carry.push(Buffer.from(b));
    this.carryBytes += b.length;
  }

  private take(): SplitLine {
    const buf = this.carry.length === 1 ? this.carry[0]! : Buffer.concat(this.carry, this.carryBytes);
    const line = { text: cleanHead(buf, this.skipped > 0), cutBytes: this.skipped };
    this.carry = [];
    this.carryBytes = 0;
    this.skipped = 0;
    return line;
  }
}

/** A cut line's head may end in the middle of a UTF-8 sequence: drop that partial character. */
function cleanHead(buf: Buffer, cut: boolean): string {
  if (!cut) return buf.toString('utf8');
  let end = buf.length;
  let back = 0;
  while (end - back - 1 >= 0 && back < 3 && (buf[end - back - 1]! & 0xc0) === 0x80) back++;
  const lead = buf[end - back - 1];
  if (lead !== undefined && lead >= 0xc0) {
    const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    if (back + 1 < need) end -= back + 1;
  }
  return buf.toString('utf8', 0, end);
}
