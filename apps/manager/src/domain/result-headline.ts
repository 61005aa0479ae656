// The headline numbers of a probe result (latency, jitter, loss) used by rollups and thresholds; pure.

export interface Headline {
  /** the kind's main latency, ms; null when the probe measured none */
  latency_ms: number | null;
  jitter_ms: number | null;
  loss_pct: number | null;
}

/**
 * Longest latency or jitter taken as a headline number, ms (a day: no probe waits that long). Larger
 * values are left out like missing ones: summed into rollups they overflowed to Infinity (1e308 twice),
 * which no JSON answer can carry.
 */
export const MAX_HEADLINE_MS = 86_400_000;

/** A finite number in [0, max], else null. */
const num = (v: unknown, max = MAX_HEADLINE_MS): number | null =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= max ? v : null;
const rttAvg = (m: Record<string, unknown>) => num((m.rtt as Record<string, unknown> | undefined)?.avgMs);

/**
 * Picks per kind: http → TTFB (else total), tcp → connect, udp/icmp → mean RTT + jitter + loss,
 * dns → query RTT, traceroute → RTT of the last hop that answered. Unknown kinds: all null.
 */
export function headline(kind: string, metrics: Record<string, unknown>): Headline {
  switch (kind) {
    case 'http':
      return { latency_ms: num(metrics.ttfbMs) ?? num(metrics.totalMs), jitter_ms: null, loss_pct: null };
    case 'tcp':
      return { latency_ms: num(metrics.connectMs), jitter_ms: null, loss_pct: null };
    case 'udp':
    case 'icmp':
      return { latency_ms: rttAvg(metrics), jitter_ms: num(metrics.jitterMs), loss_pct: num(metrics.lossPct, 100) };
    case 'dns':
      return { latency_ms: num(metrics.rttMs), jitter_ms: null, loss_pct: null };
    case 'traceroute': {
      const hops = Array.isArray(metrics.hops) ? (metrics.hops as { probes?: { rttMs?: unknown }[] }[]) : [];
      for (let i = hops.length - 1; i >= 0; i--) {
        // a loop, not Math.min(...): a hop may list more probes than a call takes arguments
        let min: number | null = null;
        const probes = hops[i]?.probes;
        for (const p of Array.isArray(probes) ? probes : []) {
          const v = num(p?.rttMs);
          if (v !== null && (min === null || v < min)) min = v;
        }
        if (min !== null) return { latency_ms: min, jitter_ms: null, loss_pct: null };
      }
      return { latency_ms: null, jitter_ms: null, loss_pct: null };
    }
    default:
      return { latency_ms: null, jitter_ms: null, loss_pct: null };
  }
}

/**
 * Histogram bucket (1-based, 1–64) of a latency in ms: bucket i covers (0.05·1.25^(i−2), 0.05·1.25^(i−1)];
 * everything ≤ 0.05 ms is bucket 1, everything past bucket 63 is bucket 64 (the SQL `rk_hist` of migration 0003).
 */
export const histBucket = (ms: number) =>
  Math.min(HIST_BUCKETS, Math.max(1, Math.ceil(Math.log(Math.max(ms, 0.05) / 0.05) / Math.log(1.25)) + 1));

/** Buckets in result_rollups.hist. */
export const HIST_BUCKETS = 64;

/** Upper edge (ms) of histogram bucket i (1-based) of result_rollups.hist. */
export const bucketUpperMs = (i: number) => 0.05 * 1.25 ** (i - 1);

/**
 * Percentile (0–100) from a 64-bucket latency histogram, interpolated inside the bucket on a log
 * scale; relative error ≤ 12.5 %. Null for an empty histogram.
 */
export function histPercentile(hist: readonly number[], p: number): number | null {
  const total = hist.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = (p / 100) * total;
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    const c = hist[i] ?? 0;
    if (c > 0 && seen + c >= rank) {
      const upper = bucketUpperMs(i + 1);
      if (i === 0) return upper;
      const lower = bucketUpperMs(i);
      const frac = Math.min(1, Math.max(0, (rank - seen) / c));
      return lower * (upper / lower) ** frac;
    }
    seen += c;
  }
  return bucketUpperMs(hist.length);
}
