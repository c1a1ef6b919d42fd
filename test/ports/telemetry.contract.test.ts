import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SystemTelemetry } from '../../src-main/adapters/telemetry/system-telemetry.js';
import type { TelemetrySource } from '../../src-main/core/ports.js';
import { writeSmi } from '../helpers/fake-smi.js';
import { FakeTelemetry, killIfSame, node, remember, rtx4060, tempDir } from '../helpers/fakes.js';
import { FAKE_NVIDIA_SMI } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The TelemetrySource port, run against the system one (with the fake nvidia-smi, the only part
 * that needs hardware we lack) and the fake the Manager's tests use.
 */
interface Impl {
  name: string;
  source: () => TelemetrySource;
  /** Makes a new observation happen (the system one: the next tick; the fake: the test sets one). */
  observe(groups: Map<number, { rssMB: number; cpuCores: number | null }>): Promise<void>;
}

const smi = tempDir();
const UUID = 'GPU-5f1c2b7a-9d1e-4c33-8e0b-2a6f0c9d1e44';
let system: SystemTelemetry;
const fake = new FakeTelemetry();
// Two real process groups, so the system source has something to measure.
const groups: ChildProcess[] = [];
const leaders = new Map<ChildProcess, ReturnType<typeof remember>>();

beforeAll(async () => {
  writeSmi(smi.dir, 'gpus.csv', `0, ${UUID}, NVIDIA GeForce RTX 4060, 8188, 1200, 6988, 7, 46, 18.63, 115.00\n`);
  writeSmi(smi.dir, 'apps.csv', '');
  process.env.FAKE_NVIDIA_SMI_DIR = smi.dir;
  system = new SystemTelemetry({ intervalMs: 100, nvidiaSmi: FAKE_NVIDIA_SMI });
  await system.start();
  for (let i = 0; i < 2; i++) {
    const g = spawn(process.execPath, ['-e', 'const b = Buffer.alloc(20e6, 1); setInterval(() => b.length, 1000)'], { detached: true, stdio: 'ignore' });
    groups.push(g);
    leaders.set(g, remember(g.pid!));
  }
});
afterAll(() => {
  system.stop();
  for (const g of groups) killIfSame(leaders.get(g)!);
  smi.cleanup();
});

const nextTick = (s: TelemetrySource) =>
  new Promise<void>((resolve) => {
    const off = s.subscribe(() => {
      off();
      resolve();
    });
  });

const IMPLEMENTATIONS: Impl[] = [
  { name: 'SystemTelemetry', source: () => system, observe: () => nextTick(system) },
  {
    name: 'FakeTelemetry',
    source: () => fake,
    observe: async (g) => fake.set(node({ memoryAvailableMB: 20_000, gpus: [rtx4060({ usedMB: 1200 })], groups: g })),
  },
];

describe.each(IMPLEMENTATIONS)('TelemetrySource contract: $name', (impl) => {
  const usage = () => new Map(groups.map((g) => [g.pid!, { rssMB: 20, cpuCores: 0 }]));

  it('current() is a whole, sane reading of the machine', async () => {
    const s = impl.source();
    await impl.observe(usage());
    const n = s.current();
    expect(n.cpuCores).toBeGreaterThanOrEqual(1);
    expect(n.memoryTotalMB).toBeGreaterThan(0);
    expect(n.memoryAvailableMB).toBeGreaterThanOrEqual(0);
    expect(n.memoryAvailableMB).toBeLessThanOrEqual(n.memoryTotalMB);
    expect(['ok', 'absent', 'error']).toContain(n.gpuStatus.state);
    await waitFor(async () => {
      await impl.observe(usage());
      return s.current().gpus.length === 1;
    }, 'the GPU to be seen');
    const g = s.current().gpus[0]!;
    expect(s.current().gpuStatus.state).toBe('ok');
    expect(g).toMatchObject({ index: 0, totalMB: 8188, usedMB: 1200 });
    expect(g.usedMB).toBeLessThanOrEqual(g.totalMB);
  });

  it('subscribe calls back after each observation, until unsubscribed', async () => {
    const s = impl.source();
    let calls = 0;
    const off = s.subscribe(() => calls++);
    await impl.observe(usage());
    expect(calls).toBeGreaterThanOrEqual(1);
    off();
    const before = calls;
    await impl.observe(usage());
    expect(calls).toBe(before);
  });

  it('watch: the groups asked for are reported in current().groups, and no others', async () => {
    const s = impl.source();
    const [watched, other] = groups.map((g) => g.pid!) as [number, number];
    s.watch([watched]);
    await waitFor(async () => {
      await impl.observe(usage());
      return (s.current().groups?.get(watched)?.rssMB ?? 0) > 0;
    }, 'the watched group to be measured');
    expect(s.current().groups?.has(other)).toBe(false);
    s.watch([]);
    await impl.observe(usage());
    expect(s.current().groups?.size ?? 0).toBe(0);
  });
});
