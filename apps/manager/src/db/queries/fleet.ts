// The fleet summary (devices, open alerts and failing series per child OU of a subtree): every OU's direct
// counts in one statement, folded into a subtree's children in memory.
import { sql } from 'kysely';

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

/** Direct counts of one OU (its own devices and series, not its descendants'), with its path and name. */
export interface OuCounts {
  id: string;
  path: string;
  name: string;
  devices: number;
  online: number;
  alerts_warning: number;
  alerts_critical: number;
  series: number;
  series_failing: number;
}

/**
 * Every OU's direct counts in one statement. Counts are taken per OU (devices by devices.ou_id, series by
 * result_latest.ou_id, which the devices_moved trigger keeps equal to the device's OU), so no per-device
 * string work and no join of the latest rows to the devices table. It reads the whole fleet (bench B9:
 * about 75–115 ms at 100k devices and 300k series), which is why `FleetSummaryService` keeps the result
 * for a few seconds and folds it into any subtree's summary.
 */
export function ouCountsQuery() {
  return sql<OuCounts>`
    WITH a AS (
      SELECT device_id, count(*) FILTER (WHERE state = 'warning') AS w, count(*) FILTER (WHERE state = 'critical') AS c
      FROM alert_states WHERE state <> 'ok' GROUP BY 1
    ),
    g AS (
      SELECT dv.ou_id, count(*) AS devices, count(*) FILTER (WHERE dv.status = 'online') AS online,
        coalesce(sum(a.w), 0) AS w, coalesce(sum(a.c), 0) AS c
      FROM devices dv LEFT JOIN a ON a.device_id = dv.id GROUP BY 1
    ),
    l AS (SELECT ou_id, count(*) AS n, count(*) FILTER (WHERE NOT ok) AS failing FROM result_latest GROUP BY 1)
    SELECT o.id, o.path, o.name, coalesce(g.devices, 0)::int AS devices, coalesce(g.online, 0)::int AS online,
      coalesce(g.w, 0)::int AS alerts_warning, coalesce(g.c, 0)::int AS alerts_critical,
      coalesce(l.n, 0)::int AS series, coalesce(l.failing, 0)::int AS series_failing
    FROM ous o LEFT JOIN g ON g.ou_id = o.id LEFT JOIN l ON l.ou_id = o.id`;
}

/**
 * The summary of `parentPath` ('/' for the roots) from every OU's direct counts: one row per child of
 * `parentPath` that holds devices (descendants counted in), plus a row with `ou_id` null for devices
 * directly in the parent; ordered by the child's id as text, null first.
 */
export function foldSummary(counts: readonly OuCounts[], parentPath: string): SummaryRow[] {
  const names = new Map(counts.map((c) => [c.id, c.name]));
  const rows = new Map<string | null, SummaryRow>();
  for (const c of counts) {
    if (c.devices === 0 || !c.path.startsWith(parentPath)) continue;
    const child = c.path.slice(parentPath.length).split('/')[0] || null;
    let r = rows.get(child);
    if (!r) {
      r = {
        ou_id: child,
        name: child === null ? null : (names.get(child) ?? null),
        devices: 0,
        online: 0,
        offline: 0,
        alerts_warning: 0,
        alerts_critical: 0,
        series: 0,
        series_failing: 0,
      };
      rows.set(child, r);
    }
    r.devices += c.devices;
    r.online += c.online;
    r.offline += c.devices - c.online;
    r.alerts_warning += c.alerts_warning;
    r.alerts_critical += c.alerts_critical;
    r.series += c.series;
    r.series_failing += c.series_failing;
  }
  // keys are distinct; null sorts as '' (before every id)
  return [...rows.values()].sort((x, y) => ((x.ou_id ?? '') < (y.ou_id ?? '') ? -1 : 1));
}
