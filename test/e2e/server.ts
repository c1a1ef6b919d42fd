import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
export const UUID = 'GPU-5f1c2b7a-9d1e-4c33-8e0b-2a6f0c9d1e44';
export const gpuRow = (used: number) => `0, ${UUID}, NVIDIA GeForce RTX 4060, 8188, ${used}, ${8188 - used}, 23, 52, 41.5, 115.00\n`;

export interface E2EServer {
  url: string;
  uiUrl: string;
  token: string;
  dir: string;
  smi: string;
  cli(args: string[], input?: string): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** Stops the Manager (Ctrl-C) and starts it again on the same port and data dir. */
  restart(pauseMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** A real `agentmgr serve` (the built one) with its own data dir, the fixture agents and a fake GPU. */
export async function startServer(): Promise<E2EServer> {
  const dir = mkdtempSync(join(tmpdir(), 'agentmgr-e2e-'));
  const smi = join(dir, 'smi');
  mkdirSync(smi);
  writeFileSync(join(smi, 'gpus.csv'), gpuRow(900));
  const env = {
    ...process.env,
    AGENTMGR_OLLAMA_URL: '',
    AGENTMGR_COMFYUI_URL: '',
    AGENTMGR_LLAMACPP_URL: '',
    AGENTMGR_GAME_PROGRAMS: '',
    FAKE_NVIDIA_SMI_DIR: smi,
    AGENTMGR_NVIDIA_SMI: join(ROOT, 'test', 'fixtures', 'nvidia-smi', 'nvidia-smi'),
    AGENTMGR_TELEMETRY_MS: '250',
    AGENTMGR_READING_WINDOW_MS: '0',
    AGENTMGR_KILL_GRACE_MS: '300',
    AGENTMGR_DATA_DIR: join(dir, 'data'),
  };
  let child: ChildProcess;
  const launch = async (port: string): Promise<string> => {
    child = spawn(
      process.execPath,
      [
        join(ROOT, 'bin', 'agentmgr.js'),
        'serve',
        '--port',
        port,
        '--quiet',
        '--max-concurrency',
        '4',
        '--agents-dir',
        join(ROOT, 'test', 'fixtures', 'agents'),
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const end = Date.now() + 20_000;
    while (!/UI: +(\S+)/.test(out)) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`serve did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return out;
  };
  const halt = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    await new Promise<void>((r) => {
      child.once('exit', () => r());
      child.kill('SIGINT');
    });
  };
  const out = await launch('0');
  const uiUrl = /UI: +(\S+)/.exec(out)![1]!;
  const url = /listening on (\S+)/.exec(out)![1]!;
  const token = /#token=([\w-]+)/.exec(uiUrl)![1]!;
  return {
    url,
    uiUrl,
    token,
    dir,
    smi,
    cli: (args, input) =>
      new Promise((resolve) => {
        const c = spawn(process.execPath, [join(ROOT, 'bin', 'agentmgr.js'), ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        c.stdout.on('data', (d) => (stdout += d));
        c.stderr.on('data', (d) => (stderr += d));
        c.on('close', (code) => resolve({ code, stdout, stderr }));
        c.stdin.end(input ?? '');
      }),
    restart: async (pauseMs = 0) => {
      await halt();
      await new Promise((r) => setTimeout(r, pauseMs));
      await launch(new URL(url).port);
    },
    stop: async () => {
      await halt();
      // Agents outlive a stopped Manager by design; these are the test's own, so end them.
      spawnSync('pkill', ['-KILL', '-f', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { writeSmi } from '../helpers/fake-smi.js';
