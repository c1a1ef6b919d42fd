import { existsSync, readdirSync, statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { AgentSource } from './catalog.js';

/**
 * Watches the agents folders, and each agent's own folder, so a new, changed or removed
 * agent.json is picked up without a restart: `onChange` runs once a burst of changes has been
 * quiet for `quietMs`. A folder that appears later (an agent copied in) is watched from then on.
 * Linux's fs.watch is not recursive, hence one watcher per folder.
 */
export class AgentsWatch {
  private readonly watchers = new Map<string, FSWatcher>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly sources: readonly AgentSource[],
    private readonly onChange: () => void,
    private readonly opts: { quietMs?: number; onError?: (dir: string, e: Error) => void } = {},
  ) {}

  start(): void {
    this.rescan();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }

  /** Watches every source folder and every agent folder in them; forgets those that are gone. */
  private rescan(): void {
    const want = new Set<string>();
    for (const src of this.sources) {
      if (!existsSync(src.dir)) continue;
      want.add(src.dir);
      let entries: string[] = [];
      try {
        entries = readdirSync(src.dir);
      } catch {
        continue;
      }
      for (const e of entries) {
        const dir = join(src.dir, e);
        try {
          if (statSync(dir).isDirectory()) want.add(dir);
        } catch {
          // gone meanwhile
        }
      }
    }
    for (const [dir, w] of this.watchers) {
      if (want.has(dir)) continue;
      w.close();
      this.watchers.delete(dir);
    }
    for (const dir of want) {
      if (this.watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, () => this.changed());
        w.on('error', () => {
          w.close();
          this.watchers.delete(dir);
        });
        this.watchers.set(dir, w);
      } catch (e) {
        this.opts.onError?.(dir, e as Error);
      }
    }
  }

  private changed(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.closed) return;
      this.rescan();
      this.onChange();
    }, this.opts.quietMs ?? 300);
  }
}
