// Rollup deltas of a batch of stored results: one row per granularity × device × kind × target × bucket,
// with the counts, sums, extremes and latency histogram the batch adds; pure.
import { HIST_BUCKETS, histBucket } from './result-headline.js';

export const GRANULARITIES = ['minute', 'hour', 'day'] as const;
export type Granularity = (typeof GRANULARITIES)[number];

const STEP_MS: Record<Granularity, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/** What a rollup needs of a stored result. */
export interface RollupInput {
  device_id: string;
  ou_id: string;
  kind: string;
  target: string;
  /** when the probe started, ms since the epoch */
  at: number;
  ok: boolean;
  latency_ms: number | null;
  jitter_ms: number | null;
  loss_pct: number | null;
}

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

export interface RollupDelta extends RollupCounters {
  granularity: Granularity;
  /** start of the bucket (UTC, as date_trunc in a UTC session), ISO */
  bucket: string;
  device_id: string;
  kind: string;
  target: string;
  ou_id: string;
}

const GRANULARITY_ORDER: Record<Granularity, number> = { day: 0, hour: 1, minute: 2 };

/** granularity (name order), device (numerically), kind, target (code units), bucket. */
function byRow(a: RollupDelta & { t: number }, b: RollupDelta & { t: number }): number {
  if (a.granularity !== b.granularity) return GRANULARITY_ORDER[a.granularity] - GRANULARITY_ORDER[b.granularity];
  if (a.device_id !== b.device_id) {
    return a.device_id.length - b.device_id.length || (a.device_id < b.device_id ? -1 : 1);
  }
  if (a.kind !== b.kind) return a.kind < b.kind ? -1 : 1;
  if (a.target !== b.target) return a.target < b.target ? -1 : 1;
  return a.t - b.t;
}

/**
 * Folds results into rollup deltas, sorted by (granularity, device, kind, target, bucket): writers that
 * upsert in one fixed order cannot deadlock on rollup rows.
 */
export function rollupDeltas(rows: readonly RollupInput[]): RollupDelta[] {
  const out = new Map<string, RollupDelta & { t: number }>();
  for (const r of rows) {
    const series = `${r.device_id}\u0000${r.kind}\u0000${r.target}\u0000`;
    const bucketOf = histBucketOrZero(r.latency_ms);
    for (const g of GRANULARITIES) {
      const t = Math.floor(r.at / STEP_MS[g]) * STEP_MS[g];
      const key = `${g}${series}${t}`;
      let d = out.get(key);
      if (!d) {
        d = {
          granularity: g,
          bucket: '',
          t,
          device_id: r.device_id,
          kind: r.kind,
          target: r.target,
          ou_id: r.ou_id,
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
        };
        out.set(key, d);
      }
      d.count++;
      if (r.ok) d.ok_count++;
      if (r.latency_ms !== null) {
        d.lat_count++;
        d.lat_sum += r.latency_ms;
        d.lat_min = d.lat_min === null ? r.latency_ms : Math.min(d.lat_min, r.latency_ms);
        d.lat_max = d.lat_max === null ? r.latency_ms : Math.max(d.lat_max, r.latency_ms);
        (d.hist[bucketOf - 1] as number)++;
      }
      if (r.jitter_ms !== null) {
        d.jitter_count++;
        d.jitter_sum += r.jitter_ms;
      }
      if (r.loss_pct !== null) {
        d.loss_count++;
        d.loss_sum += r.loss_pct;
      }
    }
  }
  return [...out.values()].sort(byRow).map(({ t, ...d }) => ({ ...d, bucket: new Date(t).toISOString() }));
}

const histBucketOrZero = (ms: number | null) => (ms === null ? 0 : histBucket(ms));
