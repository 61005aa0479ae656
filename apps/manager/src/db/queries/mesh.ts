// SQL for the agent-to-agent mesh: latest results whose target names another device (by hostname).
import { sql } from 'kysely';
import type { Scope } from '../../domain/principal.js';
import type { Db } from '../database.js';

export interface MeshCell {
  source_id: string;
  source: string;
  dest_id: string;
  dest: string;
  kind: string;
  ok: boolean;
  latency_ms: number | null;
  loss_pct: number | null;
  started_at: Date;
}

/** The host part of a probe target: scheme, user info, port, path and DNS "name@" stripped. */
const HOST = sql`lower(split_part(split_part(regexp_replace(regexp_replace(r.target, '^[a-z]+://', ''), '^[^@/]*@', ''), '/', 1), ':', 1))`;

/** The mesh statement (see `meshCells`), unexecuted: benchmarks compile it as the manager runs it. */
export function meshQuery(scope: Scope, o: { kind?: string; ouPath?: string; limit: number }) {
  const visible = (alias: string) => {
    const col = sql.raw(`${alias}.path`);
    const parts = [];
    if (scope.kind === 'subtree') parts.push(sql`${col} LIKE ${`${scope.path}%`}`);
    if (scope.kind === 'own') parts.push(sql`${col} = ${scope.path}`);
    if (scope.kind === 'none') parts.push(sql`false`);
    if (o.ouPath) parts.push(sql`${col} LIKE ${`${o.ouPath}%`}`);
    return parts.length ? sql.join(parts, sql` AND `) : sql`true`;
  };
  return sql<MeshCell>`
    SELECT s.id AS source_id, s.hostname AS source, d.id AS dest_id, d.hostname AS dest, r.kind, r.ok,
      r.latency_ms, r.loss_pct, r.started_at
    FROM result_latest r
    JOIN devices s ON s.id = r.device_id JOIN ous so ON so.id = s.ou_id
    JOIN devices d ON lower(d.hostname) = ${HOST} AND d.id <> s.id JOIN ous dou ON dou.id = d.ou_id
    WHERE ${visible('so')} AND ${visible('dou')} ${o.kind ? sql`AND r.kind = ${o.kind}` : sql``}
    ORDER BY s.hostname, d.hostname, r.kind
    LIMIT ${o.limit}`;
}

/** Cells source → destination, both devices inside `scope` (and under `ouPath` when given). */
export async function meshCells(
  db: Db,
  scope: Scope,
  o: { kind?: string; ouPath?: string; limit: number },
): Promise<MeshCell[]> {
  return (await meshQuery(scope, o).execute(db)).rows;
}
