import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AttemptLog, readAttemptLog } from '../../../src-main/adapters/process/attempt-log.js';
import { resolveCommand } from '../../../src-main/adapters/process/command.js';
import { parseOutputLine } from '../../../src-main/adapters/process/output-parser.js';
import { parseProcStat, readProcStat } from '../../../src-main/adapters/process/proc-stat.js';
import { tempDir } from '../../helpers/fakes.js';

describe('parseOutputLine', () => {
  it.each([
    ['progress', '{"type":"progress","progress":0.5}', { kind: 'event', event: { type: 'progress', progress: 0.5 } }],
    [
      'progress with message, padded',
      '  {"type":"progress","progress":1,"message":"done"}  ',
      { kind: 'event', event: { type: 'progress', progress: 1, message: 'done' } },
    ],
    ['result of any JSON', '{"type":"result","data":[1,{"a":null}]}', { kind: 'event', event: { type: 'result', data: [1, { a: null }] } }],
    ['artifact', '{"type":"artifact","path":"a.png","name":"A"}', { kind: 'event', event: { type: 'artifact', path: 'a.png', name: 'A' } }],
    ['log event', '{"type":"log","message":"hi","level":"warn"}', { kind: 'event', event: { type: 'log', message: 'hi', level: 'warn' } }],
    ['plain text', 'hello {"type":"progress"}', { kind: 'log', text: 'hello {"type":"progress"}' }],
    ['a JSON array', '[1,2]', { kind: 'log', text: '[1,2]' }],
    ['an unknown type', '{"type":"other"}', { kind: 'log', text: '{"type":"other"}' }],
    ['no type', '{"progress":0.5}', { kind: 'log', text: '{"progress":0.5}' }],
    ['broken JSON', '{"type":"progress",}', { kind: 'log', text: '{"type":"progress",}' }],
    ['empty', '', { kind: 'log', text: '' }],
  ])('%s', (_n, line, expected) => expect(parseOutputLine(line)).toEqual(expected));

  it.each([
    ['progress out of range', '{"type":"progress","progress":1.5}', /malformed "progress" event \(progress: Too big/],
    ['artifact without path', '{"type":"artifact"}', /malformed "artifact" event \(path:/],
    ['unknown field', '{"type":"result","data":1,"extra":2}', /malformed "result" event/],
  ])('keeps a malformed %s as a log line and says why', (_n, line, problem) => {
    const r = parseOutputLine(line);
    expect(r.kind).toBe('log');
    expect(r.kind === 'log' && r.problem).toMatch(problem);
  });
});

describe('parseProcStat', () => {
  it('handles a command name with spaces and parentheses', () => {
    const text = '1234 (my (weird) proc) S 1 1230 1230 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 12345 67 18446744073709551615';
    expect(parseProcStat(text)).toEqual({ pid: 1234, state: 'S', ppid: 1, pgrp: 1230, startTime: '987654', cpuTicks: 3, rssPages: 67 });
  });
  it('rejects garbage', () => {
    expect(parseProcStat('nonsense')).toBeNull();
    // Cut short, or a number that is not one: refused, not read as zero.
    expect(parseProcStat('1234 (sh) S 1')).toBeNull();
    expect(parseProcStat('1234 (sh) S x1 1230 1230 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 12345 67')).toBeNull();
    expect(parseProcStat('12a4 (sh) S 1 1230 1230 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 12345 67')).toBeNull();
  });
  it('a line as the kernel writes it (trailing newline, a name with spaces) gives the same fields as split on whitespace', () => {
    const text = '77 (a b) R 5 77 77 0 -1 0 0 0 0 0 12 30 0 0 20 0 1 0 4242 999 8 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n';
    expect(parseProcStat(text)).toEqual({ pid: 77, state: 'R', ppid: 5, pgrp: 77, startTime: '4242', cpuTicks: 42, rssPages: 8 });
  });
  it('reads this very process', () => {
    const me = readProcStat(process.pid)!;
    expect(me.pid).toBe(process.pid);
    expect(me.startTime).toMatch(/^\d+$/);
    expect(me.ppid).toBe(process.ppid);
    expect(readProcStat(2 ** 22 + 7)).toBeNull();
  });
});

describe('resolveCommand', () => {
  it('resolves ./ against the agent folder and bare names on PATH', () => {
    const r = resolveCommand(['sh', '-c', 'true'], '/nowhere', '/usr/bin:/bin');
    expect(r).toEqual({ argv: [expect.stringMatching(/\/sh$/), '-c', 'true'] });
    expect(resolveCommand(['./nope'], '/tmp/agent')).toEqual({ error: 'agent command not found: /tmp/agent/nope (from "command" in /tmp/agent/agent.json)' });
    expect(resolveCommand(['surely-not-a-program-xyz'], '/a')).toMatchObject({ error: expect.stringMatching(/not found on PATH: surely-not-a-program-xyz/) });
  });
  it('says when the file is not executable', () => {
    const t = tempDir();
    try {
      const f = `${t.dir}/run.sh`;
      writeFileSync(f, '#!/bin/sh\n', { mode: 0o644 });
      const r = resolveCommand(['./run.sh'], t.dir);
      // Without any execute bit even root may not run it.
      expect(r).toMatchObject({ error: expect.stringMatching(/not executable.*chmod \+x/) });
    } finally {
      t.cleanup();
    }
  });
});

describe('AttemptLog', () => {
  it('keeps head and tail at line boundaries, marks the cut, and survives a reopen', () => {
    const t = tempDir();
    try {
      const caps = { headBytes: 20, tailBytes: 20 };
      const log = new AttemptLog(t.dir, caps);
      log.append('line-01\nline-02\nline-03\n');
      for (let i = 4; i <= 9; i++) log.append(`line-0${i}\n`);
      log.close(); // the Manager stops; a new one goes on
      expect(readAttemptLog(t.dir)).toBe('line-01\nline-02\n\n[agentmgr: 40 bytes (5 lines) cut from the middle of this log]\n\nline-08\nline-09\n');
      const again = new AttemptLog(t.dir, caps);
      again.append('line-10\n');
      again.finalize();
      expect(readFileSync(`${t.dir}/output.log`, 'utf8')).toBe(
        'line-01\nline-02\n\n[agentmgr: 48 bytes (6 lines) cut from the middle of this log]\n\nline-09\nline-10\n',
      );
    } finally {
      t.cleanup();
    }
  });
});
