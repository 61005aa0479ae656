// SQL for results: batched idempotent ingest (UNNEST) with rollups and latest-per-series in one
// statement, and the reads behind the query API.
import { sql } from 'kysely';
import type { Scope } from '../../domain/principal.js';
import type { Db } from '../database.js';
import { inScope } from './scope.js';

export interface ResultRowIn {
  id: string;
  kind: string;
  target: string;
  started_at: string;
  duration_ms: number;
  ok: boolean;
  error_code: string | null;
  latency_ms: number | null;
  jitter_ms: number | null;
  loss_pct: number | null;
  metrics: string;
}

/**
 * Inserts a device's results; rows already stored (same id and started_at) are skipped, and only
 * the new ones feed the minute/hour/day rollups and the latest-per-series table. One statement.
 * @returns ids stored by this call
 */
export async function ingestResults(db: Db, deviceId: string, ouId: string, rows: ResultRowIn[]): Promise<string[]> {
  const col = <K extends keyof ResultRowIn>(k: K) => rows.map((r) => r[k]);
  const r = await sql<{ id: string }>`
    WITH input AS (
      SELECT * FROM unnest(
        ${col('id')}::uuid[], ${col('kind')}::text[], ${col('target')}::text[], ${col('started_at')}::timestamptz[],
        ${col('duration_ms')}::float8[], ${col('ok')}::bool[], ${col('error_code')}::text[], ${col('latency_ms')}::float8[],
        ${col('jitter_ms')}::float8[], ${col('loss_pct')}::float8[], ${col('metrics')}::jsonb[]
      ) AS t(id, kind, target, started_at, duration_ms, ok, error_code, latency_ms, jitter_ms, loss_pct, metrics)
    ),
    ins AS (
      INSERT INTO results (id, device_id, ou_id, kind, target, started_at, duration_ms, ok, error_code, latency_ms, jitter_ms, loss_pct, metrics)
      SELECT id, ${deviceId}::bigint, ${ouId}::bigint, kind, target, started_at, duration_ms, ok, error_code, latency_ms, jitter_ms, loss_pct, metrics
      FROM input
      ON CONFLICT DO NOTHING
      RETURNING id, kind, target, started_at, ok, error_code, latency_ms, jitter_ms, loss_pct
    ),
    roll AS (
      INSERT INTO result_rollups AS r (granularity, bucket, device_id, kind, target, ou_id, count, ok_count, lat_count,
        lat_sum, lat_min, lat_max, jitter_sum, jitter_count, loss_sum, loss_count, hist)
      SELECT g.granularity, date_trunc(g.granularity, ins.started_at), ${deviceId}::bigint, ins.kind, ins.target, ${ouId}::bigint,
        count(*), count(*) FILTER (WHERE ins.ok), count(ins.latency_ms), coalesce(sum(ins.latency_ms), 0),
        min(ins.latency_ms), max(ins.latency_ms), coalesce(sum(ins.jitter_ms), 0), count(ins.jitter_ms),
        coalesce(sum(ins.loss_pct), 0), count(ins.loss_pct), rk_hist(array_agg(ins.latency_ms))
      FROM ins CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) AS g(granularity)
      GROUP BY 1, 2, 4, 5
      -- a fixed order keeps concurrent batches from deadlocking on rollup rows
      ORDER BY 1, 4, 5, 2
      ON CONFLICT (granularity, device_id, kind, target, bucket) DO UPDATE SET
        count = r.count + excluded.count,
        ok_count = r.ok_count + excluded.ok_count,
        lat_count = r.lat_count + excluded.lat_count,
        lat_sum = r.lat_sum + excluded.lat_sum,
        lat_min = least(r.lat_min, excluded.lat_min),
        lat_max = greatest(r.lat_max, excluded.lat_max),
        jitter_sum = r.jitter_sum + excluded.jitter_sum,
        jitter_count = r.jitter_count + excluded.jitter_count,
        loss_sum = r.loss_sum + excluded.loss_sum,
        loss_count = r.loss_count + excluded.loss_count,
        hist = rk_hist_add(r.hist, excluded.hist)
    ),
    latest AS (
      INSERT INTO result_latest AS l (device_id, kind, target, ou_id, result_id, started_at, ok, error_code, latency_ms, jitter_ms, loss_pct)
      SELECT DISTINCT ON (kind, target) ${deviceId}::bigint, kind, target, ${ouId}::bigint, id, started_at, ok, error_code, latency_ms, jitter_ms, loss_pct
      FROM ins ORDER BY kind, target, started_at DESC
      ON CONFLICT (device_id, kind, target) DO UPDATE SET
        ou_id = excluded.ou_id, result_id = excluded.result_id, started_at = excluded.started_at, ok = excluded.ok,
        error_code = excluded.error_code, latency_ms = excluded.latency_ms, jitter_ms = excluded.jitter_ms, loss_pct = excluded.loss_pct
      WHERE excluded.started_at >= l.started_at
    )
    SELECT id FROM ins`.execute(db);
  return r.rows.map((x) => x.id);
}

export interface RollupRow {
  bucket: Date;
  count: number;
  ok_count: number;
  lat_count: number;
  lat_sum: number;
  lat_min: number | null;
  lat_max: number | null;
  jitter_sum: number;
  jitter_count: number;
  loss_sum: number;
  loss_count: number;
  hist: number[];
}

/** Rollup buckets of one series in [since, until), oldest first, scoped by the series' current OU. */
export function seriesRollups(
  db: Db,
  scope: Scope,
  q: { granularity: string; deviceId: string; kind: string; target: string; since: Date; until: Date; limit: number },
): Promise<RollupRow[]> {
  return db
    .selectFrom('result_rollups')
    .innerJoin('devices', 'devices.id', 'result_rollups.device_id')
    .innerJoin('ous', 'ous.id', 'devices.ou_id')
    .select([
      'result_rollups.bucket',
      'result_rollups.count',
      'result_rollups.ok_count',
      'result_rollups.lat_count',
      'result_rollups.lat_sum',
      'result_rollups.lat_min',
      'result_rollups.lat_max',
      'result_rollups.jitter_sum',
      'result_rollups.jitter_count',
      'result_rollups.loss_sum',
      'result_rollups.loss_count',
      'result_rollups.hist',
    ])
    .where('result_rollups.granularity', '=', q.granularity)
    .where('result_rollups.device_id', '=', q.deviceId)
    .where('result_rollups.kind', '=', q.kind)
    .where('result_rollups.target', '=', q.target)
    .where('result_rollups.bucket', '>=', q.since)
    .where('result_rollups.bucket', '<', q.until)
    .where((eb) => inScope(eb, scope, 'ous.path'))
    .orderBy('result_rollups.bucket')
    .limit(q.limit)
    .execute();
}

export interface LatestRow {
  device_id: string;
  hostname: string;
  kind: string;
  target: string;
  result_id: string;
  started_at: Date;
  ok: boolean;
  error_code: string | null;
  latency_ms: number | null;
  jitter_ms: number | null;
  loss_pct: number | null;
}

/** Latest result per device × kind × target in scope, keyset-paged by (device_id, kind, target). */
export function latestResults(
  db: Db,
  scope: Scope,
  q: {
    deviceId?: string;
    ouId?: string;
    kind?: string;
    target?: string;
    after?: [string, string, string];
    limit: number;
  },
): Promise<LatestRow[]> {
  let query = db
    .selectFrom('result_latest')
    .innerJoin('devices', 'devices.id', 'result_latest.device_id')
    .innerJoin('ous', 'ous.id', 'devices.ou_id')
    .select([
      'result_latest.device_id',
      'devices.hostname',
      'result_latest.kind',
      'result_latest.target',
      'result_latest.result_id',
      'result_latest.started_at',
      'result_latest.ok',
      'result_latest.error_code',
      'result_latest.latency_ms',
      'result_latest.jitter_ms',
      'result_latest.loss_pct',
    ])
    .where((eb) => inScope(eb, scope, 'ous.path'))
    .orderBy('result_latest.device_id')
    .orderBy('result_latest.kind')
    .orderBy('result_latest.target')
    .limit(q.limit + 1);
  if (q.deviceId) query = query.where('result_latest.device_id', '=', q.deviceId);
  if (q.ouId) query = query.where('ous.path', 'like', sql<string>`(SELECT path FROM ous WHERE id = ${q.ouId}) || '%'`);
  if (q.kind) query = query.where('result_latest.kind', '=', q.kind);
  if (q.target) query = query.where('result_latest.target', '=', q.target);
  if (q.after) {
    const [d, k, t] = q.after;
    query = query.where(
      sql<boolean>`(result_latest.device_id, result_latest.kind, result_latest.target) > (${d}::bigint, ${k}, ${t})`,
    );
  }
  return query.execute();
}

/** Creates daily partitions of `results` from today to `daysAhead` days ahead (idempotent). */
export async function ensureResultPartitions(db: Db, daysAhead = 3): Promise<void> {
  await sql`DO $$
    DECLARE d date;
    BEGIN
      FOR i IN 1..${sql.lit(daysAhead)} LOOP
        d := current_date + i;
        IF to_regclass('results_' || to_char(d, 'YYYYMMDD')) IS NULL THEN
          BEGIN
            EXECUTE format('CREATE TABLE %I PARTITION OF results FOR VALUES FROM (%L) TO (%L)',
              'results_' || to_char(d, 'YYYYMMDD'), d, d + 1);
          EXCEPTION WHEN others THEN
            -- rows for that day already sit in the default partition (a skewed clock): leave them there
            NULL;
          END;
        END IF;
      END LOOP;
    END $$`.execute(db);
}

/** Drops daily partitions entirely older than `days` days and deletes old rollups and default-partition rows. */
export async function applyRetention(
  db: Db,
  r: { rawDays: number; minuteDays: number; hourDays: number; dayDays: number },
): Promise<void> {
  await sql`DO $$
    DECLARE p record;
    BEGIN
      FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = 'results'::regclass AND c.relname ~ '^results_[0-9]{8}$'
                 AND to_date(substr(c.relname, 9), 'YYYYMMDD') < current_date - ${sql.lit(r.rawDays)} LOOP
        EXECUTE format('DROP TABLE %I', p.relname);
      END LOOP;
    END $$`.execute(db);
  await sql`DELETE FROM results_default WHERE started_at < now() - make_interval(days => ${r.rawDays})`.execute(db);
  await sql`DELETE FROM result_rollups WHERE
      (granularity = 'minute' AND bucket < now() - make_interval(days => ${r.minuteDays})) OR
      (granularity = 'hour' AND bucket < now() - make_interval(days => ${r.hourDays})) OR
      (granularity = 'day' AND bucket < now() - make_interval(days => ${r.dayDays}))`.execute(db);
}
