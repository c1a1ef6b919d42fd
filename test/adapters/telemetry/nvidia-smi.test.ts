import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { NvidiaSmiCollector } from '../../../src-main/adapters/telemetry/nvidia-smi-collector.js';
import { parseAppsCsv, parseGpuCsv } from '../../../src-main/adapters/telemetry/nvidia-smi-parser.js';
import { writeSmi } from '../../helpers/fake-smi.js';
import { tempDir } from '../../helpers/fakes.js';
import { FAKE_NVIDIA_SMI } from '../../helpers/server.js';

// As printed by a real driver for an RTX 4060 (csv,noheader,nounits).
const UUID = 'GPU-5f1c2b7a-9d1e-4c33-8e0b-2a6f0c9d1e44';
const rtx4060 = (used: number, index = 0, uuid = UUID) => `${index}, ${uuid}, NVIDIA GeForce RTX 4060, 8188, ${used}, ${8188 - used}, 7, 46, 18.63, 115.00\n`;

describe('nvidia-smi parsers', () => {
  it('parses an RTX 4060', () => {
    expect(parseGpuCsv(rtx4060(1403))).toEqual({
      rows: [
        {
          index: 0,
          uuid: UUID,
          name: 'NVIDIA GeForce RTX 4060',
          totalMB: 8188,
          usedMB: 1403,
          freeMB: 6785,
          utilizationPct: 7,
          temperatureC: 46,
          powerW: 18.63,
          powerLimitW: 115,
        },
      ],
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
  it('parses compute apps with their sample timestamp, [N/A] memory as null', () => {
    expect(
      parseAppsCsv(`2026/11/29 10:00:00.123, ${UUID}, 2211, /usr/lib/firefox/firefox, 412\n2026/11/29 10:00:00.123, ${UUID}, 3120, python3, [N/A]\n`).rows,
    ).toEqual([
      { timestamp: '2026/11/29 10:00:00.123', gpuUuid: UUID, pid: 2211, name: '/usr/lib/firefox/firefox', usedMB: 412 },
      { timestamp: '2026/11/29 10:00:00.123', gpuUuid: UUID, pid: 3120, name: 'python3', usedMB: null },
    ]);
  });
});

describe('NvidiaSmiCollector with the fake nvidia-smi in loop mode', () => {
  const t = tempDir();
  const dir = join(t.dir, 'smi');
  process.env.FAKE_NVIDIA_SMI_DIR = dir;
  let c: NvidiaSmiCollector | null = null;
  const write = (name: string, text: string) => writeSmi(dir, name, text);
  const until = async (cond: () => boolean, what: string, ms = 5000) => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(c?.current())}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const fresh = (binary = FAKE_NVIDIA_SMI, gpus = rtx4060(300)) => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    write('gpus.csv', gpus);
    process.env.FAKE_NVIDIA_SMI_DIR = dir;
    c = new NvidiaSmiCollector({ binary, intervalMs: 100, backoffMs: 100, maxBackoffMs: 400, staleMs: 600 });
    return c;
  };
  afterEach(() => c?.stop());
  afterAll(() => t.cleanup());

  it('one long-lived process per query, and foreign processes appearing and growing', async () => {
    const col = fresh();
    await col.start();
    expect(col.current().status).toEqual({ state: 'ok', message: null });
    expect(col.current().gpus[0]).toMatchObject({ index: 0, totalMB: 8188, usedMB: 300, processes: [] });
    write('apps.csv', `${UUID}, ${process.pid}, /usr/bin/node, 500\n`);
    write('gpus.csv', rtx4060(800));
    await until(() => col.current().gpus[0]?.processes?.length === 1 && col.current().gpus[0]!.usedMB === 800, 'the process to appear');
    expect(col.current().gpus[0]!.processes![0]).toEqual({ pid: process.pid, name: 'node', usedMB: 500, pgid: expect.any(Number) });
    write('apps.csv', `${UUID}, ${process.pid}, /usr/bin/node, 3000\n${UUID}, 1, game.exe, 200\n`);
    write('gpus.csv', rtx4060(3500));
    await until(() => col.current().gpus[0]!.usedMB === 3500 && col.current().gpus[0]!.processes!.length === 2, 'growth');
    // It went on sampling (three more samples) without starting new processes.
    let samples = 0;
    const off = col.subscribe(() => samples++);
    await until(() => samples >= 3, 'three more samples');
    off();
    expect(readFileSync(join(dir, 'starts'), 'utf8').trim().split('\n')).toHaveLength(2);
    expect(col.restarts).toBe(0);
  });

  it('two GPUs in one sample', async () => {
    const col = fresh();
    write('gpus.csv', rtx4060(100, 0, 'GPU-a') + rtx4060(5000, 1, 'GPU-b'));
    await col.start();
    await until(() => col.current().gpus.length === 2, 'both GPUs');
    expect(col.current().gpus.map((g) => [g.index, g.usedMB])).toEqual([
      [0, 100],
      [1, 5000],
    ]);
  });

  it('an error mid-stream: GPUs vanish from view, the status says why, it restarts with backoff and recovers', async () => {
    const col = fresh();
    await col.start();
    write('fail', 'Unable to determine the device handle for GPU 0000:01:00.0: GPU is lost.  Reboot the system to recover this GPU\n');
    await until(() => col.current().status.state === 'error', 'the error');
    expect(col.current().gpus).toEqual([]);
    expect(col.current().status.message).toMatch(/GPU is lost/);
    rmSync(join(dir, 'fail'));
    await until(() => col.current().status.state === 'ok', 'recovery');
    expect(col.restarts).toBeGreaterThan(0);
    expect(col.current().gpus).toHaveLength(1);
  });

  it('a driver mismatch at start is a status, never an exception', async () => {
    const col = fresh();
    write('fail', 'Failed to initialize NVML: Driver/library version mismatch\n');
    await col.start();
    expect(col.current()).toMatchObject({ gpus: [], status: { state: 'error', message: expect.stringMatching(/Driver\/library version mismatch/) } });
  });

  it('no devices, and a missing nvidia-smi, are "absent"', async () => {
    const col = fresh();
    write('fail', 'No devices were found\n');
    await col.start();
    expect(col.current().status).toMatchObject({ state: 'absent', message: expect.stringMatching(/found no NVIDIA GPU/) });
    col.stop();
    const none = fresh('/nonexistent/nvidia-smi');
    await none.start();
    expect(none.current().status).toMatchObject({ state: 'absent', message: expect.stringMatching(/nvidia-smi not found/) });
  });

  it('a stuck nvidia-smi is noticed, and restarted', async () => {
    const col = fresh();
    await col.start();
    write('hang', '');
    await until(() => col.current().status.state === 'error', 'the stale status');
    expect(col.current().status.message).toMatch(/stopped answering/);
    rmSync(join(dir, 'hang'));
    await until(() => col.current().status.state === 'ok', 'recovery', 8000);
  });

  it('garbage in the stream is reported and then left behind', async () => {
    const col = fresh();
    await col.start();
    // Every status the collector publishes, as it publishes it (the error lasts one sample).
    const seen: string[] = [];
    col.subscribe(() => seen.push(col.current().status.state));
    write('garbage', '\u0000\u0001 random noise from a broken driver\n');
    await until(() => seen.includes('error'), 'the garbage');
    await until(() => seen.lastIndexOf('ok') > seen.indexOf('error'), 'the next good sample');
  });

  it('"[N/A]" per-process memory (some drivers) is kept as no reading', async () => {
    const col = fresh();
    write('apps.csv', `${UUID}, 4242, python3, [N/A]\n`);
    await col.start();
    await until(() => (col.current().gpus[0]?.processes?.length ?? 0) === 1, 'the process');
    expect(col.current().gpus[0]!.processes![0]).toMatchObject({ pid: 4242, usedMB: null });
  });
  // As real machines print it (issue 10, 13).
  it('a GPU whose memory reads [N/A] is listed with its memory unknown, not taken for a failure', async () => {
    const col = fresh(FAKE_NVIDIA_SMI, `0, GPU-gb10, NVIDIA GB10, [N/A], [N/A], [N/A], 3, 41, 12.00, [N/A]\n${rtx4060(300, 1, 'GPU-b')}`);
    await col.start();
    await until(() => col.current().gpus.length === 2, 'both GPUs');
    const [gb10, other] = col.current().gpus;
    expect(gb10).toMatchObject({ index: 0, name: 'NVIDIA GB10', memoryUnknown: true, totalMB: 0, usedMB: 0 });
    expect(other).toMatchObject({ index: 1, totalMB: 8188, usedMB: 300 });
    expect(col.current().status).toEqual({
      state: 'ok',
      message: expect.stringMatching(/GPU 0 \(NVIDIA GB10\) does not report its memory.*nothing is scheduled on its VRAM/),
    });
  });

  it('one lost GPU among healthy ones is marked; the others are kept', async () => {
    const two = rtx4060(100, 0, 'GPU-a') + rtx4060(5000, 1, 'GPU-b');
    const col = fresh(FAKE_NVIDIA_SMI, two);
    await col.start();
    await until(() => col.current().gpus.length === 2, 'both GPUs');
    write(
      'gpus.csv',
      `${rtx4060(200, 0, 'GPU-a')}Unable to determine the device handle for GPU 0000:02:00.0: GPU is lost.  Reboot the system to recover this GPU\n`,
    );
    await until(() => col.current().gpus[1]?.lost === true, 'GPU 1 to be marked lost');
    expect(col.current().gpus[0]).toMatchObject({ index: 0, usedMB: 200 });
    // Nothing goes on a lost GPU: it reads as full.
    expect(col.current().gpus[1]).toMatchObject({ index: 1, lost: true, usedMB: 8188, freeMB: 0, processes: null });
    expect(col.current().status).toEqual({ state: 'ok', message: expect.stringMatching(/GPU is lost/) });
    write('gpus.csv', two);
    await until(() => col.current().gpus.every((g) => !g.lost) && col.current().status.message === null, 'recovery');
  });

  it('a warning line among healthy rows keeps every GPU and says it', async () => {
    const col = fresh(FAKE_NVIDIA_SMI, `WARNING: infoROM is corrupted at gpu 0000:01:00.0\n${rtx4060(300)}`);
    await col.start();
    await until(() => col.current().gpus.length === 1, 'the GPU');
    expect(col.current().status).toEqual({ state: 'ok', message: expect.stringMatching(/infoROM is corrupted/) });
  });

  it('"No supported GPUs were found" means no GPU, like "No devices were found"', async () => {
    const col = fresh(FAKE_NVIDIA_SMI, rtx4060(300));
    write('fail', 'No supported GPUs were found\n');
    await col.start();
    expect(col.current().status).toMatchObject({ state: 'absent', message: expect.stringMatching(/found no NVIDIA GPU/) });
  });

  it('a multi-line error keeps all its lines', async () => {
    const col = fresh(FAKE_NVIDIA_SMI, rtx4060(300));
    write('fail', 'Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 550.54\n');
    await col.start();
    expect(col.current().status.message).toMatch(/Driver\/library version mismatch.*NVML library version: 550\.54/);
  });

  it('compute apps stamped a few ms apart per GPU are one sample: no GPU loses its processes', async () => {
    const col = fresh(FAKE_NVIDIA_SMI, rtx4060(2000, 0, 'GPU-a') + rtx4060(3000, 1, 'GPU-b'));
    write('apps.csv', `GPU-a, ${process.pid}, /usr/bin/python3, 1500\nGPU-b, 1, /usr/bin/ollama, 2500\n`);
    write('stagger', '');
    await col.start();
    const both = () => col.current().gpus.map((g) => g.processes?.length ?? 0);
    await until(() => both().join() === '1,1', 'both GPUs to show their process');
    // Sample after sample, each GPU keeps its process.
    let samples = 0;
    let lost = 0;
    const off = col.subscribe(() => {
      samples++;
      if (both().join() !== '1,1') lost++;
    });
    await until(() => samples >= 8, 'eight more samples');
    off();
    expect(lost).toBe(0);
    // One GPU's process ends while the other's runs on: it drops out within a sample or two.
    write('apps.csv', `GPU-b, 1, /usr/bin/ollama, 2500\n`);
    await until(() => both().join() === '0,1', "GPU 0's process to be gone");
  });
});
