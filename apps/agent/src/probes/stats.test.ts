// Tests: RTT statistics, percentiles and RFC 3550 jitter.
import { describe, expect, it } from 'vitest';
import { lossPct, percentile, rfc3550Jitter, rttStats } from './stats.js';

describe('rttStats', () => {
  it('matches ping for its own samples (population mdev)', () => {
    // ping-ok-ipv4 fixture: 0.037/0.062/0.084/0.015 from full-precision samples
    const s = rttStats([0.037, 0.084, 0.066, 0.058, 0.068]);
    expect(s).toMatchObject({ minMs: 0.037, maxMs: 0.084, avgMs: 0.063 });
    expect(s?.mdevMs).toBeCloseTo(0.0153, 3);
    expect(s?.p50Ms).toBe(0.066);
    expect(s?.p99Ms).toBe(0.084);
  });

  it('is undefined without samples', () => {
    expect(rttStats([])).toBeUndefined();
  });
});

describe('percentile', () => {
  it('uses the nearest rank', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('rfc3550Jitter', () => {
  it('follows J += (|D| - J)/16', () => {
    // transits 10, 12, 11: D = 2 then 1 → J = 2/16 = 0.125; J = 0.125 + (1 - 0.125)/16 = 0.1797
    expect(rfc3550Jitter([10, 12, 11])).toBe(0.18);
  });

  it('is zero for constant transit whatever the clock offset', () => {
    expect(rfc3550Jitter([1000.5, 1000.5, 1000.5, 1000.5])).toBe(0);
  });

  it('needs two packets', () => {
    expect(rfc3550Jitter([1])).toBeUndefined();
  });
});

describe('lossPct', () => {
  it('rounds to two decimals and is 0 for nothing sent', () => {
    expect(lossPct(3, 2)).toBe(33.33);
    expect(lossPct(100, 90)).toBe(10);
    expect(lossPct(0, 0)).toBe(0);
  });
});
