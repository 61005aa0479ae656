// SQL for enrollment secrets (stored as SHA-256; uses counted atomically).
import { sql } from 'kysely';
import type { Scope } from '../../domain/principal.js';
import type { Db } from '../database.js';
import { inScope } from './scope.js';

export interface SecretRow {
  id: string;
  ou_id: string;
  name: string;
  prefix: string;
  created_at: Date;
  expires_at: Date | null;
  max_uses: number | null;
  uses: number;
  revoked_at: Date | null;
}

const COLUMNS = [
  'enrollment_secrets.id',
  'enrollment_secrets.ou_id',
  'enrollment_secrets.name',
  'enrollment_secrets.prefix',
  'enrollment_secrets.created_at',
  'enrollment_secrets.expires_at',
  'enrollment_secrets.max_uses',
  'enrollment_secrets.uses',
  'enrollment_secrets.revoked_at',
] as const;

export async function insertSecret(
  db: Db,
  v: {
    ou_id: string;
    name: string;
    secret_hash: string;
    prefix: string;
    created_by: string | null;
    expires_at: Date | null;
    max_uses: number | null;
  },
): Promise<SecretRow> {
  return db.insertInto('enrollment_secrets').values(v).returning(COLUMNS).executeTakeFirstOrThrow();
}

/**
 * Spends one use of a currently valid secret (not revoked, not expired, uses left) and returns it;
 * undefined when there is no such secret. Concurrent callers of a single-use secret: one wins.
 */
export async function spendSecret(db: Db, secretHash: string): Promise<{ id: string; ou_id: string } | undefined> {
  return db
    .updateTable('enrollment_secrets')
    .set({ uses: sql`uses + 1` as never })
    .where('secret_hash', '=', secretHash)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', sql<Date>`now()`)]))
    .where((eb) => eb.or([eb('max_uses', 'is', null), eb('uses', '<', eb.ref('max_uses'))]))
    .returning(['id', 'ou_id'])
    .executeTakeFirst();
}

export function listSecrets(
  db: Db,
  scope: Scope,
  o: { ouId?: string; afterId?: string; limit: number },
): Promise<SecretRow[]> {
  let q = db
    .selectFrom('enrollment_secrets')
    .innerJoin('ous', 'ous.id', 'enrollment_secrets.ou_id')
    .select(COLUMNS)
    .where((eb) => inScope(eb, scope, 'ous.path'))
    .orderBy('enrollment_secrets.id')
    .limit(o.limit + 1);
  if (o.ouId) q = q.where('enrollment_secrets.ou_id', '=', o.ouId);
  if (o.afterId) q = q.where('enrollment_secrets.id', '>', o.afterId);
  return q.execute();
}

export function findSecret(db: Db, scope: Scope, id: string): Promise<(SecretRow & { ou_path: string }) | undefined> {
  return db
    .selectFrom('enrollment_secrets')
    .innerJoin('ous', 'ous.id', 'enrollment_secrets.ou_id')
    .select([...COLUMNS, 'ous.path as ou_path'])
    .where('enrollment_secrets.id', '=', id)
    .where((eb) => inScope(eb, scope, 'ous.path'))
    .executeTakeFirst();
}

export async function revokeSecret(db: Db, id: string): Promise<void> {
  await db
    .updateTable('enrollment_secrets')
    .set({ revoked_at: sql`coalesce(revoked_at, now())` as never })
    .where('id', '=', id)
    .execute();
}
