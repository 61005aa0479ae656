// SQL for TOTP recovery codes (stored hashed, single use).
import { sql } from 'kysely';
import type { Db } from '../database.js';

export async function replaceRecoveryCodes(db: Db, userId: string, hashes: string[]): Promise<void> {
  await db.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
  if (hashes.length) {
    await db
      .insertInto('recovery_codes')
      .values(hashes.map((code_hash) => ({ user_id: userId, code_hash })))
      .execute();
  }
}

/** Marks an unused code used; false when it does not exist or was used already. */
export async function useRecoveryCode(db: Db, userId: string, hash: string): Promise<boolean> {
  const r = await db
    .updateTable('recovery_codes')
    .set({ used_at: sql`now()` as never })
    .where('user_id', '=', userId)
    .where('code_hash', '=', hash)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}
