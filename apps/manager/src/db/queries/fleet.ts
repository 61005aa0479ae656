// SQL for the fleet summary: devices, open alerts and failing series per child OU of a subtree.
// Counts are taken per OU (devices by devices.ou_id, series by result_latest.ou_id, which the
// devices_moved trigger keeps equal to the device's OU) and only then folded into child OUs, so
// no per-device string work and no join of the latest rows to the devices table.
import { sql } from 'kysely';
import type { Db } from '../database.js';
import { escapeLike } from './scope.js';

export interface SummaryRow {
  /** child OU id, or null for devices directly in the parent */
  ou_id: string | null;
  /** the child OU's name; null with `ou_id` */
  name: string | null;
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
  return (await fleetSummaryQuery(parentPath).execute(db)).rows;
}

/** The statement of `fleetSummary`, unexecuted (bench B9 runs it under EXPLAIN ANALYZE). */
export function fleetSummaryQuery(parentPath: string) {
  // every OU lies under '/': skip the per-row membership probe (~15 % of the root summary's time)
  const under = (col: string) => (parentPath === '/' ? sql`true` : sql`${sql.ref(col)} IN (SELECT id FROM o)`);
  return sql<SummaryRow>`
    WITH o AS (
      SELECT id, nullif(split_part(substr(path, ${parentPath.length + 1}), '/', 1), '') AS child
      FROM ous WHERE path LIKE ${`${escapeLike(parentPath)}%`}
    ),
    -- open alerts are few (partial index); fold them per device before meeting the devices scan
    a AS (
      SELECT device_id, count(*) FILTER (WHERE state = 'warning') AS w, count(*) FILTER (WHERE state = 'critical') AS c
      FROM alert_states WHERE state <> 'ok' GROUP BY 1
    ),
    g AS (
      SELECT dv.ou_id, count(*) AS devices, count(*) FILTER (WHERE dv.status = 'online') AS online,
        coalesce(sum(a.w), 0) AS w, coalesce(sum(a.c), 0) AS c
      FROM devices dv LEFT JOIN a ON a.device_id = dv.id
      WHERE ${under('dv.ou_id')} GROUP BY 1
    ),
    l AS (
      SELECT ou_id, count(*) AS n, count(*) FILTER (WHERE NOT ok) AS failing
      FROM result_latest WHERE ${under('ou_id')} GROUP BY 1
    )
    SELECT o.child AS ou_id, min(c.name) AS name, sum(g.devices)::int AS devices, sum(g.online)::int AS online,
      sum(g.devices - g.online)::int AS offline, sum(g.w)::int AS alerts_warning, sum(g.c)::int AS alerts_critical,
      coalesce(sum(l.n), 0)::int AS series, coalesce(sum(l.failing), 0)::int AS series_failing
    FROM o JOIN g ON g.ou_id = o.id LEFT JOIN l ON l.ou_id = o.id LEFT JOIN ous c ON c.id = o.child::bigint
    GROUP BY o.child
    ORDER BY o.child NULLS FIRST`;
}
