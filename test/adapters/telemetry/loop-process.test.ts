import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLive, readProcStat } from '../../../src-main/adapters/process/proc-stat.js';
import { LoopProcess, type LoopExit } from '../../../src-main/adapters/telemetry/loop-process.js';
import { tempDir } from '../../helpers/fakes.js';
import { FAKE_NVIDIA_SMI, writeSmi } from '../../helpers/server.js';
import { waitFor } from '../../helpers/wait.js';

/**
 * Issue 10, defect 13: the loop wrapper lost track of a restarted nvidia-smi. The old child's
 * exit, arriving after restart, cleared the reference to the new one: a false failure was
 * reported, and the new child was never stopped (it outlived the test, and the Manager).
 */
const t = tempDir();
afterAll(() => t.cleanup());
const QUERY = [
  '--query-gpu=index,uuid,name,memory.total,memory.used,memory.free,utilization.gpu,temperature.gpu,power.draw,power.limit',
  '--format=csv,noheader,nounits',
  '-lms',
  '50',
];
const alive = (pid: number): boolean => {
  const st = readProcStat(pid);
  return st !== null && isLive(st);
};

describe('LoopProcess', () => {
  it('a restart (stop, then start at once) leaves one child; only its exit counts; stop ends every child', async () => {
    const dir = join(t.dir, 'restart');
    mkdirSync(dir);
    writeSmi(dir, 'gpus.csv', '0, GPU-1, NVIDIA GeForce RTX 4060, 8188, 300, 7888, 12, 51, 35.10, 115.00\n');
    const prev = process.env.FAKE_NVIDIA_SMI_DIR;
    process.env.FAKE_NVIDIA_SMI_DIR = dir;
    const exits: LoopExit[] = [];
    let lines = 0;
    const loop = new LoopProcess(
      FAKE_NVIDIA_SMI,
      QUERY,
      () => lines++,
      (e) => exits.push(e),
    );
    try {
      loop.start();
      await waitFor(() => lines > 0, 'the first sample');
      loop.stop();
      loop.start(); // the old child's exit arrives after this
      const starts = () =>
        readFileSync(join(dir, 'starts'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => Number(l.split(' ')[0]));
      await waitFor(() => starts().length === 2 && !alive(starts()[0]!), 'the old child to exit');
      // Its pipe closes when its last sleep ends: by the new child's fifth sample, long after.
      const seen = lines;
      await waitFor(() => lines >= seen + 5 || exits.length > 0, 'five samples of the new child');
      expect(loop.running).toBe(true); // the old exit did not clear the new child
      expect(exits).toEqual([]); // nor report a failure
      loop.stop();
      await waitFor(() => starts().every((p) => !alive(p)), 'every child to be gone');
      expect(exits).toEqual([]);
    } finally {
      loop.stop(0);
      process.env.FAKE_NVIDIA_SMI_DIR = prev;
    }
  });
});
