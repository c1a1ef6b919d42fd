import type Database from 'better-sqlite3';
import { TelemetrySampleSchema, type TelemetrySample } from '../../../contracts/telemetry.js';
import type { HistoryPersistence, HistoryTier } from '../telemetry/history.js';
import type { OpenDb } from './db.js';

export class SqliteHistoryStore implements HistoryPersistence {
  private readonly put: Database.Statement<[string, number, string]>;
  private readonly drop: Database.Statement<[string, number]>;
  private readonly read: Database.Statement<[string, number], { sample: string }>;
  private readonly write: (points: readonly { tier: HistoryTier; sample: TelemetrySample }[], dropBefore: Record<HistoryTier, number>) => void;

  constructor(conn: OpenDb) {
    const db = conn.sqlite;
    this.put = db.prepare('INSERT OR REPLACE INTO telemetry_history (tier, at, sample) VALUES (?, ?, ?)');
    this.drop = db.prepare('DELETE FROM telemetry_history WHERE tier = ? AND at < ?');
    this.read = db.prepare('SELECT sample FROM telemetry_history WHERE tier = ? AND at >= ? ORDER BY at');
    this.write = db.transaction((points, dropBefore) => {
      for (const p of points) this.put.run(p.tier, p.sample.at, JSON.stringify(p.sample));
      this.drop.run('s', dropBefore.s);
      this.drop.run('m', dropBefore.m);
    });
  }

  load(since: Record<HistoryTier, number>): { fine: TelemetrySample[]; coarse: TelemetrySample[]; skipped: number } {
    let skipped = 0;
    const tier = (t: HistoryTier): TelemetrySample[] => {
      const out: TelemetrySample[] = [];
      for (const row of this.read.iterate(t, since[t])) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(row.sample);
        } catch {
          parsed = undefined;
        }
        const s = TelemetrySampleSchema.safeParse(parsed);
        if (s.success) out.push(s.data);
        else skipped += 1;
      }
      return out;
    };
    return { fine: tier('s'), coarse: tier('m'), skipped };
  }

  save(points: readonly { tier: HistoryTier; sample: TelemetrySample }[], dropBefore: Record<HistoryTier, number>): void {
    this.write(points, dropBefore);
  }
}
