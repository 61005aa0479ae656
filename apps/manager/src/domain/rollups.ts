// What a rollup row of result_rollups adds up. The stored rollups are summed in SQL (`foldSliceBatch`,
// `foldPendingBatch`, `foldCoarseBatch`); finer rows of a period not summed yet, and results not folded
// yet, are added to a series' points here (`mergeRollup`, `addToRollup`).
import { HIST_BUCKETS, histBucket } from './result-headline.js';

/** What a rollup row adds up (the columns of result_rollups besides its key). */
export interface RollupCounters {
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
  /** HIST_BUCKETS counts */
  hist: number[];
}

/** A result's numbers as rollups read them. */
export interface RolledUp {
  ok: boolean;
  latency_ms: number | null;
  jitter_ms: number | null;
  loss_pct: number | null;
}

export const emptyRollup = (): RollupCounters => ({
  count: 0,
  ok_count: 0,
  lat_count: 0,
  lat_sum: 0,
  lat_min: null,
  lat_max: null,
  jitter_sum: 0,
  jitter_count: 0,
  loss_sum: 0,
  loss_count: 0,
  hist: new Array<number>(HIST_BUCKETS).fill(0),
});

/** Adds one result to `c` (in place), as the fold's SQL does. */
export function addToRollup(c: RollupCounters, r: RolledUp): RollupCounters {
  c.count++;
  if (r.ok) c.ok_count++;
  if (r.latency_ms !== null) {
    c.lat_count++;
    c.lat_sum += r.latency_ms;
    c.lat_min = c.lat_min === null ? r.latency_ms : Math.min(c.lat_min, r.latency_ms);
    c.lat_max = c.lat_max === null ? r.latency_ms : Math.max(c.lat_max, r.latency_ms);
    (c.hist[histBucket(r.latency_ms) - 1] as number)++;
  }
  if (r.jitter_ms !== null) {
    c.jitter_count++;
    c.jitter_sum += r.jitter_ms;
  }
  if (r.loss_pct !== null) {
    c.loss_count++;
    c.loss_sum += r.loss_pct;
  }
  return c;
}

/** Adds rollup `r` to `c` (in place), as `foldCoarseBatch` sums finer rows into a coarser one. */
export function mergeRollup(c: RollupCounters, r: RollupCounters): RollupCounters {
  c.count += r.count;
  c.ok_count += r.ok_count;
  c.lat_count += r.lat_count;
  c.lat_sum += r.lat_sum;
  if (r.lat_min !== null) c.lat_min = c.lat_min === null ? r.lat_min : Math.min(c.lat_min, r.lat_min);
  if (r.lat_max !== null) c.lat_max = c.lat_max === null ? r.lat_max : Math.max(c.lat_max, r.lat_max);
  c.jitter_sum += r.jitter_sum;
  c.jitter_count += r.jitter_count;
  c.loss_sum += r.loss_sum;
  c.loss_count += r.loss_count;
  for (let i = 0; i < c.hist.length; i++) c.hist[i] = (c.hist[i] as number) + (r.hist[i] ?? 0);
  return c;
}
