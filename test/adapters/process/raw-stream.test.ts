import { appendFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RawStream, type PumpLimits } from '../../../src-main/adapters/process/output/pump.js';
import type { SplitLine } from '../../../src-main/adapters/process/output/lines.js';
import { tempDir } from '../../helpers/fakes.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const MB = 1024 * 1024;
const limits: PumpLimits = { chunkBytes: MB / 4, budgetBytes: MB, rotateBytes: MB, maxBacklogBytes: 2 * MB, maxLineBytes: 8 * 1024 };
let n = 0;

/** A raw file and a reader of it; `during` runs once, while the first look reads (the agent writing on). */
function reader(reclaim: 'punch' | 'truncate', during?: (file: string) => void) {
  const file = join(tmp.dir, `raw-${++n}`);
  writeFileSync(file, '');
  const stream = RawStream.open(file, 'stdout', 0, limits, reclaim === 'truncate' ? null : undefined)!;
  const lines: string[] = [];
  let dropped = 0;
  let once = during;
  const sink = {
    lines: (ls: SplitLine[]) => {
      for (const l of ls) lines.push(l.text);
      const f = once;
      once = undefined;
      f?.(file);
    },
    dropped: (b: number) => (dropped += b),
  };
  return { file, stream, lines, sink, dropped: () => dropped };
}
const filler = (bytes: number): string => 'a line of output that repeats\n'.repeat(Math.ceil(bytes / 30)).slice(0, bytes - 1) + '\n';

describe('a raw output file read while the agent writes', () => {
  it.each(['punch', 'truncate'] as const)(
    'the last words, written at the end of a flood that outran the reader, survive the file being reclaimed (%s)',
    async (mode) => {
      const r = reader(mode, (file) => appendFileSync(file, filler(4 * MB) + '{"result":1}\nLAST\n'));
      appendFileSync(r.file, filler(MB / 2));
      // The agent wrote its last words and then stopped writing, but its leader still lives.
      for (let i = 0; i < 20; i++) {
        r.stream.pump(false, r.sink, () => true);
        await r.stream.settled();
      }
      r.stream.pump(true, r.sink, () => false);
      r.stream.close();
      expect(r.lines.slice(-2)).toEqual(['{"result":1}', 'LAST']);
    },
  );

  it('a punched file keeps its length but not its blocks, and what was read is never read again', async () => {
    const r = reader('punch');
    appendFileSync(r.file, filler((7 * MB) / 4) + 'END\n');
    const before = statSync(r.file).blocks;
    for (let i = 0; i < 3; i++) {
      r.stream.pump(false, r.sink, () => true);
      await r.stream.settled();
    }
    const st = statSync(r.file);
    expect(st.size).toBeGreaterThan((7 * MB) / 4);
    expect(before * 512).toBeGreaterThan((7 * MB) / 4);
    expect(st.blocks * 512).toBeLessThan(MB);
    appendFileSync(r.file, 'MORE\n');
    r.stream.pump(true, r.sink, () => false);
    r.stream.close();
    expect(r.lines.filter((l) => l === 'END' || l === 'MORE')).toEqual(['END', 'MORE']);
    expect(r.dropped()).toBe(0);
  });
});
