// SQL for the fleet summary: devices, open alerts and failing series per child OU of a subtree,
// each computed in one scan of the subtree grouped by the child-level path segment.
import { sql } from 'kysely';
import type { Db } from '../database.js';

export interface SummaryRow {
  /** child OU id, or null for devices directly in the parent */
  ou_id: string | null;
  devices: number;
  online: number;
  offline: number;
  alerts_warning: number;
  alerts_critical: number;
  series: number;
  series_failing: number;
}

/**
 * One row per child of `parentPath` that holds devices (descendants counted in), plus a row with
 * `ou_id` null for devices directly in the parent. `parentPath` '/' summarises the roots.
 */
export async function fleetSummary(db: Db, parentPath: string): Promise<SummaryRow[]> {
  const child = sql`nullif(split_part(substr(o.path, ${parentPath.length + 1}), '/', 1), '')`;
  const r = await sql<SummaryRow>`
    WITH d AS (
      SELECT dv.id, dv.status, ${child} AS ou_id
      FROM devices dv JOIN ous o ON o.id = dv.ou_id
      WHERE o.path LIKE ${`${parentPath}%`}
    ),
    a AS (
      SELECT d.ou_id, count(*) FILTER (WHERE s.state = 'warning') AS w, count(*) FILTER (WHERE s.state = 'critical') AS c
      FROM alert_states s JOIN d ON d.id = s.device_id WHERE s.state <> 'ok' GROUP BY 1
    ),
    l AS (
      SELECT d.ou_id, count(*) AS n, count(*) FILTER (WHERE NOT r.ok) AS failing
      FROM result_latest r JOIN d ON d.id = r.device_id GROUP BY 1
    ),
    g AS (
      SELECT ou_id, count(*) AS devices, count(*) FILTER (WHERE status = 'online') AS online FROM d GROUP BY 1
    )
    SELECT g.ou_id, g.devices::int, g.online::int, (g.devices - g.online)::int AS offline,
      coalesce(a.w, 0)::int AS alerts_warning, coalesce(a.c, 0)::int AS alerts_critical,
      coalesce(l.n, 0)::int AS series, coalesce(l.failing, 0)::int AS series_failing
    FROM g LEFT JOIN a ON a.ou_id IS NOT DISTINCT FROM g.ou_id LEFT JOIN l ON l.ou_id IS NOT DISTINCT FROM g.ou_id
    ORDER BY g.ou_id NULLS FIRST`.execute(db);
  return r.rows;
}
