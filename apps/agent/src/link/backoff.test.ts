// Tests of the jittered exponential backoff.
import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('doubles the ceiling up to the cap and keeps every delay in [ceiling/2, ceiling]', () => {
    for (const rng of [() => 0, () => 0.999_999, Math.random]) {
      const b = new Backoff({ initialMs: 1000, maxMs: 30_000, rng });
      const delays = Array.from({ length: 12 }, () => b.next());
      const ceilings = [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000, 30_000, 30_000, 30_000];
      delays.forEach((d, i) => {
        expect(d).toBeGreaterThanOrEqual((ceilings[i] as number) / 2);
        expect(d).toBeLessThanOrEqual(ceilings[i] as number);
      });
    }
  });

  it('starts over after reset and counts attempts', () => {
    const b = new Backoff({ initialMs: 100, rng: () => 1 });
    expect([b.next(), b.next(), b.next()]).toEqual([100, 200, 400]);
    expect(b.attempts).toBe(3);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('does not overflow after many failures', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 300_000, rng: () => 0.5 });
    for (let i = 0; i < 2000; i++) b.next();
    expect(b.next()).toBe(225_000);
  });

  it('with full jitter draws every delay in [0, ceiling]', () => {
    const low = new Backoff({ initialMs: 1000, maxMs: 8000, rng: () => 0, jitter: 'full' });
    const high = new Backoff({ initialMs: 1000, maxMs: 8000, rng: () => 0.999_999, jitter: 'full' });
    expect(Array.from({ length: 6 }, () => low.next())).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from({ length: 6 }, () => high.next())).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
  });
});
