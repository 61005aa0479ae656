// Summary statistics for benchmark samples (ms): n, mean, min, p50, p90, p99, max.

export interface Summary {
  n: number;
  mean: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of ascending-sorted values; NaN when empty. */
export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

/** Median (mean of the two middle values for an even count); NaN when empty. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Summary of samples; all NaN (n 0) when empty. */
export function summarize(samples: readonly number[]): Summary {
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : Number.NaN;
  return {
    n: s.length,
    mean,
    min: s[0] ?? Number.NaN,
    p50: quantile(s, 50),
    p90: quantile(s, 90),
    p99: quantile(s, 99),
    max: s[s.length - 1] ?? Number.NaN,
  };
}

/** Formats ms with µs precision. */
export function ms(v: number): string {
  return Number.isFinite(v) ? v.toFixed(3) : '–';
}

/** Formats a ms difference as signed µs. */
export function us(v: number): string {
  return Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${(v * 1000).toFixed(1)}` : '–';
}
