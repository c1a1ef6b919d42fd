import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAppsCsv, parseGpuCsv } from '../../../src-main/adapters/telemetry/nvidia-smi-parser.js';
import { queryGpus } from '../../../src-main/adapters/telemetry/system-telemetry.js';
import { tempDir } from '../../helpers/fakes.js';

const FAKE = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'fixtures', 'nvidia-smi', 'nvidia-smi');

// As printed by a real driver for an RTX 4060 (csv,noheader,nounits).
const RTX4060 = '0, GPU-5f1c2b7a-9d1e-4c33-8e0b-2a6f0c9d1e44, NVIDIA GeForce RTX 4060, 8188, 1403, 6553, 7, 46, 18.63, 115.00\n';
const APPS = 'GPU-5f1c2b7a-9d1e-4c33-8e0b-2a6f0c9d1e44, 2211, /usr/lib/firefox/firefox, 412\nGPU-5f1c2b7a-9d1e-4c33-8e0b-2a6f0c9d1e44, 3120, python3, [N/A]\n';

describe('nvidia-smi parsers', () => {
  it('parses an RTX 4060', () => {
    expect(parseGpuCsv(RTX4060)).toEqual({
      rows: [{ index: 0, uuid: 'GPU-5f1c2b7a-9d1e-4c33-8e0b-2a6f0c9d1e44', name: 'NVIDIA GeForce RTX 4060', totalMB: 8188, usedMB: 1403, freeMB: 6553, utilizationPct: 7, temperatureC: 46, powerW: 18.63, powerLimitW: 115 }],
      problems: [],
    });
  });
  it('treats [N/A] and [Not Supported] as no reading, and keeps names with ", "', () => {
    const r = parseGpuCsv('1, GPU-x, Tesla T4, Rev 2, 15360, 0, 15360, [N/A], [Not Supported], [N/A], 70.00\n');
    expect(r.rows[0]).toMatchObject({ index: 1, name: 'Tesla T4, Rev 2', utilizationPct: null, temperatureC: null, powerW: null, powerLimitW: 70 });
  });
  it('reports error text as problems, not rows', () => {
    const r = parseGpuCsv("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n");
    expect(r.rows).toEqual([]);
    expect(r.problems[0]).toMatch(/couldn't communicate/);
  });
  it('parses compute apps, with [N/A] memory as null', () => {
    expect(parseAppsCsv(APPS).rows).toEqual([
      { gpuUuid: 'GPU-5f1c2b7a-9d1e-4c33-8e0b-2a6f0c9d1e44', pid: 2211, name: '/usr/lib/firefox/firefox', usedMB: 412 },
      { gpuUuid: 'GPU-5f1c2b7a-9d1e-4c33-8e0b-2a6f0c9d1e44', pid: 3120, name: 'python3', usedMB: null },
    ]);
    expect(parseAppsCsv('No running processes found\n')).toEqual({ rows: [], problems: [] });
  });
});

describe('queryGpus against the fake nvidia-smi', () => {
  const t = tempDir();
  afterAll(() => t.cleanup());
  process.env.FAKE_NVIDIA_SMI_DIR = t.dir;
  mkdirSync(t.dir, { recursive: true });

  it('reads GPUs and attributes each process to its process group', async () => {
    writeFileSync(join(t.dir, 'gpus.csv'), RTX4060);
    writeFileSync(join(t.dir, 'apps.csv'), `GPU-5f1c2b7a-9d1e-4c33-8e0b-2a6f0c9d1e44, ${process.pid}, node, 300\n`);
    const r = await queryGpus(FAKE);
    expect(r.status).toEqual({ state: 'ok', message: null });
    expect(r.gpus[0]).toMatchObject({ totalMB: 8188, usedMB: 1403, processes: [{ pid: process.pid, name: 'node', usedMB: 300, pgid: expect.any(Number) }] });
  });

  it.each([
    ['missing binary', '/nonexistent/nvidia-smi', null, 'absent', /not found/],
    ['driver mismatch', FAKE, 'Failed to initialize NVML: Driver/library version mismatch\n', 'error', /Driver\/library version mismatch/],
    ['no devices', FAKE, 'No devices were found\n', 'absent', /found no NVIDIA GPU/],
  ])('%s is a status, never an exception', async (_n, bin, fail, state, message) => {
    rmSync(join(t.dir, 'fail'), { force: true });
    if (fail) writeFileSync(join(t.dir, 'fail'), fail);
    const r = await queryGpus(bin);
    expect(r.gpus).toEqual([]);
    expect(r.status.state).toBe(state);
    expect(r.status.message).toMatch(message);
    rmSync(join(t.dir, 'fail'), { force: true });
  });
});
