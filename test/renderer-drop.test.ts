import { describe, expect, it } from 'vitest';
import { agentsFor, planDrop } from '../src-renderer/src/lib/drop.js';
import { parseRoute } from '../src-renderer/src/lib/router.js';

const agents = [
  { name: 'ocr', accepts: ['.png', '.jpg'] },
  { name: 'sha256', accepts: ['*'] },
  { name: 'demo', accepts: [] },
];

describe('drop planning (the UI)', () => {
  it.each([
    ['scan.PNG', ['ocr', 'sha256']],
    ['notes.txt', ['sha256']],
    ['README', ['sha256']],
  ])('%s is taken by %j', (name, expected) => expect(agentsFor(name, agents)).toEqual(expected));

  it('warns about empty files, and still lets them go', () => {
    const plan = planDrop(
      [
        { name: 'empty.png', size: 0, kind: 'file' },
        { name: 'full.png', size: 9, kind: 'file' },
      ],
      [{ name: 'ocr', accepts: ['.png'] }],
    );
    expect(plan).toMatchObject({ notes: ['empty.png is empty (0 bytes): an agent may have nothing to work on.'] });
    expect('files' in plan ? plan.files?.map((f) => f.name) : null).toEqual(['empty.png', 'full.png']);
  });

  it('says what cannot go: nothing dropped, folders, files no agent takes', () => {
    expect(planDrop([], agents)).toEqual({ error: 'Nothing was dropped. Drop one or more files from your file manager.' });
    expect(planDrop([{ name: 'photos', size: 0, kind: 'folder' }], [{ name: 'ocr', accepts: ['.png'] }])).toEqual({
      error: 'Folders are not taken (photos): drop the files in them instead.',
    });
    expect(planDrop([{ name: 'x.zip', size: 1, kind: 'file' }], [{ name: 'ocr', accepts: ['.png'] }])).toEqual({ error: 'No agent takes x.zip.' });
    const plan = planDrop(
      [
        { name: 'a.png', size: 1, kind: 'file' },
        { name: 'x.zip', size: 1, kind: 'file' },
      ],
      [{ name: 'ocr', accepts: ['.png'] }],
    );
    expect(plan).toEqual({ files: [{ name: 'a.png', size: 1, kind: 'file', agents: ['ocr'] }], notes: ['No agent takes x.zip.'] });
  });

  it('routes by hash, ignoring the token', () => {
    expect(parseRoute('#/task/12&token=abc')).toEqual({ view: 'task', id: 12 });
    expect(parseRoute('#/agents/my%20agent')).toEqual({ view: 'agents', agent: 'my agent' });
    expect(parseRoute('#/nonsense')).toEqual({ view: 'queue' });
    expect(parseRoute('')).toEqual({ view: 'queue' });
  });
});
