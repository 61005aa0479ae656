// SQL for results: batched idempotent ingest (UNNEST) of many devices' results with latest-per-series,
// rollup upserts, and the reads behind the query API.
import { sql } from 'kysely';
import { HIST_BUCKETS } from '../../domain/result-headline.js';
import type { RolledUp, RollupCounters } from '../../domain/rollups.js';
import type { Scope } from '../../domain/principal.js';
import { type Db, PREPARED } from '../database.js';
import { binaryArray, RecordArrayWriter } from '../pg-binary.js';
import { inScope } from './scope.js';

export interface ResultRowIn {
  id: string;
  kind: string;
  target: string;
  started_at: string;
  duration_ms: number;
  ok: boolean;
  error_code: string | null;
  error_message: string | null;
  latency_ms: number | null;
  jitter_ms: number | null;
  loss_pct: number | null;
  metrics: string;
}

/** A result row with the device (and its OU at upload time) it belongs to. */
export interface IngestRow extends ResultRowIn {
  device_id: string;
  ou_id: string;
  /** `started_at` as ms since the epoch, when the caller has it already (else it is parsed again) */
  started_ms?: number;
}

/** An alert machine's state as `storeResults` reads (and locks) it. */
export interface AlertStateRow {
  device_id: string;
  kind: string;
  target: string;
  metric: string;
  state: 'ok' | 'warning' | 'critical';
  pending: 'ok' | 'warning' | 'critical';
  pending_count: number;
}

/** A series (device × kind × target) whose alert machines a batch locks. */
export interface SeriesKey {
  device_id: string;
  kind: string;
  target: string;
}

/** A series of a batch, with the index in the batch of its newest row (the one `result_latest` takes). */
export interface BatchSeries extends SeriesKey {
  newest: number;
}

/** A series' key: device, kind and target, each ended by NUL. */
export const seriesKey = (deviceId: string, kind: string, target: string) =>
  `${deviceId}\u0000${kind}\u0000${target}\u0000`;

/**
 * The series of a batch of rows, each once, in no particular order, each with its newest row (of equal
 * start times, the last). Start times compare as text: ingest keeps them in `Date#toISOString`'s form
 * (`canonicalTime`), 24 characters for every year it accepts. Pass to `storeResults`, whose statement locks
 * the series' alert machines in one fixed order (its ORDER BY under FOR UPDATE) and updates latest-per-series
 * from the newest rows without sorting the batch.
 */
export function batchSeries(rows: readonly IngestRow[]): BatchSeries[] {
  const m = new Map<string, BatchSeries>();
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as IngestRow;
    const key = seriesKey(r.device_id, r.kind, r.target);
    const s = m.get(key);
    if (s === undefined) m.set(key, { device_id: r.device_id, kind: r.kind, target: r.target, newest: i });
    else if (r.started_at >= (rows[s.newest] as IngestRow).started_at) s.newest = i;
  }
  return [...m.values()];
}

/** Columns of `results` that ingest writes (fields of `result_in`, migration 0015, but `newest`). */
const COLUMNS =
  'id, device_id, ou_id, kind, target, started_at, duration_ms, ok, error_code, error_message, latency_ms, jitter_ms, loss_pct, metrics';
/** What latest and the rollup queue read of a stored row. */
const RETURNED = 'id, device_id, ou_id, kind, target, started_at, ok, error_code, latency_ms, jitter_ms, loss_pct';
/** What latest-per-series takes of a stored row. */
const LATEST = 'device_id, kind, target, ou_id, id, started_at, ok, error_code, latency_ms, jitter_ms, loss_pct';

/** A guess at a `result_in` record's bytes: its fixed fields and the type and length words take about 200, a probe's metrics a few hundred more. */
const RESULT_IN_BYTES = 512;

/**
 * The batch as one binary array of `result_in` (migration 0015), in its fields' order: the row and whether it
 * is its series' newest in the batch (`newest[i]` 1), which result_latest takes.
 */
function resultInArray(oid: number, rows: readonly IngestRow[], newest: Uint8Array): Buffer {
  const w = new RecordArrayWriter(oid, rows.length, RESULT_IN_BYTES);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i] as IngestRow;
    w.record(15);
    w.uuid(r.id);
    w.int8(r.device_id);
    w.int8(r.ou_id);
    w.text(r.kind);
    w.text(r.target);
    // canonical ISO text (ResultService.upload), which Date.parse reads exactly
    w.timestamptz(r.started_ms ?? Date.parse(r.started_at));
    w.float8(r.duration_ms);
    w.bool(r.ok);
    w.text(r.error_code);
    w.text(r.error_message);
    w.float8(r.latency_ms);
    w.float8(r.jitter_ms);
    w.float8(r.loss_pct);
    w.json(r.metrics);
    w.bool(newest[i] === 1);
    w.endRecord();
  }
  return w.done();
}

/**
 * The OID of `result_in` in this database, which `storeResults` needs to send a batch (binary arrays name
 * their element type, and a composite's OID differs between databases).
 */
export async function resultInType(db: Db): Promise<number> {
  const r = await sql<{ oid: number }>`SELECT 'result_in'::regtype::oid AS oid`.execute(db);
  return Number(r.rows[0]?.oid);
}

/**
 * Whether `err` is a unique violation on `results`: a row of the batch was stored before (an agent's
 * retry), so the optimistic statement of `storeResults` failed and its transaction must run again with
 * `dedupe`.
 */
export function isDuplicateResult(err: unknown): boolean {
  const e = err as { code?: string; table?: string };
  return e.code === '23505' && typeof e.table === 'string' && e.table.startsWith('results');
}

/**
 * Stores a batch of results of any number of devices in one statement (one round trip; run it in the
 * transaction that then writes the alert machines):
 * - inserts the rows; updates latest-per-series from them; reads the `closed` watermark under its
 *   shared lock and queues the rows that start before it for the rollups (`foldPendingBatch`), marking
 *   them `queued` (the others are summed from their slice, `foldSliceBatch`);
 * - locks and returns the alert machines of `series`, in one fixed order.
 *
 * `series` must be `batchSeries(rows)`: latest-per-series takes each series' newest row from it.
 *
 * Two forms. Without `dedupe` (the common case) every row must be new: a row stored before fails the
 * statement with a unique violation (`isDuplicateResult`), which aborts the transaction; run it again
 * with `dedupe`, which skips rows already stored (same id and started_at) and returns the ids it did
 * store. A batch that repeats a result within itself fails the same way. Measured on this statement
 * (bench B1): the optimistic insert costs PostgreSQL about a sixth less than `ON CONFLICT DO NOTHING …
 * RETURNING`, and retries are rare (a lost response, an agent restart before its spool was trimmed).
 *
 * With `alone` the statement is a transaction of its own (run it outside one, ADR 11), for a batch whose
 * every result leaves a quiet machine quiet: it locks only the machines of `series` that are not quiet,
 * and when there is any it stores nothing and returns `refused` (store the batch in a transaction then,
 * which evaluates the machines). Otherwise no machine needs a write and the batch is stored.
 * @returns ids stored by this call, the machines' states, and whether an `alone` statement refused the batch
 */
export async function storeResults(
  db: Db,
  /** `resultInType` of the database */
  resultIn: number,
  rows: readonly IngestRow[],
  series: readonly BatchSeries[],
  o: { dedupe?: boolean; alone?: boolean } = {},
): Promise<{ ids: string[]; states: AlertStateRow[]; refused: boolean }> {
  // each series' newest row, flagged: PostgreSQL sorted the whole batch for DISTINCT ON before (about
  // 1.1 µs of its CPU a row in batches of 4000, 0.4 µs in batches of 320)
  const newest = new Uint8Array(rows.length);
  for (const x of series) newest[x.newest] = 1;
  // the series as three columns, like the rows (a JSON document cost a stringify here and a parse there)
  const seriesIds = binaryArray(
    'int8',
    series.map((x) => x.device_id),
  );
  const seriesKinds = binaryArray(
    'text',
    series.map((x) => x.kind),
  );
  const seriesTargets = binaryArray(
    'text',
    series.map((x) => x.target),
  );
  const input = sql`unnest(${resultInArray(resultIn, rows, newest)}::result_in[])`;
  const insert = sql`INSERT INTO results (${sql.raw(COLUMNS)}, queued) SELECT ${sql.raw(COLUMNS)}, queued`;
  // a row is queued for the rollups when its slice is closed already (ADR 6); alone, only while no machine
  // of the batch's series is astir
  const source = sql`SELECT v.*, v.started_at < (SELECT w FROM wm) AS queued FROM ${input} AS v
    ${o.alone ? sql`WHERE NOT EXISTS (SELECT FROM st)` : sql``}`;
  // `fresh`: the rows this statement stores, for latest and the rollup queue. With `dedupe` a series' newest
  // row may have been stored before (and then applied to latest), so latest takes the newest of what is stored.
  const fresh = o.dedupe
    ? sql`fresh AS (${insert} FROM (${source}) AS s ON CONFLICT DO NOTHING RETURNING ${sql.raw(RETURNED)}, queued),`
    : sql`fresh AS MATERIALIZED (${source}),
      ins AS (${insert} FROM fresh),`;
  const latest = o.dedupe
    ? sql`SELECT DISTINCT ON (device_id, kind, target) ${sql.raw(LATEST)} FROM fresh ORDER BY device_id, kind, target, started_at DESC`
    : sql`SELECT ${sql.raw(LATEST)} FROM fresh WHERE newest`;
  const r = await sql<{ ids: string[] | null; states: AlertStateRow[] }>`${sql.raw(PREPARED)}
    WITH wm AS MATERIALIZED (SELECT rk_rollup_closed_until() AS w),
    st AS MATERIALIZED (
      SELECT a.device_id, a.kind, a.target, a.metric, a.state, a.pending, a.pending_count FROM alert_states a
      -- after the watermark's lock, never before: no row lock held while waiting for it
      WHERE (SELECT w FROM wm) IS NOT NULL AND (a.device_id, a.kind, a.target) IN (
        SELECT * FROM unnest(${seriesIds}::bigint[], ${seriesKinds}::text[], ${seriesTargets}::text[]))
        ${o.alone ? sql`AND NOT (a.state = 'ok' AND a.pending = 'ok')` : sql``}
      ORDER BY a.device_id, a.kind COLLATE "C", a.target COLLATE "C", a.metric COLLATE "C"
      FOR UPDATE
    ),
    ${fresh}
    latest AS (
      INSERT INTO result_latest AS l (device_id, kind, target, ou_id, result_id, started_at, ok, error_code, latency_ms, jitter_ms, loss_pct)
      ${latest}
      ON CONFLICT (device_id, kind, target) DO UPDATE SET
        ou_id = excluded.ou_id, result_id = excluded.result_id, started_at = excluded.started_at, ok = excluded.ok,
        error_code = excluded.error_code, latency_ms = excluded.latency_ms, jitter_ms = excluded.jitter_ms, loss_pct = excluded.loss_pct
      WHERE excluded.started_at >= l.started_at
    ),
    pending AS (
      INSERT INTO rollup_pending (device_id, ou_id, kind, target, started_at, ok, latency_ms, jitter_ms, loss_pct)
      SELECT device_id, ou_id, kind, target, started_at, ok, latency_ms, jitter_ms, loss_pct FROM fresh WHERE queued
    )
    SELECT ${o.dedupe ? sql`(SELECT coalesce(json_agg(id), '[]') FROM fresh)` : sql`NULL`} AS ids,
      (SELECT coalesce(json_agg(st), '[]') FROM st) AS states`.execute(db);
  const out = r.rows[0] as { ids: string[] | null; states: AlertStateRow[] };
  // json_agg renders bigint as a JSON number
  for (const s of out.states) s.device_id = String(s.device_id);
  const refused = o.alone === true && out.states.length > 0;
  return { ids: refused ? [] : (out.ids ?? rows.map((x) => x.id)), states: out.states, refused };
}

/** Element-wise sum of two dense histograms (a function scan of generate_series yields 1..64 in order). */
const histSum = (x: string, y: string) =>
  sql`ARRAY(SELECT ${sql.raw(x)}[i] + ${sql.raw(y)}[i] FROM generate_series(1, ${sql.lit(HIST_BUCKETS)}) AS i)`;

/**
 * `r.hist` plus `excluded.hist`. When every latency of the batch fell in one bucket (the common case: one
 * new result per series and fold) that bucket is the element equal to the batch's `lat_count` (the
 * elements sum to it and none is negative): add to it by slicing, without rebuilding 64 elements.
 */
const k = sql.raw('array_position(excluded.hist, excluded.lat_count)');
const HIST_ADD = sql`CASE
      WHEN excluded.lat_count = 0 THEN r.hist
      WHEN ${k} IS NOT NULL THEN r.hist[1:${k} - 1] || (r.hist[${k}] + excluded.lat_count) || r.hist[${k} + 1:${sql.lit(HIST_BUCKETS)}]
      ELSE ${histSum('r.hist', 'excluded.hist')}
    END`;

const ROLLUP_CONFLICT = sql`
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
    hist = ${HIST_ADD}`;

/** Histogram bucket (1–64) of `t.latency_ms`, as `histBucket` (domain/result-headline.ts) and `rk_hist` compute it. */
const HIST_BUCKET = sql`least(${sql.lit(HIST_BUCKETS)}, greatest(1, ceil(ln(greatest(t.latency_ms, 0.05) / 0.05) / ln(1.25))::int + 1))`;

/**
 * The dense histogram of a rollup row of the fold from its sparse bucket numbers `s.hbs` and counts
 * `s.cs`: all zeros without latencies; one bucket (the common case) as zeros, count, zeros; else one
 * lookup per element.
 */
const DENSE = sql`CASE
        WHEN s.hbs IS NULL THEN array_fill(0, ARRAY[${sql.lit(HIST_BUCKETS)}])
        WHEN cardinality(s.hbs) = 1 THEN array_fill(0, ARRAY[s.hbs[1] - 1]) || s.cs[1] || array_fill(0, ARRAY[${sql.lit(HIST_BUCKETS)} - s.hbs[1]])
        ELSE ARRAY(SELECT coalesce(s.cs[array_position(s.hbs, i)], 0) FROM generate_series(1, ${sql.lit(HIST_BUCKETS)}) AS i)
      END`;

/** A rollup row's key columns. */
const KEY = sql.raw('granularity, bucket, device_id, kind, target');

/** The columns a fold sums, from rollup_pending or from results. */
const FOLDED = 'device_id, ou_id, kind, target, started_at, ok, latency_ms, jitter_ms, loss_pct';

/**
 * The common-table expressions that sum the rows of CTE `src` (columns `FOLDED`) per granularity × series ×
 * bucket and add the sums to the rollup rows (created when missing) in one fixed order (granularity,
 * device, kind, target bytewise, bucket), so concurrent folds cannot deadlock. Minute rows always; hour
 * and day rows only with `coarse`, and only of the periods summed already (`foldCoarseBatch`): those
 * starting before its watermarks. Hour and day rows of later periods are summed from the finer rows when
 * the period closes. The rows are first summed per series × minute × histogram bucket: a series that
 * reports often costs one row per minute, not one per result.
 *
 * Measured with `./rookery bench fold` (10 000 series with one new result each per fold, the steady
 * state of agents that probe every few seconds or slower): 78 → 41 µs of PostgreSQL CPU per result with
 * the following and `result_rollups` at fillfactor 70 (migration 0009):
 * - each result's histogram bucket is computed once, not once per granularity;
 * - a batch's dense histogram is built by concatenation when its latencies share a bucket (`DENSE`),
 *   instead of a 64-row subquery per rollup row;
 * - adding to a stored row touches one element when the batch's latencies share a bucket (`HIST_ADD`).
 * (An UPDATE … FROM of the existing rows with subscripted assignments was cheaper still, but with stale
 * statistics the planner joined through `result_rollups_bucket_idx`, one index range per row: the
 * upsert's arbiter index is the primary key whatever the statistics.)
 *
 * The summing runs in PostgreSQL, not in the manager: measured against returning the rows and summing
 * them in Node (bench/RESULTS.md, B1), the same total CPU, but none of it on the manager's event loop.
 */
const fold = (coarse: CoarseWatermarks | null) => sql`
    t AS (SELECT t.*, CASE WHEN t.latency_ms IS NOT NULL THEN ${HIST_BUCKET} END AS hb FROM src t),
    -- per series × minute × histogram bucket (null: no latency)
    m AS (
      SELECT device_id, kind, target, date_trunc('minute', started_at) AS minute, hb, min(ou_id) AS ou_id,
        count(*)::int AS count, (count(*) FILTER (WHERE ok))::int AS ok_count, count(latency_ms)::int AS lat_count,
        coalesce(sum(latency_ms), 0) AS lat_sum, min(latency_ms) AS lat_min, max(latency_ms) AS lat_max,
        coalesce(sum(jitter_ms), 0) AS jitter_sum, count(jitter_ms)::int AS jitter_count,
        coalesce(sum(loss_pct), 0) AS loss_sum, count(loss_pct)::int AS loss_count
      FROM t GROUP BY device_id, kind, target, minute, hb
    ),
    x AS (${
      coarse
        ? sql`SELECT g.granularity, date_trunc(g.granularity, m.minute) AS bucket, m.*
      FROM m CROSS JOIN (VALUES ('day'), ('hour'), ('minute')) AS g(granularity)
      WHERE g.granularity = 'minute'
        OR (g.granularity = 'hour' AND date_trunc('hour', m.minute) < ${coarse.hour}::timestamptz)
        OR (g.granularity = 'day' AND date_trunc('day', m.minute) < ${coarse.day}::timestamptz)`
        : sql`SELECT 'minute' AS granularity, m.minute AS bucket, m.* FROM m`
    }),
    -- the histogram sparse: bucket numbers and their counts per rollup row
    hb AS (SELECT ${KEY}, hb, sum(lat_count)::int AS c FROM x WHERE hb IS NOT NULL GROUP BY ${KEY}, hb),
    hs AS (SELECT ${KEY}, array_agg(hb) AS hbs, array_agg(c) AS cs FROM hb GROUP BY ${KEY}),
    agg AS (
      SELECT ${KEY}, min(ou_id) AS ou_id, sum(count)::int AS count, sum(ok_count)::int AS ok_count,
        sum(lat_count)::int AS lat_count, sum(lat_sum) AS lat_sum, min(lat_min) AS lat_min, max(lat_max) AS lat_max,
        sum(jitter_sum) AS jitter_sum, sum(jitter_count)::int AS jitter_count,
        sum(loss_sum) AS loss_sum, sum(loss_count)::int AS loss_count
      FROM x GROUP BY ${KEY}
    ),
    up AS (
      INSERT INTO result_rollups AS r (granularity, bucket, device_id, kind, target, ou_id, count, ok_count, lat_count,
        lat_sum, lat_min, lat_max, jitter_sum, jitter_count, loss_sum, loss_count, hist)
      SELECT a.granularity, a.bucket, a.device_id, a.kind, a.target, a.ou_id, a.count, a.ok_count, a.lat_count, a.lat_sum,
        a.lat_min, a.lat_max, a.jitter_sum, a.jitter_count, a.loss_sum, a.loss_count,
        ${DENSE}
      FROM agg a LEFT JOIN hs s USING (granularity, bucket, device_id, kind, target)
      ORDER BY a.granularity, a.device_id, a.kind COLLATE "C", a.target COLLATE "C", a.bucket
      ${ROLLUP_CONFLICT}
    )`;

/** Where hour and day rows are summed already (ISO text: a Date keeps milliseconds, timestamptz microseconds). */
export interface CoarseWatermarks {
  hour: string;
  day: string;
}

/**
 * Locks the `hour_folded` and `day_folded` watermarks, always in that order (day first), shared (without
 * waiting) or exclusively, and reads them. A fold that writes hour and day rows holds them shared, so the
 * periods are not summed from the finer rows under it (`foldCoarseBatch` holds them exclusively).
 * @returns null when `share` finds either held exclusively (`SKIP LOCKED` leaves it out: no error, whose
 *   stack trace the driver would build for an expected outcome)
 */
async function lockCoarse(tx: Db, mode: 'share'): Promise<CoarseWatermarks | null>;
async function lockCoarse(tx: Db, mode: 'update'): Promise<CoarseWatermarks>;
async function lockCoarse(tx: Db, mode: 'share' | 'update'): Promise<CoarseWatermarks | null> {
  const r = await sql<{ name: string; at: string }>`
    SELECT name, at::text AS at FROM rollup_watermarks WHERE name IN ('day_folded', 'hour_folded')
    ORDER BY name FOR ${sql.raw(mode === 'share' ? 'SHARE SKIP LOCKED' : 'UPDATE')}`.execute(tx);
  const at = (n: string) => r.rows.find((x) => x.name === n)?.at;
  const hour = at('hour_folded');
  const day = at('day_folded');
  if (hour !== undefined && day !== undefined) return { hour, day };
  // FOR UPDATE waits for both rows, which migration 0013 created
  if (mode === 'update') throw new Error('the hour_folded and day_folded watermarks are missing');
  return null;
}

/**
 * Folds up to `limit` queued results (those that arrived after their slice was closed) in one
 * transaction: takes them out of `rollup_pending` (concurrent callers never get the same row) and adds
 * them to their minute rows, and to their hour and day rows where those periods are summed already
 * (`fold`). Each result is rolled up exactly once: taking and adding commit together. While a period is
 * being summed (`foldCoarseBatch`, seconds for a large fleet) it folds nothing and returns null: the
 * results stay queued for the next run.
 * @returns results folded, or null when a period sum holds the watermarks
 */
export async function foldPendingBatch(db: Db, limit: number): Promise<number | null> {
  return db.transaction().execute(async (tx) => {
    const coarse = await lockCoarse(tx, 'share');
    if (!coarse) return null;
    const r = await sql<{ n: number }>`
      WITH src AS (
        DELETE FROM rollup_pending WHERE ctid = ANY (ARRAY(SELECT ctid FROM rollup_pending LIMIT ${limit}))
        RETURNING ${sql.raw(FOLDED)}
      ),
      ${fold(coarse)}
      SELECT count(*)::int AS n FROM src`.execute(tx);
    return (r.rows[0] as { n: number }).n;
  });
}

/** The advisory lock ingest holds shared while it reads the `closed` watermark (migration 0011). */
const WATERMARK_LOCK = 727_003;

export interface Watermarks {
  /** results starting before it that arrive from now on are queued (rollup_pending) */
  closed: Date;
  /** every result starting before it that was not queued is in the minute rollups */
  folded: Date;
  /** hours starting before it have their hour rows; none starting at or after it has one */
  hour_folded: Date;
  /** the same for days */
  day_folded: Date;
}

/** The watermarks, to the millisecond (they are kept to the microsecond). */
export async function rollupWatermarks(db: Db): Promise<Watermarks> {
  const r = await sql<{ name: keyof Watermarks; at: Date }>`SELECT name, at FROM rollup_watermarks`.execute(db);
  return Object.fromEntries(r.rows.map((x) => [x.name, x.at])) as unknown as Watermarks;
}

/**
 * Closes the slices that start before `until`: results starting before it that arrive from now on are
 * queued (rollup_pending). Takes the watermark's advisory lock exclusively, so it waits for the ingest
 * transactions that read the old value, and new ones wait for it; gives up after `lockTimeoutMs`.
 * @returns whether it moved (false: already there, or the lock was not granted in time)
 */
export async function closeRollupSlices(db: Db, until: Date, lockTimeoutMs = 2000): Promise<boolean> {
  try {
    return await db.transaction().execute(async (tx) => {
      await sql`SELECT set_config('lock_timeout', ${`${lockTimeoutMs}ms`}, true)`.execute(tx);
      await sql`SELECT pg_advisory_xact_lock(${sql.lit(WATERMARK_LOCK)})`.execute(tx);
      const r = await sql`UPDATE rollup_watermarks SET at = ${until} WHERE name = 'closed' AND at < ${until}`.execute(
        tx,
      );
      return Number(r.numAffectedRows ?? 0) > 0;
    });
  } catch (err) {
    // lock_not_available: ingest transactions held the lock for longer; the next run tries again
    if ((err as { code?: string }).code === '55P03') return false;
    throw err;
  }
}

/**
 * Folds the next closed slice that is not folded yet into the minute rows, at most `maxMs` of start times
 * (results not queued, read from `results`; time without results is skipped), and moves `folded` past it
 * in the same transaction: each result is rolled up exactly once, and concurrent callers take turns (the
 * `folded` row is locked; closing slices meanwhile is not held up). Every result of a closed slice that
 * was not queued has committed: its transaction read the watermark before the slice closed, and closing
 * waited for it. Hour and day rows follow when their period closes (`foldCoarseBatch`).
 * @returns results folded, or null when every closed slice is folded
 */
export async function foldSliceBatch(db: Db, maxMs: number): Promise<number | null> {
  return db.transaction().execute(async (tx) => {
    // locked first, read after: a statement of its own sees the latest `folded`
    const locked = await sql`SELECT 1 FROM rollup_watermarks WHERE name = 'folded' FOR UPDATE`.execute(tx);
    if (!locked.rows.length) return null;
    // as text: timestamptz keeps microseconds, a Date only milliseconds
    const slice = (
      await sql<{ a: string; b: string }>`
        SELECT f.at::text AS a,
          least(c.at, greatest(f.at, coalesce((SELECT min(started_at) FROM results
            WHERE started_at >= f.at AND started_at < c.at AND NOT queued), c.at)) + make_interval(secs => ${maxMs / 1000}))::text AS b
        FROM rollup_watermarks f, rollup_watermarks c
        WHERE f.name = 'folded' AND c.name = 'closed' AND f.at < c.at`.execute(tx)
    ).rows[0];
    if (!slice) return null;
    // a statement of its own: its snapshot sees every result of the slice
    const r = await sql<{ n: number }>`
      WITH src AS (
        SELECT ${sql.raw(FOLDED)} FROM results
        WHERE started_at >= ${slice.a}::timestamptz AND started_at < ${slice.b}::timestamptz AND NOT queued
      ),
      ${fold(null)},
      moved AS (UPDATE rollup_watermarks SET at = ${slice.b}::timestamptz WHERE name = 'folded')
      SELECT count(*)::int AS n FROM src`.execute(tx);
    return (r.rows[0] as { n: number }).n;
  });
}

/** The histogram of a coarser rollup row: the element-wise sum of its finer rows' histograms. */
const HIST_OF_ROWS = sql.raw(
  `ARRAY[${Array.from({ length: HIST_BUCKETS }, (_, i) => `sum(hist[${i + 1}])`).join(', ')}]::int[]`,
);

/** A period `foldCoarseBatch` summed. */
export interface CoarseFold {
  granularity: 'hour' | 'day';
  bucket: Date;
  /** rollup rows written (series with results in the period) */
  rows: number;
}

/**
 * Sums the next closed period into its coarser rollup rows: the first hour that ended before `folded`
 * and has no hour rows yet, from its minute rows; else the first day whose hours all have their rows,
 * from its hour rows. Moves `hour_folded` or `day_folded` past it in the same transaction. Periods
 * without finer rows are skipped. The two watermarks are locked exclusively: a fold of late results
 * (holding them shared) either finished before, and its minute rows are summed here, or waits and then
 * adds to the new hour or day rows too.
 * @returns what it summed (`rows` 0: skipped to `bucket`), or null when every closed period is summed
 */
export async function foldCoarseBatch(db: Db): Promise<CoarseFold | null> {
  return db.transaction().execute(async (tx) => {
    const locked = await lockCoarse(tx, 'update');
    const next = (
      await sql<{ granularity: 'hour' | 'day'; a: string | null; b: string }>`
        WITH w AS (
          SELECT ${locked.hour}::timestamptz AS h, ${locked.day}::timestamptz AS d,
            date_trunc('hour', (SELECT at FROM rollup_watermarks WHERE name = 'folded')) AS fh
        )
        SELECT 'hour' AS granularity, date_trunc('hour', (SELECT min(bucket) FROM result_rollups
            WHERE granularity = 'minute' AND bucket >= w.h AND bucket < w.fh))::text AS a, w.fh::text AS b
        FROM w WHERE w.h < w.fh
        UNION ALL
        SELECT 'day', date_trunc('day', (SELECT min(bucket) FROM result_rollups
            WHERE granularity = 'hour' AND bucket >= w.d AND bucket < date_trunc('day', w.h)))::text, date_trunc('day', w.h)::text
        FROM w WHERE w.h >= w.fh AND w.d < date_trunc('day', w.h)`.execute(tx)
    ).rows[0];
    if (!next) return null;
    const { granularity } = next;
    const watermark = granularity === 'hour' ? 'hour_folded' : 'day_folded';
    if (next.a === null) {
      // nothing to sum before the end: every period up to it is done
      await sql`UPDATE rollup_watermarks SET at = ${next.b}::timestamptz WHERE name = ${watermark}`.execute(tx);
      return { granularity, bucket: new Date(next.b), rows: 0 };
    }
    const from = granularity === 'hour' ? 'minute' : 'hour';
    const r = await sql<{ n: number }>`
      WITH up AS (
        INSERT INTO result_rollups AS r (granularity, bucket, device_id, kind, target, ou_id, count, ok_count, lat_count,
          lat_sum, lat_min, lat_max, jitter_sum, jitter_count, loss_sum, loss_count, hist)
        SELECT ${granularity}, ${next.a}::timestamptz, device_id, kind, target, min(ou_id), sum(count)::int,
          sum(ok_count)::int, sum(lat_count)::int, sum(lat_sum), min(lat_min), max(lat_max), sum(jitter_sum),
          sum(jitter_count)::int, sum(loss_sum), sum(loss_count)::int, ${HIST_OF_ROWS}
        FROM result_rollups
        WHERE granularity = ${from} AND bucket >= ${next.a}::timestamptz
          AND bucket < ${next.a}::timestamptz + ${sql.lit(`1 ${granularity}`)}::interval
        GROUP BY device_id, kind, target
        ORDER BY device_id, kind COLLATE "C", target COLLATE "C"
        ${ROLLUP_CONFLICT}
        RETURNING 1
      ),
      moved AS (
        UPDATE rollup_watermarks SET at = ${next.a}::timestamptz + ${sql.lit(`1 ${granularity}`)}::interval
        WHERE name = ${watermark}
      )
      SELECT count(*)::int AS n FROM up`.execute(tx);
    return { granularity, bucket: new Date(next.a), rows: (r.rows[0] as { n: number }).n };
  });
}

export interface RollupRow extends RollupCounters {
  bucket: Date;
}

export interface SeriesQuery {
  granularity: string;
  deviceId: string;
  kind: string;
  target: string;
  since: Date;
  until: Date;
  limit: number;
}

/** A watermark's value in a statement. */
const mark = (name: string) => sql`(SELECT at FROM rollup_watermarks WHERE name = ${name})`;

/**
 * The rollup rows that hold a series at `granularity`: its own rows, and for the periods not summed into
 * them yet (after `hour_folded`, `day_folded`) the finer rows to add up per period.
 */
function sourcesOf(granularity: string) {
  const g = sql.ref('result_rollups.granularity');
  const b = sql.ref('result_rollups.bucket');
  if (granularity === 'hour')
    return sql<boolean>`${g} IN ('hour', 'minute') AND CASE ${g} WHEN 'hour' THEN ${b} < ${mark('hour_folded')}
      ELSE ${b} >= ${mark('hour_folded')} END`;
  if (granularity === 'day')
    return sql<boolean>`${g} IN ('day', 'hour', 'minute') AND CASE ${g} WHEN 'day' THEN ${b} < ${mark('day_folded')}
      WHEN 'hour' THEN ${b} >= ${mark('day_folded')} AND ${b} < ${mark('hour_folded')}
      ELSE ${b} >= ${mark('hour_folded')} END`;
  return sql<boolean>`${g} = ${granularity}`;
}

/**
 * Rollup rows of one series in [since, until), oldest first, scoped by the series' current OU: at
 * `granularity`, and finer rows of the periods not summed at it yet (`sourcesOf`), to be added up into
 * their period by the caller.
 */
export function seriesRollups(db: Db, scope: Scope, q: SeriesQuery): Promise<RollupRow[]> {
  return seriesRollupsQuery(db, scope, q).execute();
}

/** Most results `unfoldedResults` returns: far more than a series gets while the fold keeps up. */
export const MAX_UNFOLDED = 50_000;

/**
 * Results of one series in [since, until) that the rollups do not hold yet: started at or after the
 * `folded` watermark and not queued (queued ones reach the rollups within a run of the fold job).
 * Oldest first, at most `MAX_UNFOLDED`. Read it in the snapshot that read the rollups, or a slice folded
 * in between is counted twice or not at all.
 */
export async function unfoldedResults(
  db: Db,
  q: Pick<SeriesQuery, 'deviceId' | 'kind' | 'target' | 'since' | 'until'>,
): Promise<(RolledUp & { started_at: Date })[]> {
  const r = await sql<RolledUp & { started_at: Date }>`
    SELECT started_at, ok, latency_ms, jitter_ms, loss_pct FROM results
    WHERE device_id = ${q.deviceId}::bigint AND kind = ${q.kind} AND target = ${q.target}
      AND started_at >= greatest(${q.since}::timestamptz, (SELECT at FROM rollup_watermarks WHERE name = 'folded'))
      AND started_at < ${q.until}::timestamptz AND NOT queued
    ORDER BY started_at LIMIT ${MAX_UNFOLDED}`.execute(db);
  return r.rows;
}

/** The statement behind `seriesRollups`, unexecuted: benchmarks compile it as the manager runs it. */
export function seriesRollupsQuery(db: Db, scope: Scope, q: SeriesQuery) {
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
    .where(sourcesOf(q.granularity))
    .where('result_rollups.device_id', '=', q.deviceId)
    .where('result_rollups.kind', '=', q.kind)
    .where('result_rollups.target', '=', q.target)
    .where('result_rollups.bucket', '>=', q.since)
    .where('result_rollups.bucket', '<', q.until)
    .where((eb) => inScope(eb, scope, 'ous.path'))
    .orderBy('result_rollups.bucket')
    .limit(q.limit);
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

export interface LatestQuery {
  deviceId?: string;
  ouId?: string;
  kind?: string;
  target?: string;
  after?: [string, string, string];
  limit: number;
}

/** Latest result per device × kind × target in scope, keyset-paged by (device_id, kind, target). */
export function latestResults(db: Db, scope: Scope, q: LatestQuery): Promise<LatestRow[]> {
  return latestResultsQuery(db, scope, q).execute();
}

/** The statement behind `latestResults`, unexecuted: benchmarks compile it as the manager runs it. */
export function latestResultsQuery(db: Db, scope: Scope, q: LatestQuery) {
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
  return query;
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
  // finer rows stay until their period is summed into the coarser ones, however old
  await sql`DELETE FROM result_rollups WHERE
      (granularity = 'minute' AND bucket < least(now() - make_interval(days => ${r.minuteDays}), ${mark('hour_folded')})) OR
      (granularity = 'hour' AND bucket < least(now() - make_interval(days => ${r.hourDays}), ${mark('day_folded')})) OR
      (granularity = 'day' AND bucket < now() - make_interval(days => ${r.dayDays}))`.execute(db);
}

/** A stored result as the raw results API returns it: an ingested row as PostgreSQL hands it back. */
export interface RawResultRow extends Omit<ResultRowIn, 'started_at' | 'metrics'> {
  device_id: string;
  started_at: Date;
  metrics: Record<string, unknown>;
}

export interface RawResultsQuery {
  deviceId: string;
  kind?: string;
  target?: string;
  /** only failed (false) or only succeeded (true) results */
  ok?: boolean;
  since: Date;
  until: Date;
  /** the last row of the previous page: rows strictly older in (started_at, id) order */
  before?: { startedAt: Date; id: string };
  limit: number;
}

/**
 * Raw results of one device in [since, until), newest first, keyset-paged by (started_at, id); at most
 * `limit + 1` rows (one more than a page, to tell whether another follows). The caller checks that
 * the device is in scope.
 *
 * One backward walk of the device's range of the primary key (device_id, started_at, id); kind, target
 * and ok filter the rows it meets. With kind or target the walk starts no later than the newest result
 * of the series asked for (their `result_latest` rows), so a series that stopped reporting long ago does
 * not walk the device's newer rows first, and a series never stored reads nothing.
 */
export async function rawResults(db: Db, q: RawResultsQuery): Promise<RawResultRow[]> {
  return (await rawResultsQuery(q).execute(db)).rows;
}

/** The statement behind `rawResults`, unexecuted: benchmarks compile it as the manager runs it. */
export function rawResultsQuery(q: RawResultsQuery) {
  const b = q.before;
  const series = q.kind !== undefined || q.target !== undefined;
  return sql<RawResultRow>`
    SELECT r.id, r.device_id, r.kind, r.target, r.started_at, r.duration_ms, r.ok, r.error_code, r.error_message,
      r.latency_ms, r.jitter_ms, r.loss_pct, r.metrics
    FROM results r
    WHERE r.device_id = ${q.deviceId} AND r.started_at >= ${q.since} AND r.started_at < ${q.until}
      ${b ? sql`AND r.started_at <= ${b.startedAt} AND (r.started_at, r.id) < (${b.startedAt}::timestamptz, ${b.id}::uuid)` : sql``}
      ${resultFilters(q)}
      ${
        series
          ? sql`AND r.started_at <= (SELECT max(l.started_at) FROM result_latest l WHERE l.device_id = ${q.deviceId}
        ${q.kind === undefined ? sql`` : sql`AND l.kind = ${q.kind}`}
        ${q.target === undefined ? sql`` : sql`AND l.target = ${q.target}`})`
          : sql``
      }
    ORDER BY r.started_at DESC, r.id DESC
    LIMIT ${q.limit + 1}`;
}

/** The optional filters of a raw results query on `results r`, as AND clauses. */
const resultFilters = (q: Pick<RawResultsQuery, 'kind' | 'target' | 'ok'>) =>
  sql`${q.kind === undefined ? sql`` : sql`AND r.kind = ${q.kind}`}
      ${q.target === undefined ? sql`` : sql`AND r.target = ${q.target}`}
      ${q.ok === undefined ? sql`` : sql`AND r.ok = ${q.ok}`}`;

/**
 * A stored result as the export reads it: `started_at` as `Date#toISOString` writes it and `metrics` as its stored
 * JSON text, both formatted by PostgreSQL (no Date or JSON parsed and printed again per row).
 */
export interface ExportRow extends ResultRowIn {
  device_id: string;
}

export interface ExportResultsQuery extends Omit<RawResultsQuery, 'before'> {
  /** the last row of the previous page (`at` as `ExportPageRow.at`): rows strictly newer in (started_at, id) order */
  after?: { at: string; id: string };
}

/** A row of an export page, with its start time as PostgreSQL's own text (to the microsecond) for the next page. */
export interface ExportPageRow extends ExportRow {
  at: string;
}

/**
 * A page of an export: raw results of one device in [since, until), oldest first, keyset-paged by
 * (started_at, id), at most `limit` rows, metrics as their stored JSON text. One forward walk of the
 * device's range of the primary key (device_id, started_at, id). The keyset carries the start time as PostgreSQL
 * prints it, not as a Date: a Date keeps milliseconds, and rows stored with finer times would come twice.
 * The caller checks that the device is in scope.
 */
export async function exportResults(db: Db, q: ExportResultsQuery): Promise<ExportPageRow[]> {
  const a = q.after;
  const r = await sql<ExportPageRow>`
    SELECT r.id, r.device_id, r.kind, r.target,
      to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS started_at,
      r.duration_ms, r.ok, r.error_code, r.error_message,
      r.latency_ms, r.jitter_ms, r.loss_pct, r.metrics::text AS metrics, r.started_at::text AS at
    FROM results r
    WHERE r.device_id = ${q.deviceId} AND r.started_at >= ${q.since} AND r.started_at < ${q.until}
      ${a ? sql`AND r.started_at >= ${a.at}::timestamptz AND (r.started_at, r.id) > (${a.at}::timestamptz, ${a.id}::uuid)` : sql``}
      ${resultFilters(q)}
    ORDER BY r.started_at, r.id
    LIMIT ${q.limit}`.execute(db);
  return r.rows;
}
