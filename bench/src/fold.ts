// Rollup fold cost (ADR 6): PostgreSQL CPU per result of the leader's fold job, in steady state (each
// fold sees one new result per series) and clustered (ten results per series and fold, as B1's ingest
// phase), for both paths: results that arrived late (queued in rollup_pending) and results on time
// (summed from their closed slice of `results`); beside COPY of the same raw rows in the same run.
import { sql } from 'kysely';
import { openDatabase } from '../../apps/manager/src/db/database.js';
import { migrate } from '../../apps/manager/src/db/migrate.js';
import {
  type CoarseFold,
  foldCoarseBatch,
  type IngestRow,
  batchSeries,
  resultInType,
  storeResults,
} from '../../apps/manager/src/db/queries/results.js';
import type { Db } from '../../apps/manager/src/db/database.js';
import { HIST_BUCKETS } from '../../apps/manager/src/domain/result-headline.js';
import { foldPendingRollups, foldRollups } from '../../apps/manager/src/jobs/rollup-fold.js';
import { resultRow } from '../../apps/manager/src/testing/result-rows.js';
import { setRollupWatermarks } from '../../apps/manager/src/testing/rollup-watermarks.js';
import { createBenchDb } from './lib/bench-db.js';
import { copyReference, copyText } from './lib/copy-ref.js';
import { processCpu } from './lib/proc-cpu.js';
import { machineLine, publish } from './lib/results.js';

const SERIES = Number(process.env.FOLD_SERIES ?? 10_000);
const ROUNDS = 12; // folds in the steady case (the first two, creating the hour and day rows, not counted)
const CLUSTER = 10; // results per series and fold in the clustered case
const HOUR_SERIES = Number(process.env.FOLD_HOUR_SERIES ?? 20_000); // series of the full-hour sum

function row(series: number, at: number, latency: number): IngestRow {
  return {
    ...resultRow({
      target: `10.20.${Math.floor(series / 200) % 250}.${series % 250}:443`,
      at,
      latency,
      duration_ms: 1,
    }),
    device_id: String(1 + (series % 200)),
    ou_id: '1',
    metrics: '{"connectMs":1}',
  };
}

export interface FoldData {
  series: number;
  /** the queue (late results) */
  steadyUsPerResult: number;
  steadyRounds: number[];
  clusteredUsPerResult: number;
  /** closed slices (results on time); absent in runs before 2026-12-06 */
  slice?: {
    steadyUsPerResult: number;
    steadyRounds: number[];
    clusteredUsPerResult: number;
    /** summing the closed hour's minute rows into hour rows, per minute row; absent before 2026-12-06's second run */
    hourCloseUsPerMinuteRow?: number;
  };
  /** one full hour (a minute row per series and minute, seeded with SQL) summed in one statement; absent before 2026-12-06 04:20 */
  fullHour?: { series: number; minuteRows: number; ms: number; usPerMinuteRow: number };
  copyUsPerRow: number;
}

async function measure(): Promise<FoldData> {
  const bench = await createBenchDb();
  const h = openDatabase(bench.url, 1);
  try {
    await migrate(bench.pool);
    const pid = Number((await sql<{ p: number }>`SELECT pg_backend_pid() AS p`.execute(h.db)).rows[0]?.p);
    const resultIn = await resultInType(h.db);
    const store = async (rows: IngestRow[]) => {
      for (let i = 0; i < rows.length; i += 4000)
        await h.db.transaction().execute((tx) => {
          const batch = rows.slice(i, i + 4000);
          return storeResults(tx, resultIn, batch, batchSeries(batch));
        });
    };
    const cpuOf = async (f: () => Promise<unknown>) => {
      const c0 = processCpu(pid).ownMs;
      await f();
      return processCpu(pid).ownMs - c0;
    };
    /**
     * Steady rounds, then the clustered fold, starting at `hour`. Queue: the watermarks stay after the
     * results (the migration put them at the database's creation), so ingest queues every result. Slice:
     * the watermarks start at `hour`, so every result is on time, and each fold closes the slices up to
     * the round's results and sums them from `results`.
     */
    const run = async (path: 'queue' | 'slice', hour: number) => {
      if (path === 'slice') await setRollupWatermarks(h.db, hour);
      const fold = (until: number) =>
        cpuOf(() => (path === 'queue' ? foldPendingRollups(h.db) : foldRollups(h.db, { until: new Date(until) })));
      // steady: one result per series per fold, a minute apart, latencies spread over a few buckets
      const steadyRounds: number[] = [];
      for (let m = 0; m < ROUNDS; m++) {
        await store(
          Array.from({ length: SERIES }, (_, s) =>
            row(s, hour + m * 60_000 + (s % 1000), 0.5 + (s % 7) * (1 + m / 10)),
          ),
        );
        steadyRounds.push(((await fold(hour + m * 60_000 + 10_000)) * 1000) / SERIES);
        process.stdout.write(
          `fold (${path}): steady round ${m + 1}/${ROUNDS} ${steadyRounds[m]?.toFixed(1)} µs/result\n`,
        );
      }
      const counted = steadyRounds.slice(2);
      // slice: the hour closes (folded reaches its end) and its hour rows are summed from the minute rows
      const hourClose = path === 'slice' ? ((await fold(hour + 3_600_000)) * 1000) / (SERIES * ROUNDS) : undefined;
      if (hourClose !== undefined)
        process.stdout.write(`fold (slice): hour close ${hourClose.toFixed(1)} µs per minute row\n`);
      // clustered: CLUSTER results per series within 10 s, one fold (fresh hour: new rows)
      const clustered: IngestRow[] = [];
      for (let s = 0; s < SERIES; s++)
        for (let j = 0; j < CLUSTER; j++) clustered.push(row(s, hour + 3_600_000 + j * 1000, 1.734));
      await store(clustered);
      const clusteredUs = ((await fold(hour + 3_600_000 + 10_000)) * 1000) / clustered.length;
      process.stdout.write(`fold (${path}): clustered ${clusteredUs.toFixed(1)} µs/result\n`);
      return {
        steadyUsPerResult: counted.reduce((a, b) => a + b, 0) / counted.length,
        steadyRounds,
        clusteredUsPerResult: clusteredUs,
        clustered,
        hourClose,
      };
    };
    const day = Math.floor(Date.now() / 86_400_000) * 86_400_000;
    // two days back for the queue, one for the slices: separate hour and day rows
    const queue = await run('queue', day - 2 * 86_400_000 + 8 * 3_600_000);
    const slice = await run('slice', day - 86_400_000 + 8 * 3_600_000);
    const clustered = queue.clustered;
    // reference: COPY of the same raw rows into a table shaped like results
    const copy = await copyReference(
      bench.pool,
      clustered.map((r) =>
        [
          r.id,
          r.device_id,
          r.ou_id,
          r.kind,
          r.target,
          r.started_at,
          '1',
          't',
          '\\N',
          '1.734',
          '\\N',
          '\\N',
          copyText(r.metrics),
        ].join('\t'),
      ),
    );
    const fullHour = await sumFullHour(h.db, cpuOf, day - 3 * 86_400_000 + 9 * 3_600_000);
    return {
      series: SERIES,
      fullHour,
      steadyUsPerResult: queue.steadyUsPerResult,
      steadyRounds: queue.steadyRounds,
      clusteredUsPerResult: queue.clusteredUsPerResult,
      slice: {
        steadyUsPerResult: slice.steadyUsPerResult,
        steadyRounds: slice.steadyRounds,
        clusteredUsPerResult: slice.clusteredUsPerResult,
        hourCloseUsPerMinuteRow: slice.hourClose,
      },
      copyUsPerRow: copy.postgresUsPerRow,
    };
  } finally {
    await h.close();
    await bench.drop();
  }
}

/**
 * One full hour: HOUR_SERIES series with a minute row in each of its 60 minutes (inserted with SQL), then
 * the hour summed into hour rows by `foldCoarseBatch` (one statement), as the `rollup-sum` job does at the
 * top of each hour for agents probing once a minute.
 */
async function sumFullHour(db: Db, cpuOf: (f: () => Promise<unknown>) => Promise<number>, hour: number) {
  const at = new Date(hour);
  await sql`INSERT INTO result_rollups (granularity, bucket, device_id, kind, target, ou_id, count, ok_count, lat_count,
      lat_sum, lat_min, lat_max, jitter_sum, jitter_count, loss_sum, loss_count, hist)
    SELECT 'minute', ${at}::timestamptz + m * interval '1 minute', 1 + s % 200, 'tcp', 'h' || s, 1, 1, 1, 1,
      1.5, 1.5, 1.5, 0, 0, 0, 0, array_fill(0, ARRAY[10]) || 1 || array_fill(0, ARRAY[${sql.lit(HIST_BUCKETS - 11)}])
    FROM generate_series(0, ${sql.lit(HOUR_SERIES - 1)}) s, generate_series(0, 59) m`.execute(db);
  await sql`ANALYZE result_rollups`.execute(db);
  // the hour's end is folded, the hour not summed yet
  await setRollupWatermarks(db, hour + 61 * 60_000, hour);
  const t0 = performance.now();
  let summed: CoarseFold | null = null;
  const cpu = await cpuOf(async () => (summed = await foldCoarseBatch(db)));
  const ms = performance.now() - t0;
  if ((summed as CoarseFold | null)?.rows !== HOUR_SERIES) throw new Error(`full hour: ${JSON.stringify(summed)}`);
  const minuteRows = HOUR_SERIES * 60;
  process.stdout.write(`fold: full hour of ${HOUR_SERIES} series summed in ${ms.toFixed(0)} ms\n`);
  return { series: HOUR_SERIES, minuteRows, ms, usPerMinuteRow: (cpu * 1000) / minuteRows };
}

export function foldMarkdown(d: FoldData, command: string): string {
  const f = (n: number) => n.toFixed(1);
  return [
    '## Rollup fold — PostgreSQL CPU per result',
    '',
    `Command: \`${command}\` · ${machineLine()}`,
    '',
    `Fresh database; ${d.series} series (200 devices); results stored with the manager's ingest statement, then`,
    "folded with the leader job's functions on one connection, whose backend CPU is read from /proc before and",
    'after. Two paths (ADR 6): results that arrive after their slice closed are queued by ingest and folded from',
    '`rollup_pending` (`foldPendingRollups`); results on time are summed from their closed slice of `results`',
    '(`foldRollups`: closing the slice, then `foldSliceBatch`). Steady: one result per series per fold, one minute',
    'apart in one hour (agents probing every minute): on the queue path each result adds to a new minute row and',
    'rewrites its hour and day rows (late results land in periods summed already); on the slice path it adds to',
    "a minute row only, and the hour's rows are summed from its minute rows when the hour closes (`foldCoarseBatch`,",
    `measured separately: "hour close"); rounds 3–${ROUNDS} counted. Clustered: ${CLUSTER} results per series within 10 s, one fold (B1's ingest`,
    'phase). Reference: COPY of the clustered raw rows into a table shaped like `results` (CPU of every postgres',
    'process), same run. No target in QUALITY.md; this is where ingest spends the rest of its PostgreSQL time',
    'after the upload is answered (the queue path also writes each result to `rollup_pending` at ingest, which',
    'is not counted here).',
    '',
    '| case | µs PostgreSQL CPU per result | ÷ COPY µs per raw row |',
    '|---|---|---|',
    `| queue, steady (1 result per series per fold) | ${f(d.steadyUsPerResult)} | ${(d.steadyUsPerResult / d.copyUsPerRow).toFixed(1)} |`,
    `| queue, clustered (${CLUSTER} per series per fold) | ${f(d.clusteredUsPerResult)} | ${(d.clusteredUsPerResult / d.copyUsPerRow).toFixed(1)} |`,
    ...(d.slice
      ? [
          `| slice, steady | ${f(d.slice.steadyUsPerResult)} | ${(d.slice.steadyUsPerResult / d.copyUsPerRow).toFixed(1)} |`,
          `| slice, clustered | ${f(d.slice.clusteredUsPerResult)} | ${(d.slice.clusteredUsPerResult / d.copyUsPerRow).toFixed(1)} |`,
        ]
      : []),
    ...(d.slice?.hourCloseUsPerMinuteRow !== undefined
      ? [
          `| slice, hour close: summing the hour's minute rows, per minute row | ${f(d.slice.hourCloseUsPerMinuteRow)} | ${(d.slice.hourCloseUsPerMinuteRow / d.copyUsPerRow).toFixed(1)} |`,
          `| slice, steady with its hour close (one minute row per result) | ${f(d.slice.steadyUsPerResult + d.slice.hourCloseUsPerMinuteRow)} | ${((d.slice.steadyUsPerResult + d.slice.hourCloseUsPerMinuteRow) / d.copyUsPerRow).toFixed(1)} |`,
        ]
      : []),
    `| COPY of a raw row (reference) | ${f(d.copyUsPerRow)} | 1 |`,
    ...(d.fullHour
      ? [
          '',
          `A full hour at the top of the hour (\`rollup-sum\`): ${d.fullHour.series} series × 60 minute rows (${d.fullHour.minuteRows} rows, inserted`,
          `with SQL) summed into hour rows in one statement: ${(d.fullHour.ms / 1000).toFixed(1)} s, ${f(d.fullHour.usPerMinuteRow)} µs of PostgreSQL CPU per minute row.`,
        ]
      : []),
    '',
    `Steady rounds (µs per result), queue: ${d.steadyRounds.map(f).join(', ')}.`,
    ...(d.slice ? [`Slice: ${d.slice.steadyRounds.map(f).join(', ')}.`] : []),
  ].join('\n');
}

export async function foldBench(command: string): Promise<void> {
  const d = await measure();
  await publish('FOLD', foldMarkdown(d, command), d);
}
