// Job: keeps the minute, hour and day rollups up to date. Results are summed into minute rows straight from
// `results`, one closed slice of start times at a time; results that arrived after their slice was closed
// were queued by ingest (rollup_pending) and are folded from there. Hour rows are summed from minute rows
// when the hour closes, day rows from hour rows when the day does (ADR 6).
import type { Db } from '../db/database.js';
import {
  closeRollupSlices,
  foldCoarseBatch,
  foldPendingBatch,
  foldSliceBatch,
  rollupWatermarks,
} from '../db/queries/results.js';
import type { Job } from './leader.js';

/**
 * Slice length, ms: slices end on multiples of it (UTC). A series that reports more often than this
 * costs one rollup upsert per granularity and slice instead of one per result.
 */
export const ROLLUP_SLICE_MS = 10_000;

/**
 * How long after its end a slice is closed, ms. Agents upload as they measure, so results a few
 * seconds old are on time; later ones are queued and folded from rollup_pending.
 */
export const ROLLUP_GRACE_MS = 5_000;

/** The end of the last slice that may be closed at `now` (ms since epoch). */
export const closableUntil = (now: number) =>
  new Date(Math.floor((now - ROLLUP_GRACE_MS) / ROLLUP_SLICE_MS) * ROLLUP_SLICE_MS);

/**
 * Folds everything queued so far, `batch` results per statement (each result exactly once: taken and
 * rolled up in one statement). Bounded: stops after `maxBatches` per call.
 * @returns results folded
 */
export async function foldPendingRollups(db: Db, batch = 20_000, maxBatches = 50): Promise<number> {
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    const n = await foldPendingBatch(db, batch);
    // null: a period is being summed; the queue waits for the next run
    if (n === null) break;
    total += n;
    if (n < batch) break;
  }
  return total;
}

/**
 * Folds the queued results, closes the slices that end before `until` (default: `closableUntil(now)`)
 * and folds the closed slices, one slice per statement, at most `maxSlices` of them (a manager that was
 * down catches up over a few runs); then, unless `periods` is false, sums the hours and days that closed
 * (`sumClosedPeriods`). The leader runs the two parts as separate jobs (`rollupFoldJob`, `rollupSumJob`).
 * @returns results folded (into minute rows)
 */
export async function foldRollups(
  db: Db,
  o: { until?: Date; maxSlices?: number; maxPeriods?: number; periods?: boolean } = {},
): Promise<number> {
  let total = await foldPendingRollups(db);
  const until = o.until ?? closableUntil(Date.now());
  const w = await rollupWatermarks(db);
  // closing holds up ingest for a moment: only when a slice is due (once per slice)
  const closed = w.closed < until && (await closeRollupSlices(db, until));
  if (closed || w.folded < w.closed) {
    for (let i = 0; i < (o.maxSlices ?? 60); i++) {
      const n = await foldSliceBatch(db, ROLLUP_SLICE_MS);
      if (n === null) break;
      total += n;
    }
  }
  if (o.periods !== false) await sumClosedPeriods(db, o.maxPeriods);
  return total;
}

/**
 * Sums the hours and days that closed into their hour and day rows (`foldCoarseBatch`), one period per
 * transaction, at most `maxPeriods`. An hour is due once `folded` passed its end, a day once its hours
 * are summed. An hour of 20 000 series reporting once a minute (1.2 million minute rows) takes about
 * 4 s in one statement (`./rookery bench fold`), of 100 000 series about 16 s.
 * @returns periods summed or skipped
 */
export async function sumClosedPeriods(db: Db, maxPeriods = 48): Promise<number> {
  let n = 0;
  while (n < maxPeriods && (await foldCoarseBatch(db))) n++;
  return n;
}

/**
 * How often the leader folds, ms. Measured in the B1 mix (4800 and 5600 req/s, three rounds alternated):
 * every 500 ms instead of 2 s gave the same PostgreSQL CPU per request and a lower upload p99 (97 vs 129 ms,
 * 131 vs 214 ms), because a fold of a quarter of the rows competes with ingest for a quarter of the time.
 */
export const FOLD_EVERY_MS = 500;

/** Rollups lag results by the slice, its grace and about `everyMs` (plus the fold itself). */
export function rollupFoldJob(db: Db, everyMs = FOLD_EVERY_MS): Job {
  return { name: 'rollup-fold', everyMs, run: async () => void (await foldRollups(db, { periods: false })) };
}

/**
 * Hour and day sums, a job of their own: a large fleet's hour takes seconds in one statement, during
 * which the minute fold and the other jobs go on (late results wait in the queue; `foldPendingBatch`).
 */
export function rollupSumJob(db: Db, everyMs = 5000): Job {
  return { name: 'rollup-sum', everyMs, run: async () => void (await sumClosedPeriods(db)) };
}
