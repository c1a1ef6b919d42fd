import type { YieldingView } from '../../../contracts/person.js';

/** A program of the person's that asks the GPU be left to it (a game), as the watcher saw it. */
export interface GameSighting {
  pid: number;
  /** What it is called, as matched ("steam_app_1091500", "Cyberpunk2077.exe"). */
  program: string;
}

export interface YieldConfig {
  /** GPU tasks below this priority do not start while the person has the GPU (default 10). */
  belowPriority: number;
  /** Game mode ends this long after the last game was seen (default 30 s): a restart or a loading screen does not end it. */
  exitMs: number;
}

export const DEFAULT_YIELD: YieldConfig = { belowPriority: 10, exitMs: 30_000 };

/** Idle-only work's gate: how long the person has been away, and how long they must be. */
export interface IdleGate {
  awayMs: number;
  needMs: number;
}

/** What holds GPU work back for the person now; null when nothing does. */
export interface PersonHold extends YieldingView {
  belowPriority: number;
}

/**
 * Yielding the GPU to the person: game mode (one of their programs is running, and for a while
 * after it ends) and focus mode (asked for by hand, for good or until a moment). While either
 * holds, GPU tasks below a priority do not start; what runs is left alone (pause --free-vram, or
 * game mode's freeVram, frees it). Pure: the watcher's sightings and the clock come in.
 */
export class PersonYield {
  private game: { program: string; since: number; lastSeenAt: number } | null = null;
  /** Focus mode: on until this moment (Infinity: until turned off); null: off. */
  private focusUntil: number | null = null;
  /** The person's idle time as last reported (seconds without input, at that moment); null: never reported. */
  private idle: { sec: number; at: number } | null = null;

  /** The person has had no input for `sec` seconds (the desktop's idle time, or fed through the API). */
  reportIdle(sec: number, now: number): void {
    this.idle = { sec: Math.max(0, sec), at: now };
  }

  /**
   * Idle-only work's gate: how long the person has been away (their idle time as reported, plus
   * what passed since), against `needMs`. Null when no idle time was ever reported: a server
   * with no one at it counts as away.
   */
  idleGate(now: number, needMs: number): IdleGate | null {
    if (this.idle === null) return null;
    return { awayMs: this.idle.sec * 1000 + Math.max(0, now - this.idle.at), needMs };
  }

  /** The watcher's latest look: the person's programs running now. Returns whether game mode began with it (it ends by the clock). */
  sawGames(games: readonly GameSighting[], now: number, cfg: YieldConfig): boolean {
    const was = this.gameOn(now, cfg);
    if (games.length > 0) {
      // The first seen keeps naming it while it runs; another takes over when it is gone.
      const same = this.game && games.find((g) => g.program === this.game!.program);
      const named = same ?? games[0]!;
      this.game = { program: named.program, since: this.game && was ? this.game.since : now, lastSeenAt: now };
    }
    return !was && this.gameOn(now, cfg);
  }

  setFocus(until: number | null): void {
    this.focusUntil = until;
  }

  focus(): number | null {
    return this.focusUntil;
  }

  private gameOn(now: number, cfg: YieldConfig): boolean {
    return this.game !== null && now - this.game.lastSeenAt < cfg.exitMs;
  }

  /** When what holds now would end by itself (focus's end, game mode's hysteresis), to look again then; null: nothing to wait for. */
  nextChange(now: number, cfg: YieldConfig, idleNeedMs?: number): number | null {
    const at: number[] = [];
    const gate = idleNeedMs !== undefined ? this.idleGate(now, idleNeedMs) : null;
    if (gate && gate.awayMs < gate.needMs) at.push(now + gate.needMs - gate.awayMs);
    if (this.focusUntil !== null && Number.isFinite(this.focusUntil) && this.focusUntil > now) at.push(this.focusUntil);
    if (this.game && this.gameOn(now, cfg)) at.push(this.game.lastSeenAt + cfg.exitMs);
    return at.length > 0 ? Math.min(...at) : null;
  }

  /** What holds GPU work back now: focus mode first (the person asked), then game mode. */
  current(now: number, cfg: YieldConfig): PersonHold | null {
    const below = cfg.belowPriority;
    if (this.focusUntil !== null && this.focusUntil > now) {
      const until = Number.isFinite(this.focusUntil) ? this.focusUntil : null;
      return {
        by: 'focus',
        reason: `focus mode${until !== null ? ` until ${new Date(until).toISOString()}` : ''} (GPU tasks below priority ${below} wait; agentmgr focus off ends it)`,
        since: null,
        until,
        program: null,
        belowPriority: below,
      };
    }
    if (this.game && this.gameOn(now, cfg)) {
      const running = now - this.game.lastSeenAt < 1 + Math.min(cfg.exitMs, 5000);
      return {
        by: 'game',
        reason: `game mode — ${this.game.program} ${running ? 'is running' : `ended; GPU work resumes ${Math.round(cfg.exitMs / 1000)} s after`} (GPU tasks below priority ${below} wait)`,
        since: this.game.since,
        until: null,
        program: this.game.program,
        belowPriority: below,
      };
    }
    return null;
  }
}
