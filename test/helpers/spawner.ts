import { afterAll } from 'vitest';
import { SpawnerClient } from '../../src-main/adapters/process/spawner/client.js';
import type { RunnerConfig } from '../../src-main/adapters/process/runner.js';

/**
 * The runner's own tests run twice: as they are (the runner forks agents itself) and through the
 * spawner (ADR 22), by files that set AGENTMGR_TEST_SPAWNER=1 and then import the same tests
 * (`*.spawner.test.ts`). Each such file gets one spawner, ended after its tests.
 */
export const VIA_SPAWNER = process.env.AGENTMGR_TEST_SPAWNER === '1';

let shared: SpawnerClient | null = null;

/** A started spawner (a real helper process), ended after the file's tests. */
export async function startedSpawner(opts: ConstructorParameters<typeof SpawnerClient>[0] = {}): Promise<SpawnerClient> {
  const s = new SpawnerClient({ restartMs: 50, ...opts });
  await s.start();
  if (!s.usable) throw new Error(`the spawner did not start: ${s.status().problem}`);
  afterAll(() => s.stop());
  return s;
}

/** The config as given, with the file's spawner where the tests run through it. */
export async function maybeSpawner<T extends Partial<RunnerConfig>>(cfg: T): Promise<T & { spawner?: SpawnerClient }> {
  if (!VIA_SPAWNER) return cfg as T & { spawner?: SpawnerClient };
  shared ??= await startedSpawner();
  return { ...cfg, spawner: shared };
}
