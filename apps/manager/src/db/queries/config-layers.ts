// SQL for configuration layers (global, OU, device) and their version history.
import { sql } from 'kysely';
import type { Db } from '../database.js';

export type LayerScope = { type: 'global'; id: null } | { type: 'ou'; id: string } | { type: 'device'; id: string };

export interface LayerRow {
  scope_type: string;
  scope_id: string | null;
  name: string;
  doc: unknown;
  locked: string[];
  version: string;
  updated_by: string | null;
  updated_at: Date;
}

const COLUMNS = ['scope_type', 'scope_id', 'name', 'doc', 'locked', 'version', 'updated_by', 'updated_at'] as const;

export function findLayer(db: Db, s: LayerScope): Promise<LayerRow | undefined> {
  let q = db.selectFrom('config_layers').select(COLUMNS).where('scope_type', '=', s.type);
  q = s.id === null ? q.where('scope_id', 'is', null) : q.where('scope_id', '=', s.id);
  return q.executeTakeFirst();
}

/**
 * The global layer and those of each OU of `ouPath`, root first: a device's chain without its own
 * layer (`findLayer` reads that one).
 */
export async function layersForChain(db: Db, ouPath: string): Promise<LayerRow[]> {
  const ouIds = ouPath.split('/').filter(Boolean);
  const rows = await db
    .selectFrom('config_layers')
    .select(COLUMNS)
    .where((eb) =>
      eb.or([
        eb('scope_type', '=', 'global'),
        eb.and([eb('scope_type', '=', 'ou'), eb('scope_id', 'in', ouIds.length ? ouIds : ['0'])]),
      ]),
    )
    .execute();
  const rank = (r: LayerRow) => (r.scope_type === 'global' ? -1 : ouIds.indexOf(r.scope_id ?? ''));
  return rows.sort((a, b) => rank(a) - rank(b));
}

/** Ids of the devices that have a layer of their own. */
export async function devicesWithLayers(db: Db): Promise<Set<string>> {
  const rows = await db.selectFrom('config_layers').select('scope_id').where('scope_type', '=', 'device').execute();
  return new Set(rows.map((r) => String(r.scope_id)));
}

/** Creates or replaces a layer with a new fleet-wide version, and records the history row. */
export async function upsertLayer(
  db: Db,
  s: LayerScope,
  v: { name: string; doc: unknown; locked: string[]; updated_by: string },
): Promise<LayerRow> {
  const doc = JSON.stringify(v.doc);
  const r = await sql<LayerRow>`WITH up AS (
      INSERT INTO config_layers (scope_type, scope_id, name, doc, locked, version, updated_by)
      VALUES (${s.type}, ${s.id}::bigint, ${v.name}, ${doc}::jsonb, ${v.locked}::text[], nextval('config_epoch'), ${v.updated_by}::bigint)
      ON CONFLICT (scope_type, coalesce(scope_id, 0)) DO UPDATE SET
        name = excluded.name, doc = excluded.doc, locked = excluded.locked, version = excluded.version,
        updated_by = excluded.updated_by, updated_at = now()
      RETURNING scope_type, scope_id, name, doc, locked, version, updated_by, updated_at),
    h AS (INSERT INTO config_layer_history (scope_type, scope_id, version, name, doc, locked, changed_by)
      SELECT scope_type, scope_id, version, name, doc, locked, updated_by FROM up)
    SELECT * FROM up`.execute(db);
  const row = r.rows[0];
  if (!row) throw new Error('upsert returned no row');
  return row;
}

export interface HistoryRow {
  id: string;
  version: string;
  name: string;
  doc: unknown;
  locked: string[];
  changed_by: string | null;
  changed_at: Date;
}

export function layerHistory(db: Db, s: LayerScope, o: { beforeId?: string; limit: number }): Promise<HistoryRow[]> {
  let q = db
    .selectFrom('config_layer_history')
    .select(['id', 'version', 'name', 'doc', 'locked', 'changed_by', 'changed_at'])
    .where('scope_type', '=', s.type)
    .orderBy('id', 'desc')
    .limit(o.limit + 1);
  q = s.id === null ? q.where('scope_id', 'is', null) : q.where('scope_id', '=', s.id);
  if (o.beforeId) q = q.where('id', '<', o.beforeId);
  return q.execute() as Promise<HistoryRow[]>;
}

/** Removes the layer of a deleted device or OU. */
export async function deleteLayer(db: Db, s: LayerScope): Promise<void> {
  let q = db.deleteFrom('config_layers').where('scope_type', '=', s.type);
  q = s.id === null ? q.where('scope_id', 'is', null) : q.where('scope_id', '=', s.id);
  await q.execute();
}
