import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectPath } from '../../src-main/adapters/files/inspect.js';
import { tempDir } from '../helpers/fakes.js';

describe('inspectPath (dropped files, checked in the main process)', () => {
  const t = tempDir();
  afterAll(() => t.cleanup());
  const file = join(t.dir, 'a.txt');
  writeFileSync(file, 'hello');
  mkdirSync(join(t.dir, 'folder'));
  symlinkSync(file, join(t.dir, 'link.txt'));
  symlinkSync(join(t.dir, 'nope'), join(t.dir, 'dangling'));

  it.each([
    ['a regular file', () => file, { ok: true, name: 'a.txt', sizeBytes: 5, viaSymlink: false }],
    ['a link, resolved', () => join(t.dir, 'link.txt'), { ok: true, realPath: file, name: 'link.txt', viaSymlink: true }],
    ['a folder', () => join(t.dir, 'folder'), { ok: false, error: 'folder is a folder: drop the files in it instead' }],
    ['a dangling link', () => join(t.dir, 'dangling'), { ok: false, error: expect.stringMatching(/link to something that does not exist/) }],
    ['a missing file', () => join(t.dir, 'missing'), { ok: false, error: expect.stringMatching(/does not exist/) }],
    ['a relative path', () => 'a.txt', { ok: false, error: 'a.txt is not an absolute path' }],
    ['a device', () => '/dev/null', { ok: false, error: 'null is not a regular file' }],
  ])('%s', (_n, path, expected) => {
    expect(inspectPath(path())).toMatchObject(expected);
  });

  it('an unreadable file (when not root)', () => {
    const locked = join(t.dir, 'locked');
    writeFileSync(locked, 'x');
    chmodSync(locked, 0o000);
    const r = inspectPath(locked);
    if (process.getuid?.() === 0)
      expect(r.ok).toBe(true); // root reads anything
    else expect(r).toMatchObject({ ok: false, error: 'locked cannot be read (permissions)' });
  });
});
