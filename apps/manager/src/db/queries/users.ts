// SQL for users; each function is one statement and takes its connection.
import { sql } from 'kysely';
import type { Scope } from '../../domain/principal.js';
import type { Db } from '../database.js';
import { escapeLike, inScope } from './scope.js';

export interface UserRow {
  id: string;
  username: string;
  email: string | null;
  full_name: string;
  password_hash: string;
  role: string;
  ou_id: string | null;
  ou_path: string | null;
  disabled: boolean;
  token_version: number;
  totp_secret: string | null;
  totp_enabled: boolean;
  totp_last_step: string | null;
  created_at: Date;
  updated_at: Date;
}

function base(db: Db) {
  return db
    .selectFrom('users')
    .leftJoin('ous', 'ous.id', 'users.ou_id')
    .selectAll('users')
    .select('ous.path as ou_path');
}

export function findUserByUsername(db: Db, username: string): Promise<UserRow | undefined> {
  return base(db)
    .where(sql`lower(users.username)`, '=', username.toLowerCase())
    .executeTakeFirst() as Promise<UserRow | undefined>;
}

/** Unscoped lookup, for authentication. */
export function findUserById(db: Db, id: string): Promise<UserRow | undefined> {
  return base(db).where('users.id', '=', id).executeTakeFirst() as Promise<UserRow | undefined>;
}

/**
 * A user visible in scope: everyone sees themselves (`selfId`); global users only to `all`; OU roles
 * see the users of their subtree; plain users see nobody else.
 */
export function findUserScoped(db: Db, scope: Scope, id: string, selfId: string): Promise<UserRow | undefined> {
  return base(db)
    .where('users.id', '=', id)
    .where((eb) =>
      eb.or([eb('users.id', '=', selfId), scope.kind === 'own' ? eb.val(false) : inScope(eb, scope, 'ous.path')]),
    )
    .executeTakeFirst() as Promise<UserRow | undefined>;
}

export interface ListUsersOptions {
  afterId?: string;
  limit: number;
  ouId?: string;
  role?: string;
  q?: string;
}

export function listUsers(db: Db, scope: Scope, selfId: string, o: ListUsersOptions): Promise<UserRow[]> {
  let q = base(db)
    .where((eb) =>
      eb.or([eb('users.id', '=', selfId), scope.kind === 'own' ? eb.val(false) : inScope(eb, scope, 'ous.path')]),
    )
    .orderBy('users.id')
    .limit(o.limit + 1);
  if (o.afterId) q = q.where('users.id', '>', o.afterId);
  if (o.ouId) q = q.where('users.ou_id', '=', o.ouId);
  if (o.role) q = q.where('users.role', '=', o.role);
  if (o.q) q = q.where('users.username', 'ilike', `%${escapeLike(o.q)}%`);
  return q.execute() as Promise<UserRow[]>;
}

export interface NewUser {
  username: string;
  email: string | null;
  full_name: string;
  password_hash: string;
  role: string;
  ou_id: string | null;
}

export async function insertUser(db: Db, u: NewUser): Promise<string> {
  const r = await db.insertInto('users').values(u).returning('id').executeTakeFirstOrThrow();
  return r.id;
}

export interface UserPatch {
  email?: string | null;
  full_name?: string;
  role?: string;
  ou_id?: string | null;
  disabled?: boolean;
  password_hash?: string;
  totp_secret?: string | null;
  totp_enabled?: boolean;
  totp_last_step?: string | null;
  /** bump token_version: every token issued before is rejected */
  revokeTokens?: boolean;
}

export async function updateUser(db: Db, id: string, p: UserPatch): Promise<void> {
  const { revokeTokens, ...set } = p;
  await db
    .updateTable('users')
    .set({
      ...set,
      updated_at: sql`now()` as never,
      ...(revokeTokens ? { token_version: sql`token_version + 1` as never } : {}),
    })
    .where('id', '=', id)
    .execute();
}

/**
 * Records a TOTP step as used if it is newer than the last one: returns false when the step (or a
 * later one) was already used, which makes each code single-use even under concurrent logins.
 */
export async function claimTotpStep(db: Db, id: string, step: number): Promise<boolean> {
  const r = await db
    .updateTable('users')
    .set({ totp_last_step: String(step) })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('totp_last_step', 'is', null), eb('totp_last_step', '<', String(step))]))
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

export async function deleteUser(db: Db, id: string): Promise<void> {
  await db.deleteFrom('users').where('id', '=', id).execute();
}

export async function countUsers(db: Db): Promise<number> {
  const r = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  return Number(r.n);
}
