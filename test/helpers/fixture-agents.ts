import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileAgentCatalog } from '../../src-main/adapters/agents/catalog.js';
import type { AgentSpec } from '../../src-main/core/ports.js';

export const FIXTURE_AGENTS = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'fixtures', 'agents');

export const fixtureCatalog = (): FileAgentCatalog => new FileAgentCatalog([{ dir: FIXTURE_AGENTS, source: 'extra' }]);

export function fixtureAgent(name: string, over: Partial<AgentSpec> = {}): AgentSpec {
  const a = fixtureCatalog().get(name);
  if (!a) throw new Error(`no fixture agent ${name}`);
  return { ...a, ...over };
}
