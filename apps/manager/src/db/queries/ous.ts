// SQL for organisation units; each function is one statement and takes its connection.
import { sql } from 'kysely';
import type { Scope } from '../../domain/principal.js';
import type { Db } from '../database.js';
import { escapeLike, inScope } from './scope.js';

export interface OuRow {
  id: string;
  parent_id: string | null;
  name: string;
  path: string;
  description: string;
  /** most devices this OU may hold (its own, not descendants'); null = no cap */
  device_cap: number | null;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS = ['id', 'parent_id', 'name', 'path', 'description', 'device_cap', 'created_at', 'updated_at'] as const;

/** The OU with this id if it lies in scope, else undefined. */
export function findOu(db: Db, scope: Scope, id: string): Promise<OuRow | undefined> {
  return db
    .selectFrom('ous')
    .select(COLUMNS)
    .where('id', '=', id)
    .where((eb) => inScope(eb, scope, 'ous.path'))
    .executeTakeFirst();
}

/** Unscoped lookup for internal use (path resolution of a principal). */
export function findOuUnscoped(db: Db, id: string): Promise<OuRow | undefined> {
  return db.selectFrom('ous').select(COLUMNS).where('id', '=', id).executeTakeFirst();
}

export interface ListOusOptions {
  afterId?: string;
  limit: number;
  parentId?: string;
  q?: string;
}

/** OUs in scope ordered by id, `limit + 1` rows for keyset paging. */
export function listOus(db: Db, scope: Scope, o: ListOusOptions): Promise<OuRow[]> {
  let q = db
    .selectFrom('ous')
    .select(COLUMNS)
    .where((eb) => inScope(eb, scope, 'ous.path'))
    .orderBy('id')
    .limit(o.limit + 1);
  if (o.afterId) q = q.where('id', '>', o.afterId);
  if (o.parentId) q = q.where('parent_id', '=', o.parentId);
  if (o.q) q = q.where('name', 'ilike', `%${escapeLike(o.q)}%`);
  return q.execute();
}

/** Inserts an OU under `parent` (or as a root); its path ends with its own new id. */
export async function insertOu(
  db: Db,
  v: { name: string; description: string; parent: { id: string; path: string } | null },
): Promise<OuRow> {
  const r = await sql<OuRow>`WITH n AS (SELECT nextval(pg_get_serial_sequence('ous', 'id')) AS id)
    INSERT INTO ous (id, parent_id, name, description, path) OVERRIDING SYSTEM VALUE
    SELECT n.id, ${v.parent?.id ?? null}::bigint, ${v.name}, ${v.description}, ${v.parent?.path ?? '/'} || n.id || '/'
    FROM n
    RETURNING id, parent_id, name, path, description, device_cap, created_at, updated_at`.execute(db);
  const row = r.rows[0];
  if (!row) throw new Error('insert returned no row');
  return row;
}

export function updateOu(
  db: Db,
  id: string,
  v: { name?: string; description?: string; device_cap?: number | null },
): Promise<OuRow> {
  return db
    .updateTable('ous')
    .set({ ...v, updated_at: sql`now()` as never })
    .where('id', '=', id)
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

/** Moves the OU and its whole subtree under a new parent by rewriting path prefixes. */
export async function moveOu(db: Db, ou: OuRow, parent: OuRow): Promise<void> {
  const newPath = `${parent.path}${ou.id}/`;
  await sql`UPDATE ous SET
      path = ${newPath} || substr(path, ${ou.path.length + 1}),
      parent_id = CASE WHEN id = ${ou.id} THEN ${parent.id}::bigint ELSE parent_id END,
      updated_at = now()
    WHERE path LIKE ${`${ou.path}%`}`.execute(db);
}

/**
 * Gives every device under `path` (the OU and its subtree) a new config epoch, so their effective config
 * versions increase after the subtree moved. @returns the highest new epoch (0 without devices)
 */
export async function raiseConfigEpochs(db: Db, path: string): Promise<number> {
  const r = await sql<{ v: string | null }>`
    WITH up AS (
      UPDATE devices SET config_epoch = nextval('config_epoch'), updated_at = now()
      WHERE ou_id IN (SELECT id FROM ous WHERE path LIKE ${`${path}%`})
      RETURNING config_epoch
    )
    SELECT max(config_epoch)::text AS v FROM up`.execute(db);
  return Number(r.rows[0]?.v ?? 0);
}

/** Counts what keeps an OU from being deleted: child OUs, users, devices, unrevoked enrollment secrets. */
export async function ouDependents(db: Db, id: string): Promise<Record<string, number>> {
  const r = await sql<{ children: string; users: string; devices: string; secrets: string }>`SELECT
      (SELECT count(*) FROM ous WHERE parent_id = ${id}) AS children,
      (SELECT count(*) FROM users WHERE ou_id = ${id}) AS users,
      (SELECT count(*) FROM devices WHERE ou_id = ${id}) AS devices,
      (SELECT count(*) FROM enrollment_secrets WHERE ou_id = ${id} AND revoked_at IS NULL) AS secrets`.execute(db);
  const row = r.rows[0];
  return {
    child_ous: Number(row?.children ?? 0),
    users: Number(row?.users ?? 0),
    devices: Number(row?.devices ?? 0),
    enrollment_secrets: Number(row?.secrets ?? 0),
  };
}

/** Deletes what an empty OU still owns: revoked secrets and its config layer. */
export async function deleteOuLeftovers(db: Db, id: string): Promise<void> {
  await sql`WITH s AS (DELETE FROM enrollment_secrets WHERE ou_id = ${id})
    DELETE FROM config_layers WHERE scope_type = 'ou' AND scope_id = ${id}`.execute(db);
}

export async function deleteOu(db: Db, id: string): Promise<void> {
  await deleteOuLeftovers(db, id);
  await db.deleteFrom('ous').where('id', '=', id).execute();
}
