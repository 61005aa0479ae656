// What a rollup row of result_rollups adds up; the rollups are summed in SQL (`foldPendingBatch`).

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
