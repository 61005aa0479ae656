// SQL for failed-attempt counters behind login and TOTP throttling (shared by all replicas).
import { sql } from 'kysely';
import type { Db } from '../database.js';

/** Seconds until `key` may try again, 0 when not locked. */
export async function lockedFor(db: Db, key: string): Promise<number> {
  const r = await sql<{ s: number | null }>`SELECT ceil(extract(epoch FROM locked_until - now()))::int AS s
    FROM throttle WHERE key = ${key} AND locked_until > now()`.execute(db);
  return Math.max(0, r.rows[0]?.s ?? 0);
}

/**
 * Counts one failure in a sliding window of `windowSeconds`; once `limit` failures are reached the
 * key is locked for `lockSeconds`. Returns the failures counted in the current window.
 */
export async function recordFailure(
  db: Db,
  key: string,
  limit: number,
  windowSeconds: number,
  lockSeconds: number,
): Promise<number> {
  const r = await sql<{ failures: number }>`INSERT INTO throttle AS t (key, failures, window_start)
    VALUES (${key}, 1, now())
    ON CONFLICT (key) DO UPDATE SET
      failures = CASE WHEN t.window_start < now() - make_interval(secs => ${windowSeconds}) THEN 1 ELSE t.failures + 1 END,
      window_start = CASE WHEN t.window_start < now() - make_interval(secs => ${windowSeconds}) THEN now() ELSE t.window_start END,
      locked_until = CASE
        WHEN (CASE WHEN t.window_start < now() - make_interval(secs => ${windowSeconds}) THEN 1 ELSE t.failures + 1 END) >= ${limit}
        THEN now() + make_interval(secs => ${lockSeconds}) ELSE t.locked_until END
    RETURNING failures`.execute(db);
  return r.rows[0]?.failures ?? 1;
}

export async function clearFailures(db: Db, key: string): Promise<void> {
  await db.deleteFrom('throttle').where('key', '=', key).execute();
}
