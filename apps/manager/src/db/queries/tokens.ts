// SQL for refresh tokens and revoked access-token ids.
import { sql } from 'kysely';
import type { Db } from '../database.js';

export interface RefreshRow {
  id: string;
  user_id: string;
  family_id: string;
  access_jti: string;
  expires_at: Date;
  used_at: Date | null;
  revoked_at: Date | null;
}

export async function insertRefreshToken(
  db: Db,
  v: { user_id: string; family_id: string; token_hash: string; access_jti: string; expires_at: Date },
): Promise<void> {
  await db.insertInto('refresh_tokens').values(v).execute();
}

/**
 * Marks the refresh token used and returns it, or returns the row with `used_at` already set when
 * it was used before (a replay: the caller revokes the family). Undefined when unknown.
 */
export async function useRefreshToken(
  db: Db,
  tokenHash: string,
): Promise<{ row: RefreshRow; replay: boolean } | undefined> {
  const fresh = await db
    .updateTable('refresh_tokens')
    .set({ used_at: sql`now()` as never })
    .where('token_hash', '=', tokenHash)
    .where('used_at', 'is', null)
    .returning(['id', 'user_id', 'family_id', 'access_jti', 'expires_at', 'used_at', 'revoked_at'])
    .executeTakeFirst();
  if (fresh) return { row: fresh, replay: false };
  const old = await db
    .selectFrom('refresh_tokens')
    .select(['id', 'user_id', 'family_id', 'access_jti', 'expires_at', 'used_at', 'revoked_at'])
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst();
  return old ? { row: old, replay: true } : undefined;
}

/** Revokes every refresh token of a family and returns the access-token ids they were paired with. */
export async function revokeFamily(db: Db, familyId: string): Promise<string[]> {
  const rows = await db
    .updateTable('refresh_tokens')
    .set({ revoked_at: sql`coalesce(revoked_at, now())` as never })
    .where('family_id', '=', familyId)
    .returning('access_jti')
    .execute();
  return rows.map((r) => r.access_jti);
}

export async function findFamilyByAccessJti(db: Db, jti: string): Promise<string | undefined> {
  const r = await db.selectFrom('refresh_tokens').select('family_id').where('access_jti', '=', jti).executeTakeFirst();
  return r?.family_id;
}

export async function revokeJtis(db: Db, jtis: { jti: string; expires_at: Date }[]): Promise<void> {
  if (jtis.length === 0) return;
  await db
    .insertInto('revoked_jtis')
    .values(jtis)
    .onConflict((oc) => oc.column('jti').doNothing())
    .execute();
}

export async function isJtiRevoked(db: Db, jti: string): Promise<boolean> {
  const r = await db.selectFrom('revoked_jtis').select('jti').where('jti', '=', jti).executeTakeFirst();
  return r !== undefined;
}

/** Housekeeping: forget revocations and refresh tokens past their expiry. */
export async function pruneExpiredTokens(db: Db): Promise<void> {
  await sql`WITH a AS (DELETE FROM revoked_jtis WHERE expires_at < now() - interval '1 hour')
    DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'`.execute(db);
}
