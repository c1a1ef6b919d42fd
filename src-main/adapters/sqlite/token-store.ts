import { createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { TokenView } from '../../../contracts/project.js';
import type { OpenDb } from './db.js';
import { apiTokens } from './schema.js';

const hash = (token: string): string => createHash('sha256').update(token).digest('hex');

/**
 * Tokens for scripts, each bound to one project. Only a hash is stored; the token itself is
 * shown once, when it is made. The main token (the data dir's api-token file) is not here.
 */
export class SqliteTokenStore {
  constructor(private readonly conn: OpenDb) {}

  create(project: string, label: string | null, now: number): { token: string; view: TokenView } {
    const token = `amp_${randomBytes(24).toString('base64url')}`;
    const prefix = token.slice(0, 10);
    const row = this.conn.db
      .insert(apiTokens)
      .values({ hash: hash(token), prefix, project, label, createdAt: now })
      .returning()
      .get();
    return { token, view: toView(row) };
  }

  list(): TokenView[] {
    return this.conn.db.select().from(apiTokens).where(isNull(apiTokens.revokedAt)).orderBy(apiTokens.id).all().map(toView);
  }

  /** Whether a live token with that id existed (it is now revoked). */
  revoke(id: number, now: number): boolean {
    const r = this.conn.db
      .update(apiTokens)
      .set({ revokedAt: now })
      .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
      .run();
    return r.changes > 0;
  }

  /** The project a live token is bound to, or null for an unknown or revoked one. */
  resolve(token: string): string | null {
    const row = this.conn.sqlite.prepare(`SELECT project FROM api_tokens WHERE hash = ? AND revoked_at IS NULL`).pluck().get(hash(token)) as string | undefined;
    return row ?? null;
  }
}

function toView(r: typeof apiTokens.$inferSelect): TokenView {
  return { id: r.id, project: r.project, label: r.label, prefix: r.prefix, createdAt: new Date(r.createdAt) };
}
