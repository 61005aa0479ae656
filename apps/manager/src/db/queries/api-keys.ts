// SQL for API keys (stored as SHA-256 of the full key; the prefix stays visible).
import { sql } from 'kysely';
import type { Db } from '../database.js';

export interface ApiKeyRow {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS = ['id', 'user_id', 'name', 'prefix', 'created_at', 'expires_at', 'last_used_at', 'revoked_at'] as const;

export async function insertApiKey(
  db: Db,
  v: { user_id: string; name: string; prefix: string; key_hash: string; expires_at: Date | null },
): Promise<ApiKeyRow> {
  return db.insertInto('api_keys').values(v).returning(COLUMNS).executeTakeFirstOrThrow();
}

/** An active (not revoked, not expired) key by hash; touches last_used_at at most once a minute. */
export async function useApiKey(db: Db, keyHash: string): Promise<ApiKeyRow | undefined> {
  const row = await db
    .selectFrom('api_keys')
    .select(COLUMNS)
    .where('key_hash', '=', keyHash)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
    .executeTakeFirst();
  if (row && (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000)) {
    await db
      .updateTable('api_keys')
      .set({ last_used_at: sql`now()` as never })
      .where('id', '=', row.id)
      .execute();
  }
  return row;
}

export function listApiKeys(db: Db, userId: string): Promise<ApiKeyRow[]> {
  return db.selectFrom('api_keys').select(COLUMNS).where('user_id', '=', userId).orderBy('id').execute();
}

export function findApiKey(db: Db, userId: string, id: string): Promise<ApiKeyRow | undefined> {
  return db
    .selectFrom('api_keys')
    .select(COLUMNS)
    .where('user_id', '=', userId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function revokeApiKey(db: Db, id: string): Promise<void> {
  await db
    .updateTable('api_keys')
    .set({ revoked_at: sql`coalesce(revoked_at, now())` as never })
    .where('id', '=', id)
    .execute();
}
