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

  it('a hidden folder is not an agent (agent new writes into one, then renames it)', () => {
    const dir = join(t.dir, 'hidden-src');
    mkdirSync(join(dir, '.half.new-x'), { recursive: true });
    writeFileSync(join(dir, '.half.new-x', 'agent.json'), JSON.stringify({ name: 'half', command: ['./x'] }));
    const c = new FileAgentCatalog([{ dir, source: 'extra' }]);
    expect([c.get('half'), c.problems()]).toEqual([undefined, []]);
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
    // Each message names the property and what it takes.
    expect(c.validateInput(demo, { seconds: -1 })).toBe('`seconds` must be at least 0');
    expect(c.validateInput(demo, { secs: 1 })).toBe('unknown input property `secs`; this agent takes: seconds, vramMB, steps, fail');
    expect(c.validateInput(demo, { seconds: 'abc' })).toBe('`seconds` must be a number');
    expect(c.validateInput(demo, { steps: 1.5 })).toBe('`steps` must be a whole number');
    expect(c.validateInput(c.get('sha256')!, {})).toBe('`file` is needed');
    expect(c.validateInput(c.get('sha256')!, { file: '' })).toBe('`file` must not be empty');
    // Defaults are filled in on a copy (what is stored and given to the agent); the input given is left as it was.
    const given = { seconds: 2 };
    expect(c.withDefaults(demo, given)).toEqual({ seconds: 2, vramMB: 0, steps: 10, fail: false });
    expect(given).toEqual({ seconds: 2 });
  });

  it('a partial resources in a manifest is merged with the defaults', () => {
    const dir = join(t.dir, 'partial');
    mkdirSync(join(dir, 'gpuonly'), { recursive: true });
    writeFileSync(join(dir, 'gpuonly', 'agent.json'), JSON.stringify({ name: 'gpuonly', command: ['./x'], resources: { gpu: { count: 1, vramMB: 2000 } } }));
    const c = new FileAgentCatalog([{ dir, source: 'extra' }]);
    expect(c.problems()).toEqual([]);
    expect(c.get('gpuonly')!.resources).toEqual({ cpu: 1, memoryMB: 256, gpu: { count: 1, vramMB: 2000 } });
  });

  it('the bundled agents all load', () => {
    const c = new FileAgentCatalog([{ dir: bundledAgentsDir(), source: 'bundled' }]);
    expect(c.problems()).toEqual([]);
    expect(c.list().map((a) => a.name)).toEqual(['comfyui', 'demo', 'ollama', 'sha256', 'shell']);
  });
});
