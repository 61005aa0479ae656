// Headline extraction per kind and histogram percentiles.
import { describe, expect, it } from 'vitest';
import { bucketUpperMs, headline, histBucket as bucketOf, histPercentile, MAX_HEADLINE_MS } from './result-headline.js';

describe('headline', () => {
  it('picks each kind’s main numbers', () => {
    expect(headline('http', { ttfbMs: 3, totalMs: 9 })).toEqual({ latency_ms: 3, jitter_ms: null, loss_pct: null });
    expect(headline('http', { totalMs: 9 }).latency_ms).toBe(9);
    expect(headline('tcp', { connectMs: 0.4 }).latency_ms).toBe(0.4);
    expect(headline('icmp', { rtt: { avgMs: 1.5 }, jitterMs: 0.2, lossPct: 10 })).toEqual({
      latency_ms: 1.5,
      jitter_ms: 0.2,
      loss_pct: 10,
    });
    expect(headline('dns', { rttMs: 2 }).latency_ms).toBe(2);
    expect(
      headline('traceroute', {
        hops: [
          { probes: [{ rttMs: 1 }] },
          { probes: [{ rttMs: null }, { rttMs: 5 }, { rttMs: 4 }] },
          { probes: [{ rttMs: null }] },
        ],
      }).latency_ms,
    ).toBe(4);
  });

  it('ignores junk', () => {
    expect(headline('udp', { rtt: 'x', jitterMs: -1, lossPct: Number.NaN })).toEqual({
      latency_ms: null,
      jitter_ms: null,
      loss_pct: null,
    });
    expect(headline('nope', { ttfbMs: 1 }).latency_ms).toBeNull();
    // beyond a day, or a loss over 100 %: left out, so rollup sums stay finite
    expect(headline('icmp', { rtt: { avgMs: 1e308 }, jitterMs: MAX_HEADLINE_MS + 1, lossPct: 101 })).toEqual({
      latency_ms: null,
      jitter_ms: null,
      loss_pct: null,
    });
    expect(headline('tcp', { connectMs: MAX_HEADLINE_MS }).latency_ms).toBe(MAX_HEADLINE_MS);
    expect(headline('traceroute', { hops: [{ probes: 'x' }, { probes: [null, 7] }] }).latency_ms).toBeNull();
  });

  it('takes the least round trip of a hop with more probes than a call takes arguments', () => {
    const probes = Array.from({ length: 300_000 }, (_, i) => ({ rttMs: 2 + (i % 5) }));
    probes[123_456] = { rttMs: 1.5 };
    expect(headline('traceroute', { hops: [{ probes }] }).latency_ms).toBe(1.5);
  });
});

describe('histPercentile', () => {
  it('is within 12.5 % of the exact percentile', () => {
    const values = Array.from({ length: 1000 }, (_, i) => 0.2 + (i % 100) * 0.37 + Math.floor(i / 100) * 0.011);
    const hist = new Array(64).fill(0);
    for (const v of values) hist[bucketOf(v) - 1]++;
    const sorted = [...values].sort((a, b) => a - b);
    for (const p of [50, 95, 99]) {
      const exact = sorted[Math.ceil((p / 100) * sorted.length) - 1] as number;
      const est = histPercentile(hist, p) as number;
      expect(Math.abs(est - exact) / exact).toBeLessThanOrEqual(0.125);
    }
  });

  it('null when empty; buckets are contiguous', () => {
    expect(histPercentile(new Array(64).fill(0), 50)).toBeNull();
    expect(bucketUpperMs(2) / bucketUpperMs(1)).toBeCloseTo(1.25);
    expect(bucketOf(0.05)).toBe(1);
    expect(bucketOf(0.0625)).toBe(2);
    expect(bucketOf(0.0626)).toBe(3);
    expect(bucketOf(0)).toBe(1);
    expect(bucketOf(1e9)).toBe(64);
    // every latency falls in the bucket whose upper edge is the first at or above it
    for (const v of [0.07, 0.3, 1.7, 25, 480, 9000]) {
      const b = bucketOf(v);
      expect(bucketUpperMs(b)).toBeGreaterThanOrEqual(v);
      expect(bucketUpperMs(b - 1)).toBeLessThan(v);
    }
  });
});
