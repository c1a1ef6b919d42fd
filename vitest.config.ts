import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    // No test talks to an Ollama, ComfyUI or llama-server that happens to run on the machine:
    // each resident is off unless a test points it at its fake. Game mode is off too, unless a
    // test turns it on: another test's fake game (or a real one on the machine) holds nothing.
    env: { AGENTMGR_OLLAMA_URL: '', AGENTMGR_COMFYUI_URL: '', AGENTMGR_LLAMACPP_URL: '', AGENTMGR_GAME_PROGRAMS: '' },
  },
});
