import { spawn } from 'node:child_process';
import { copyFileSync, chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GameWatch, namesOf, parsePatterns } from '../../src-main/adapters/person/game-watch.js';
import { tempDir } from '../helpers/fakes.js';

const t = tempDir();
afterAll(() => t.cleanup());

describe("game mode's watcher", () => {
  it('patterns are whole-name globs, case-insensitive; Steam launches show as steam_app_N; Windows paths are cut at a backslash', () => {
    const [steam, exe] = parsePatterns(' steam_app_* , *.exe,,');
    expect(steam!.test('steam_app_1091500')).toBe(true);
    expect(steam!.test('not_steam_app_1')).toBe(false);
    expect(exe!.test('Cyberpunk2077.EXE')).toBe(true);
    expect(exe!.test('exe')).toBe(false);
    expect(namesOf(['/home/me/.steam/ubuntu12_32/reaper', 'SteamLaunch', 'AppId=1091500', '--', '/games/run.sh'], 'reaper')[0]).toBe('steam_app_1091500');
    expect(namesOf(['Z:\\games\\Cyberpunk 2077\\bin\\x64\\Cyberpunk2077.exe'], 'Cyberpunk2077.e')[0]).toBe('Cyberpunk2077.exe');
    expect(parsePatterns('')).toEqual([]);
  });

  it('finds a running program by the name it was started as, and sees it gone', async () => {
    // A real process whose program is called steam_app_1091500 (a copy of sleep).
    const bin = join(t.dir, 'steam_app_1091500');
    copyFileSync('/bin/sleep', bin);
    chmodSync(bin, 0o755);
    const w = new GameWatch('steam_app_*', { intervalMs: 50 });
    let looks = 0;
    w.subscribe(() => looks++);
    w.start();
    try {
      expect(w.games().some((g) => g.program === 'steam_app_1091500')).toBe(false);
      const game = spawn(bin, ['600'], { stdio: 'ignore' });
      try {
        const end = Date.now() + 10_000;
        while (!w.games().some((g) => g.pid === game.pid && g.program === 'steam_app_1091500')) {
          if (Date.now() > end) throw new Error('the game was not seen');
          await new Promise((r) => setTimeout(r, 20));
        }
      } finally {
        game.kill('SIGKILL');
      }
      const end = Date.now() + 10_000;
      while (w.games().some((g) => g.pid === game.pid)) {
        if (Date.now() > end) throw new Error('the game was still seen after it exited');
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(looks).toBeGreaterThan(1);
      // Turned off: nothing is looked for.
      w.setPatterns('');
      expect(w.games()).toEqual([]);
    } finally {
      w.stop();
    }
  });

  it('a periodic look is spread over turns, a few dozen processes each: the thread is never held up by hundreds', async () => {
    // A /proc of 300 processes; the game is the last one.
    const proc = join(t.dir, 'proc');
    for (let pid = 1000; pid < 1300; pid++) {
      mkdirSync(join(proc, String(pid)), { recursive: true });
      const game = pid === 1299;
      writeFileSync(join(proc, String(pid), 'cmdline'), game ? 'C:\\games\\Elden.exe\0' : `/usr/bin/worker${pid}\0--flag\0`);
      writeFileSync(join(proc, String(pid), 'comm'), game ? 'Elden.exe\n' : `worker${pid}\n`);
    }
    mkdirSync(join(proc, 'self'), { recursive: true });
    const w = new GameWatch('*.exe', { intervalMs: 60_000, procDir: proc });
    // Looked at once when made (the patterns were set): found.
    expect(w.games()).toEqual([{ pid: 1299, program: 'Elden.exe' }]);
    writeFileSync(join(proc, '1299', 'comm'), 'other\n');
    writeFileSync(join(proc, '1299', 'cmdline'), 'other\0');
    let looks = 0;
    w.subscribe(() => looks++);
    w.start();
    try {
      // The first turn looked at the first few dozen only: the change is not known yet...
      expect(looks).toBe(0);
      expect(w.games()).toEqual([{ pid: 1299, program: 'Elden.exe' }]);
      // ...and is once the later turns have come.
      const end = Date.now() + 10_000;
      while (looks === 0) {
        if (Date.now() > end) throw new Error('the look never finished');
        await new Promise((r) => setImmediate(r));
      }
      expect(w.games()).toEqual([]);
    } finally {
      w.stop();
    }
  });
});
