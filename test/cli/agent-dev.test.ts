import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runChild } from '../helpers/child.js';
import { tempDir } from '../helpers/fakes.js';

/**
 * `agentmgr agent new` then `agent check`, for each language, as a person runs them: the real
 * CLI, the real runner, real python3, node and sh. No Manager is needed for either.
 */
const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'agentmgr.js');
const t = tempDir();
afterAll(() => t.cleanup());
const env = { ...process.env, AGENTMGR_DATA_DIR: join(t.dir, 'data'), XDG_CACHE_HOME: join(t.dir, 'cache') };

const cli = (args: string[]) => runChild(process.execPath, [BIN, ...args], { env, timeoutMs: 60_000 });

interface Check {
  ok: boolean;
  problems: { where: string; message: string }[];
  events: { type: string; progress?: number; data?: unknown; name?: string; path?: string; text?: string }[];
  run: { end: string; exitCode: number | null } | null;
}
const check = async (args: string[]): Promise<Check & { code: number | null; stdout: string }> => {
  const r = await cli(['agent', 'check', ...args, '--json']);
  return { ...(JSON.parse(r.stdout) as Check), code: r.code, stdout: r.stdout };
};
const logText = (c: Check) =>
  c.events
    .filter((e) => e.type === 'log')
    .map((e) => e.text)
    .join('');

describe.each(['py', 'ts', 'sh'] as const)('agent new --lang %s, then agent check', (lang) => {
  const parent = join(t.dir, `new-${lang}`);
  const dir = join(parent, `hello-${lang}`);

  it('writes a working agent that passes its own check: progress, an artifact, a result', async () => {
    const made = await cli(['agent', 'new', `hello-${lang}`, '--lang', lang, '--dir', parent, '--json']);
    expect(made.code, made.stderr).toBe(0);
    const files = (JSON.parse(made.stdout) as { files: string[] }).files;
    expect(files).toEqual(expect.arrayContaining(['agent.json', 'sample-input.json', 'README.md']));
    const manifest = JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8')) as { name: string; command: string[] };
    expect(manifest.name).toBe(`hello-${lang}`);
    if (lang !== 'ts') expect(statSync(join(dir, manifest.command.at(-1)!)).mode & 0o111).not.toBe(0);

    const c = await check([dir]);
    expect(c.problems).toEqual([]);
    expect(c.code).toBe(0);
    expect(c.events.filter((e) => e.type === 'progress').map((e) => e.progress)).toEqual([0.25, 0.5, 0.75, 1]);
    const art = c.events.find((e) => e.type === 'artifact')!;
    expect(art.name).toBe('Upper-cased text');
    expect(c.events.find((e) => e.type === 'result')!.data).toEqual({ words: 5, chars: 22, resumedFrom: 0 });

    // The human form says the same.
    const text = await cli(['agent', 'check', dir, '--keep']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/progress +100% step 4 of 4/);
    expect(text.stdout).toMatch(/^ok: 4 progress, 1 artifact\(s\), a result$/m);
    const kept = /artifacts in ([^,]+),/.exec(text.stdout)![1]!;
    expect(readFileSync(join(kept, 'out.txt'), 'utf8')).toBe('HELLO FROM A NEW AGENT\n');
    rmSync(join(kept, '..', '..', '..'), { recursive: true, force: true });
  });

  it('says when the SDK copy it carries is older than the Manager’s', async () => {
    if (lang === 'sh') return; // no SDK: the protocol by hand
    const copy = join(dir, 'agentmgr', lang === 'py' ? 'agent.py' : 'agent.mjs');
    const current = readFileSync(copy, 'utf8');
    writeFileSync(copy, current.replace(/SDK_VERSION = \d+/, 'SDK_VERSION = 0'));
    try {
      const r = await cli(['agent', 'check', dir]);
      expect(r.stdout).toMatch(/note +the SDK copy .* is version 0, this Manager's is 1: copy .* over it for what is new/);
    } finally {
      writeFileSync(copy, current);
    }
  });

  it('refuses to overwrite an existing folder, leaving it as it was', async () => {
    const before = readFileSync(join(dir, 'agent.json'), 'utf8');
    writeFileSync(join(dir, 'mine.txt'), 'my work');
    const again = await cli(['agent', 'new', `hello-${lang}`, '--lang', lang, '--dir', parent]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`${dir} already exists: nothing was written`);
    expect(readFileSync(join(dir, 'agent.json'), 'utf8')).toBe(before);
    expect(readFileSync(join(dir, 'mine.txt'), 'utf8')).toBe('my work');
  });

  it('--stop-after sends SIGTERM as a cancel would: the stop handler checkpoints and the agent exits in its grace', async () => {
    // Long enough that the stop comes mid-run however slowly it starts; the check waits for it.
    const c = await check([dir, '--input', JSON.stringify({ text: 'a b', steps: 1000, delayMs: 60 }), '--stop-after', lang === 'ts' ? '4' : '2']);
    expect(c.problems).toEqual([]);
    expect(c.run!.end).toBe('cancelled');
    expect(logText(c)).toMatch(/checkpointed at step \d+/);
  });
});

describe('the TypeScript agent', () => {
  it('type-checks against the SDK copy it carries', async () => {
    const dir = join(t.dir, 'new-ts', 'hello-ts');
    const r = await runChild(
      process.execPath,
      [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir, '--typeRoots', join(ROOT, 'node_modules', '@types')],
      {
        env,
        timeoutMs: 120_000,
      },
    );
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('agent new: bad input', () => {
  it('a bad name or language says what to use, and writes nothing', async () => {
    const name = await cli(['agent', 'new', 'Bad Name', '--dir', t.dir]);
    expect(name.code).toBe(2);
    expect(name.stderr).toContain('"Bad Name" is not an agent name: use lower-case letters');
    const lang = await cli(['agent', 'new', 'fine', '--lang', 'rust', '--dir', t.dir]);
    expect(lang.code).toBe(2);
    expect(lang.stderr).toContain('--lang is one of py, ts, sh (not "rust")');
  });

  it('without --dir it goes to the data dir’s agents folder, where a Manager loads it', async () => {
    const r = await cli(['agent', 'new', 'in-data', '--lang', 'sh']);
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(join(env.AGENTMGR_DATA_DIR, 'agents', 'in-data', 'agent.json')).isFile()).toBe(true);
  });
});

describe('agent check: what is wrong, in words', () => {
  const folder = (name: string, files: Record<string, string>) => {
    const dir = join(t.dir, 'bad', name);
    mkdirSync(dir, { recursive: true });
    for (const [f, text] of Object.entries(files)) {
      writeFileSync(join(dir, f), text);
      if (f.endsWith('.sh')) chmodSync(join(dir, f), 0o755);
    }
    return dir;
  };

  it('a broken manifest: every problem at once, and the agent is not run', async () => {
    const dir = folder('manifest', {
      'agent.json': JSON.stringify({
        name: 'Bad Name',
        command: [],
        resources: { cpu: -1 },
        timeoutSec: 'soon',
        inputSchema: { type: 'object', properties: { n: { type: 'nope' } } },
      }),
      'sample-input.json': '{}',
    });
    const c = await check([dir]);
    expect(c.code).toBe(1);
    expect(c.run).toBeNull();
    const messages = c.problems.map((p) => p.message);
    expect(messages.length).toBeGreaterThanOrEqual(4);
    expect(messages.some((m) => m.startsWith('name: '))).toBe(true);
    expect(messages.some((m) => m.startsWith('command: '))).toBe(true);
    expect(messages.some((m) => m.startsWith('resources.cpu: '))).toBe(true);
    expect(messages.some((m) => m.startsWith('timeoutSec: '))).toBe(true);
    expect(messages.some((m) => m.startsWith('inputSchema is not a valid JSON Schema'))).toBe(true);
    const text = await cli(['agent', 'check', dir]);
    expect(text.stdout).toMatch(/^\d+ problem\(s\):$/m);
    expect(text.stdout).toContain('  - agent.json: name: ');
  });

  it('not JSON, a missing program, a missing or invalid sample input', async () => {
    expect((await check([folder('json', { 'agent.json': '{"name": "x",' })])).problems[0]!.message).toMatch(/^agent\.json is not valid JSON: /);
    const missing = await check([folder('missing', { 'agent.json': JSON.stringify({ name: 'missing', command: ['./nowhere.sh'] }) })]);
    expect(missing.problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/^agent command not found: .*nowhere\.sh/),
      expect.stringMatching(/sample-input\.json does not exist: write an input to try the agent on there \(or give --input\)$/),
    ]);
    const invalid = await check([
      folder('invalid', {
        'agent.json': JSON.stringify({
          name: 'invalid',
          command: ['./a.sh'],
          inputSchema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] },
        }),
        'a.sh': '#!/bin/sh\n',
        'sample-input.json': '{"n": "three"}',
      }),
    ]);
    expect(invalid.problems).toEqual([{ where: 'input', message: expect.stringMatching(/sample-input\.json: n must be integer$/) }]);
  });

  it('events it printed wrong, named as a person would say it; the run goes on', async () => {
    const dir = folder('events', {
      'agent.json': JSON.stringify({ name: 'events', command: ['./a.sh'] }),
      'sample-input.json': '{}',
      'a.sh': [
        '#!/bin/sh',
        `echo '{"type":"progress","progress":1.7}'`,
        `echo '{"type":"progress","progress":"half"}'`,
        `echo '{"type":"progres","progress":0.5}'`,
        `echo '{"type":"result"}'`,
        `echo '{"type":"artifact","path":"../../etc/passwd"}'`,
        `echo '{"type":"log","message":"fine"}'`,
        `echo '{"type":"result","data":{"ok":true}}'`,
      ].join('\n'),
    });
    const c = await check([dir]);
    expect(c.code).toBe(1);
    expect(c.problems.map((p) => p.message)).toEqual([
      'printed a progress of 1.7: progress is from 0 to 1',
      'printed a progress of "half": progress is a number from 0 to 1',
      'printed an event of type "progres", which is no event type: did you mean "progress"? (they are progress, result, artifact, log)',
      'printed a result without "data": {"type": "result", "data": ...}',
      expect.stringMatching(/^reported an artifact that was not kept: /),
    ]);
    expect(c.events.find((e) => e.type === 'result')!.data).toEqual({ ok: true });
  });

  it('a failure with its reason; a success without a result', async () => {
    const failing = await check([
      folder('fails', {
        'agent.json': JSON.stringify({ name: 'fails', command: ['./a.sh'] }),
        'sample-input.json': '{}',
        'a.sh': '#!/bin/sh\necho "no model named x" >&2\nexit 2\n',
      }),
    ]);
    expect(failing.problems.map((p) => p.message)).toEqual(['it failed: exit code 2: no model named x']);
    const quiet = await check([
      folder('quiet', { 'agent.json': JSON.stringify({ name: 'quiet', command: ['./a.sh'] }), 'sample-input.json': '{}', 'a.sh': '#!/bin/sh\nexit 0\n' }),
    ]);
    expect(quiet.problems.map((p) => p.message)).toEqual([expect.stringMatching(/^it succeeded without a result: print \{"type": "result"/)]);
  });

  it('a stop handler that overruns its grace is reported', async () => {
    const dir = folder('stubborn', {
      'agent.json': JSON.stringify({ name: 'stubborn', command: ['./a.sh'], preemptGraceSec: 1 }),
      'sample-input.json': '{}',
      'a.sh': "#!/bin/sh\ntrap '' TERM\necho ready\nwhile :; do sleep 0.05; done\n",
    });
    const c = await check([dir, '--stop-after', '0.5']);
    expect(c.problems.map((p) => p.message)).toEqual(['it did not exit within its grace (1 s, preemptGraceSec) after SIGTERM, so it was killed']);
  });
});
