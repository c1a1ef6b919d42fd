// The Manager's own CPU use at idle with telemetry on (CPU/RAM every second, nvidia-smi loops),
// as a percentage of one core, against a bare Node process with a 1 s timer in the same window.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuSeconds, FAKE_SMI, serve, sleep, tempDir } from './lib.mjs';

export async function idleCpu({ seconds }) {
  const t = tempDir('agentmgr-bench-idle-');
  const smi = join(t.dir, 'smi');
  mkdirSync(smi);
  writeFileSync(join(smi, 'gpus.csv'), '0, GPU-5f1c2b7a-9d1e-4c33-8e0b-2a6f0c9d1e44, NVIDIA GeForce RTX 4060, 8188, 1403, 6785, 3, 45, 15.32, 115.00\n');
  writeFileSync(join(smi, 'apps.csv'), 'GPU-5f1c2b7a-9d1e-4c33-8e0b-2a6f0c9d1e44, 2211, /usr/lib/firefox/firefox, 412\n');
  const server = await serve(join(t.dir, 'data'), { AGENTMGR_NVIDIA_SMI: FAKE_SMI, FAKE_NVIDIA_SMI_DIR: smi, AGENTMGR_TELEMETRY_MS: '1000' });
  const baseline = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await sleep(3000); // past start-up work
    const m0 = cpuSeconds(server.child.pid);
    const b0 = cpuSeconds(baseline.pid);
    const w0 = performance.now();
    await sleep(seconds * 1000);
    const wall = (performance.now() - w0) / 1000;
    const manager = ((cpuSeconds(server.child.pid) - m0) / wall) * 100;
    const base = ((cpuSeconds(baseline.pid) - b0) / wall) * 100;
    return {
      name: 'idle CPU with telemetry on',
      unit: '% of one core',
      value: round(manager),
      baseline: { name: 'idle Node process with a 1 s timer', value: round(base) },
      ratio: base > 0 ? round(manager / base) : null,
      target: '< 1 %',
      met: manager < 1,
      how: `agentmgr serve, telemetry every 1000 ms, fake nvidia-smi in loop mode; utime+stime of the Manager process over ${Math.round(wall)} s (the nvidia-smi children are not counted)`,
    };
  } finally {
    baseline.kill();
    await server.stop();
    t.cleanup();
  }
}

const round = (x) => Math.round(x * 1000) / 1000;
