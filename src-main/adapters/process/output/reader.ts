import { join } from 'node:path';
import type { RunListener } from '../../../core/ports.js';
import type { AttemptLog } from '../attempt-log.js';
import { parseOutputLine } from '../output-parser.js';
import { checkArtifact } from './artifact.js';
import type { SplitLine } from './lines.js';
import { RawStream, type PumpLimits } from './pump.js';

const RECENT_LOG_CHARS = 64 * 1024;
/** Log text handed on at once: a chunk's lines, in pieces no larger than this. */
const LOG_PIECE_CHARS = 256 * 1024;

export interface OutputReaderOptions {
  dir: string;
  artifactsDir: string;
  limits: PumpLimits;
  /** The attempt's log (made when the run starts or is adopted). */
  log: () => AttemptLog;
  listener: RunListener;
  /** Whether the agent's leader still lives: a raw file it outruns is emptied only then. */
  leaderAlive: () => boolean;
}

/**
 * One run's output: its raw stdout and stderr files read in bounded work (see RawStream), whole
 * lines turned into events (progress, results, artifacts, checked) and log text, in output order.
 */
export class OutputReader {
  private streams: RawStream[] = [];
  /** The end of the log, to look for out-of-memory messages when the run fails. */
  recent = '';
  /** Its last line on stderr (trimmed, at most 300 characters), to say why a failed run failed. */
  lastStderr = '';

  constructor(private readonly o: OutputReaderOptions) {}

  open(offsets: { stdout: number; stderr: number }): void {
    for (const name of ['stdout', 'stderr'] as const) {
      const s = RawStream.open(join(this.o.dir, `${name}.raw`), name, offsets[name], this.o.limits);
      if (s) this.streams.push(s);
    }
  }

  close(): void {
    for (const s of this.streams) s.close();
    this.streams = [];
  }

  /** Reads what the agent wrote since the last look, within bounds (see RawStream). */
  pump(final: boolean): void {
    for (const s of this.streams) {
      s.pump(
        final,
        {
          lines: (lines) => this.lines(s.name, lines),
          dropped: (bytes) => {
            this.o.log().dropped(bytes);
            this.o.listener({
              type: 'log',
              text: `[agentmgr] ${bytes} bytes of ${s.name} dropped unread: the agent writes faster than its output can be read\n`,
            });
          },
        },
        () => this.o.leaderAlive(),
      );
      this.o.log().setOffset(s.name, s.resumeOffset);
    }
  }

  /** Turns whole lines into events and log text, handing the log text on in bounded pieces. */
  private lines(stream: 'stdout' | 'stderr', lines: readonly SplitLine[]): void {
    let log = '';
    const add = (text: string): void => {
      log += text;
      if (log.length >= LOG_PIECE_CHARS) {
        this.emitLog(log);
        log = '';
      }
    };
    for (const { text: line, cutBytes, interrupted } of lines) {
      const cutNote = interrupted
        ? ' [agentmgr: the rest of this line was cut with output dropped unread]'
        : cutBytes > 0
          ? ` [agentmgr: ${cutBytes} more bytes of this line cut]`
          : '';
      if (stream === 'stderr' && line.trim()) this.lastStderr = line.trim().slice(0, 300);
      if (stream === 'stderr' || cutNote) {
        add(line + cutNote + '\n');
        continue;
      }
      const parsed = parseOutputLine(line);
      if (parsed.kind === 'log') {
        add(line + '\n');
        if (parsed.problem) add(`[agentmgr] ignored a ${parsed.problem}\n`);
        continue;
      }
      const ev = parsed.event;
      if (ev.type === 'log') add(ev.message + '\n');
      else if (ev.type === 'artifact') {
        const a = checkArtifact(this.o.artifactsDir, ev.path, ev.name);
        if (typeof a === 'string') add(`[agentmgr] ignored artifact: ${a}\n`);
        else {
          if (log) this.emitLog(log);
          log = '';
          this.o.listener({ type: 'artifact', ...a });
        }
      } else {
        // Events keep their place among the log lines.
        if (log) this.emitLog(log);
        log = '';
        this.o.listener(ev);
      }
    }
    if (log) this.emitLog(log);
  }

  emitLog(text: string): void {
    // Only the end is kept, and never a slice of a large string (which would keep all of it alive).
    this.recent = (this.recent + (text.length > RECENT_LOG_CHARS ? text.slice(-RECENT_LOG_CHARS) : text)).slice(-RECENT_LOG_CHARS);
    this.o.log().append(text);
    this.o.listener({ type: 'log', text });
  }
}
