import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../../helpers/fakes.js';
import { FAKE_NVIDIA_SMI, writeSmi } from '../../helpers/server.js';

/**
 * scripts/real-gpu-check.mjs is what a session lent a GPU machine runs (docs/real-gpu.md). It must
 * work the first time it meets a real GPU, so it is tried here against the fake nvidia-smi.
 */
const SCRIPT = fileURLToPath(new URL('../../../scripts/real-gpu-check.mjs', import.meta.url));
const t = tempDir();
afterAll(() => t.cleanup());
const UUID = 'GPU-5f1c2b7a-9d1e-4c33-8e0b-2a6f0c9d1e44';

function check(smiDir: string, out: string) {
  // --hold-mb 1 with no torch here: the holder does not start, and the check says so.
  return spawnSync(process.execPath, [SCRIPT, '--out', out, '--hold-mb', '1'], {
    env: { ...process.env, AGENTMGR_NVIDIA_SMI: FAKE_NVIDIA_SMI, FAKE_NVIDIA_SMI_DIR: smiDir },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('the real-GPU check script', () => {
  it('records the raw output, checks every field it parsed and passes on well-formed output', () => {
    const smi = join(t.dir, 'ok');
    mkdirSync(smi);
    writeSmi(
      smi,
      'gpus.csv',
      `0, ${UUID}, NVIDIA GeForce RTX 4060, 8188, 300, 7888, 12, 51, 35.10, 115.00\n1, GPU-2, NVIDIA RTX A2000, Laptop, 4096, 0, 4096, [N/A], 40, [N/A], [N/A]\n`,
    );
    const out = join(t.dir, 'out-ok');
    const r = check(smi, out);
    expect(r.stdout).toMatch(/all \d+ checks passed/);
    expect(r.status).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'real-gpu.json'), 'utf8')) as {
      checks: { name: string; ok: boolean }[];
      collector: { current: { gpus: { name: string; powerW: number | null }[] } };
    };
    expect(report.checks.map((c) => c.name)).toEqual(expect.arrayContaining(['GPU 0 totalMB', 'GPU 1 name', 'collector status ok']));
    expect(report.collector.current.gpus.map((g) => [g.name, g.powerW])).toEqual([
      ['NVIDIA GeForce RTX 4060', 35.1],
      ['NVIDIA RTX A2000, Laptop', null],
    ]);
    expect(readFileSync(join(out, 'real-gpu.txt'), 'utf8')).toContain(`0, ${UUID}, NVIDIA GeForce RTX 4060, 8188, 300, 7888`);
  });

  it('fails, naming what, when nvidia-smi prints errors', () => {
    const smi = join(t.dir, 'bad');
    mkdirSync(smi);
    writeSmi(smi, 'fail', "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n");
    const r = check(smi, join(t.dir, 'out-bad'));
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/FAIL --query-gpu exits 0/);
    expect(r.stdout).toMatch(/FAIL collector status ok: .*couldn't communicate with the NVIDIA driver/);
  });
});
