// Pure statistics over RTT samples: min/avg/max/mdev/percentiles, RFC 3550 jitter.
import type { RttStats } from '@rookery/protocol';
import { roundMs } from './clock.js';

/** Nearest-rank percentile (p in 0..100) of an ascending-sorted array; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number;
}

/**
 * min/avg/max/mdev (population standard deviation, as iputils ping computes it) and p50/p99,
 * rounded to µs. Returns undefined for no samples.
 */
export function rttStats(samples: readonly number[]): RttStats | undefined {
  if (samples.length === 0) return undefined;
  const sorted = [...samples].sort((a, b) => a - b);
  let sum = 0;
  let sumSq = 0;
  for (const s of samples) {
    sum += s;
    sumSq += s * s;
  }
  const avg = sum / samples.length;
  const mdev = Math.sqrt(Math.max(0, sumSq / samples.length - avg * avg));
  return {
    minMs: roundMs(sorted[0] as number),
    avgMs: roundMs(avg),
    maxMs: roundMs(sorted[sorted.length - 1] as number),
    mdevMs: roundMs(mdev),
    p50Ms: roundMs(percentile(sorted, 50)),
    p99Ms: roundMs(percentile(sorted, 99)),
  };
}

/**
 * RFC 3550 §6.4.1 interarrival jitter: J += (|D(i-1,i)| − J) / 16 over packets in arrival order,
 * where D is the change in transit time. Pass transit times (receive − send, any clock offset:
 * it cancels). Returns undefined for fewer than two packets.
 */
export function rfc3550Jitter(transitsInArrivalOrder: readonly number[]): number | undefined {
  if (transitsInArrivalOrder.length < 2) return undefined;
  let j = 0;
  for (let i = 1; i < transitsInArrivalOrder.length; i++) {
    const d = Math.abs((transitsInArrivalOrder[i] as number) - (transitsInArrivalOrder[i - 1] as number));
    j += (d - j) / 16;
  }
  return roundMs(j);
}

/** Loss percentage with two decimals; 0 when nothing was sent. */
export function lossPct(sent: number, received: number): number {
  if (sent <= 0) return 0;
  return Math.round(((sent - received) / sent) * 10_000) / 100;
}
