import { describe, expect, it } from 'vitest';
import { Families, type Member } from '../../../src-main/adapters/process/families.js';
import type { ProcStat } from '../../../src-main/adapters/process/proc-stat.js';

const proc = (pid: number, ppid: number, pgrp: number, startTime = String(pid * 10), state = 'S'): ProcStat => ({
  pid,
  ppid,
  pgrp,
  startTime,
  state,
  cpuTicks: 0,
  rssPages: 0,
});
const pids = (m: Map<number, ProcStat[]>, pgid: number) => (m.get(pgid) ?? []).map((p) => p.pid).sort((a, b) => a - b);

describe('Families', () => {
  it('follows parent links out of the group, through any depth, listed in any order', () => {
    const f = new Families();
    const joined: Member[] = [];
    f.track(100, [], (m) => joined.push(m));
    const procs = [
      proc(1, 0, 1),
      proc(900, 1, 900), // someone else's program
      proc(120, 110, 120), // grandchild that setsid'd: listed before its parent
      proc(100, 50, 100), // the agent's group leader (its parent is the Manager)
      proc(110, 100, 100),
      proc(130, 120, 120), // its child, in its new group
      proc(50, 1, 50), // the Manager
      proc(140, 110, 100, '1400', 'Z'), // a zombie holds nothing
    ];
    const m = f.update(procs);
    expect(pids(m, 100)).toEqual([100, 110, 120, 130]);
    expect(joined.map((x) => x.pid).sort()).toEqual([120, 130]);
    expect(f.ownerOf(120)).toBe(100);
    expect(f.ownerOf(900)).toBeNull();
    expect(f.ownerOf(110)).toBeNull(); // still in the group: nothing to remember
  });

  it('remembers who left, once their parent is gone; forgets a pid that now names another process', () => {
    const f = new Families();
    f.track(100);
    f.update([proc(100, 50, 100), proc(120, 100, 120)]);
    // The agent ended; its daemon was re-parented to init.
    expect(pids(f.update([proc(120, 1, 120)]), 100)).toEqual([120]);
    // The daemon ended and its pid was reused by an unrelated program.
    expect(f.update([proc(120, 1, 120, '999999')]).get(100)).toBeUndefined();
    expect(f.ownerOf(120)).toBeNull();
    expect(f.escaped(100)).toEqual([]);
  });

  it('known members of an adopted run are followed from the start; untrack forgets them', () => {
    const f = new Families();
    f.track(100, [{ pid: 120, startTime: '1200' }]);
    expect(f.ownerOf(120)).toBe(100);
    expect(pids(f.update([proc(120, 1, 120), proc(121, 120, 120)]), 100)).toEqual([120, 121]);
    f.untrack(100);
    expect(f.size).toBe(0);
    expect(f.ownerOf(120)).toBeNull();
    expect(f.ownerOf(121)).toBeNull();
  });

  it('two agents: each keeps its own', () => {
    const f = new Families();
    f.track(100);
    f.track(200);
    const m = f.update([proc(100, 50, 100), proc(200, 50, 200), proc(101, 100, 101), proc(201, 200, 201), proc(202, 201, 202)]);
    expect(pids(m, 100)).toEqual([100, 101]);
    expect(pids(m, 200)).toEqual([200, 201, 202]);
  });
});
