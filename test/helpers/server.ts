import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { resolveServeOptions } from '../../src-main/config.js';
import { startHeadless, type HeadlessManager } from '../../src-main/headless.js';
import { FIXTURE_AGENTS } from './fixture-agents.js';

export const FAKE_NVIDIA_SMI = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'fixtures', 'nvidia-smi', 'nvidia-smi');

/** A real headless Manager on a free loopback port, with its own data dir and the fixture agents. */
export function startTestServer(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<HeadlessManager> {
  const options = resolveServeOptions(
    { 'data-dir': dataDir, port: '0', 'agents-dir': [FIXTURE_AGENTS] },
    {
      AGENTMGR_NVIDIA_SMI: '/nonexistent/nvidia-smi',
      AGENTMGR_KILL_GRACE_MS: '300',
      // Residents off unless a test points one at its fake (see test/fixtures/residents).
      AGENTMGR_OLLAMA_URL: '',
      AGENTMGR_COMFYUI_URL: '',
      AGENTMGR_LLAMACPP_URL: '',
      // Game mode off unless a test turns it on (another test's fake game holds nothing here).
      AGENTMGR_GAME_PROGRAMS: '',
      ...env,
    },
  );
  return startHeadless(options, process.env.AGENTMGR_TEST_LOG ? 'info' : 'silent');
}

export { writeSmi } from './fake-smi.js';
