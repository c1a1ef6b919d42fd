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
  private immediate: NodeJS.Immediate | null = null;
  private stopped = false;
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
    this.stopped = false;
    const tick = (): void => {
      this.timer = null;
      // A few dozen processes a turn: a scan of hundreds never holds up the thread (issue 18).
      const matchers = this.matchers;
      const names = listPids(this.o.procDir ?? '/proc');
      const out: GameSighting[] = [];
      const step = (from: number): void => {
        if (this.stopped) return;
        if (matchers.length > 0) out.push(...sightings(this.o.procDir ?? '/proc', names.slice(from, from + PIDS_PER_TURN), matchers));
        if (matchers.length > 0 && from + PIDS_PER_TURN < names.length) {
          this.immediate = setImmediate(() => step(from + PIDS_PER_TURN));
          return;
        }
        this.immediate = null;
        // Patterns changed meanwhile: that change looked again at once, and is what stands.
        if (matchers === this.matchers) this.publish(out.sort((a, b) => a.pid - b.pid));
        this.timer = setTimeout(tick, this.o.intervalMs ?? 2000);
        this.timer.unref();
      };
      step(0);
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
  }

  games(): GameSighting[] {
    return this.seen;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private look(): void {
    this.publish(this.matchers.length === 0 ? [] : scan(this.o.procDir ?? '/proc', this.matchers));
  }

  private publish(seen: GameSighting[]): void {
    this.seen = seen;
    for (const l of this.listeners) l();
  }
}

/** How many processes one turn of a periodic scan looks at. */
const PIDS_PER_TURN = 48;

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

/** The process folders there are now (their names: pids). */
function listPids(procDir: string): string[] {
  try {
    return readdirSync(procDir).filter((name) => {
      const c = name.charCodeAt(0);
      return c >= 48 && c <= 57;
    });
  } catch {
    return [];
  }
}

function scan(procDir: string, matchers: readonly RegExp[]): GameSighting[] {
  return sightings(procDir, listPids(procDir), matchers).sort((a, b) => a.pid - b.pid);
}

/** Which of these processes match a pattern, by their names (those that vanish are skipped). */
function sightings(procDir: string, pids: readonly string[], matchers: readonly RegExp[]): GameSighting[] {
  const out: GameSighting[] = [];
  for (const name of pids) {
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
  return out;
}
