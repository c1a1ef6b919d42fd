import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileAgentCatalog } from '../../../src-main/adapters/agents/catalog.js';
import { bundledAgentsDir } from '../../../src-main/paths.js';
import { tempDir } from '../../helpers/fakes.js';
import { FIXTURE_AGENTS, fixtureCatalog } from '../../helpers/fixture-agents.js';

describe('FileAgentCatalog', () => {
  const t = tempDir();
  afterAll(() => t.cleanup());

  it('loads good manifests and reports each bad one with its path and what to fix', () => {
    const c = fixtureCatalog();
    expect(c.list().map((a) => a.name)).toContain('ok');
    const problems = c.problems();
    expect(problems).toHaveLength(2);
    expect(problems.find((p) => p.path.endsWith('bad-json/agent.json'))?.message).toMatch(/not valid JSON/);
    const schema = problems.find((p) => p.path === join(FIXTURE_AGENTS, 'bad-schema', 'agent.json'))!;
    expect(schema.message).toMatch(/name: lower-case letters/);
    expect(schema.message).toMatch(/command: the command needs at least the program to run/);
  });

  it('fills defaults and normalizes extensions', () => {
    mkdirSync(join(t.dir, 'mini'));
    writeFileSync(join(t.dir, 'mini', 'agent.json'), JSON.stringify({ name: 'mini', command: ['./x'], accepts: ['PNG', '.Jpg', '*'] }));
    const a = new FileAgentCatalog([{ dir: t.dir, source: 'extra' }]).get('mini')!;
    expect(a).toMatchObject({
      title: 'mini',
      accepts: ['.png', '.jpg', '*'],
      resources: { cpu: 1, memoryMB: 256 },
      retry: { maxAttempts: 1, backoffSec: 5 },
      concurrency: null,
      timeoutSec: null,
      dir: join(t.dir, 'mini'),
    });
  });

  it('a later folder overrides an agent of the same name', () => {
    const other = join(t.dir, 'override');
    mkdirSync(join(other, 'demo'), { recursive: true });
    writeFileSync(join(other, 'demo', 'agent.json'), JSON.stringify({ name: 'demo', title: 'Mine', command: ['./x'] }));
    const c = new FileAgentCatalog([
      { dir: bundledAgentsDir(), source: 'bundled' },
      { dir: other, source: 'data-dir' },
    ]);
    expect(c.get('demo')).toMatchObject({ title: 'Mine', source: 'data-dir' });
    expect(c.get('sha256')?.source).toBe('bundled');
  });

  it('validates input against the JSON Schema with readable messages', () => {
    const c = new FileAgentCatalog([{ dir: bundledAgentsDir(), source: 'bundled' }]);
    const demo = c.get('demo')!;
    expect(c.validateInput(demo, { seconds: 1 })).toBeNull();
    expect(c.validateInput(demo, { seconds: -1 })).toBe('seconds must be >= 0');
    expect(c.validateInput(demo, { bogus: 1 })).toBe('input must NOT have additional properties');
    expect(c.validateInput(c.get('sha256')!, {})).toBe("input must have required property 'file'");
  });

  it('the bundled agents all load', () => {
    const c = new FileAgentCatalog([{ dir: bundledAgentsDir(), source: 'bundled' }]);
    expect(c.problems()).toEqual([]);
    expect(c.list().map((a) => a.name)).toEqual(['comfyui', 'demo', 'ollama', 'sha256', 'shell']);
  });
});
