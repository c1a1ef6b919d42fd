import { readdirSync, readFileSync } from 'node:fs';
import type { PersonPort } from '../../core/ports.js';
import type { GameSighting } from '../../core/person/yield.js';

/**
 * Game mode's eyes: every few seconds, the processes whose program matches one of the
 * `gameModePrograms` patterns (globs, `*` and `?`, case-insensitive) by the name it was started
 * as (argv[0]'s last part, `/` or `\`: Wine and Proton games are "C:\...\Game.exe") or its
 * kernel name. Steam's launcher keeps a `reaper SteamLaunch AppId=N` process for as long as a
 * game it started runs: that one is seen as "steam_app_N". Off the scheduling path; a process
 * that vanishes while being read is skipped.
 */
export class GameWatch implements PersonPort {
  private seen: GameSighting[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly listeners = new Set<() => void>();
  private matchers: RegExp[] = [];

  constructor(
    patterns: string,
    private readonly o: { intervalMs?: number; procDir?: string } = {},
  ) {
    this.setPatterns(patterns);
  }

  /** Comma-separated patterns; empty turns game mode off. */
  setPatterns(patterns: string): void {
    this.matchers = parsePatterns(patterns);
    this.look();
  }

  start(): void {
    const tick = (): void => {
      this.look();
      this.timer = setTimeout(tick, this.o.intervalMs ?? 2000);
      this.timer.unref();
    };
    tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  games(): GameSighting[] {
    return this.seen;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private look(): void {
    this.seen = this.matchers.length === 0 ? [] : scan(this.o.procDir ?? '/proc', this.matchers);
    for (const l of this.listeners) l();
  }
}

/** "steam_app_*, *.exe" → one case-insensitive whole-name matcher per pattern. */
export function parsePatterns(patterns: string): RegExp[] {
  return patterns
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map(
      (p) =>
        new RegExp(
          `^${p
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '.*')
            .replace(/\?/g, '.')}$`,
          'i',
        ),
    );
}

/** The names a process goes by: the program it was started as, and (Steam's reaper) the game it keeps. */
export function namesOf(argv: readonly string[], comm: string): string[] {
  const names: string[] = [];
  if (argv[0]) names.push(argv[0].split(/[\\/]/).pop()!);
  if (comm) names.push(comm);
  if (names[0] === 'reaper' && argv.includes('SteamLaunch')) {
    const app = argv.find((a) => /^AppId=\d+$/.test(a));
    if (app) names.unshift(`steam_app_${app.slice(6)}`);
  }
  return names;
}

function scan(procDir: string, matchers: readonly RegExp[]): GameSighting[] {
  let entries: string[];
  try {
    entries = readdirSync(procDir);
  } catch {
    return [];
  }
  const out: GameSighting[] = [];
  for (const name of entries) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    let argv: string[];
    let comm: string;
    try {
      argv = readFileSync(`${procDir}/${name}/cmdline`, 'utf8').split('\0').filter(Boolean);
      comm = readFileSync(`${procDir}/${name}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    const program = namesOf(argv, comm).find((n) => matchers.some((m) => m.test(n)));
    if (program) out.push({ pid, program });
  }
  return out.sort((a, b) => a.pid - b.pid);
}
