// Tests: rate limiter and concurrency gate.
import { describe, expect, it } from 'vitest';
import { ConcurrencyGate, RateLimiter } from './limits.js';

describe('RateLimiter', () => {
  it('allows the burst, then refills at the rate (injected clock)', () => {
    let now = 0;
    const rate = new RateLimiter(2, 3, () => now);
    expect([rate.take('a'), rate.take('a'), rate.take('a')]).toEqual([0, 0, 0]);
    expect(rate.take('a')).toBeCloseTo(0.5);
    expect(rate.take('b')).toBe(0);
    now = 500;
    expect(rate.take('a')).toBe(0);
    expect(rate.take('a')).toBeGreaterThan(0);
  });
});

describe('ConcurrencyGate', () => {
  it('admits up to max and releases once per entry', () => {
    const gate = new ConcurrencyGate(2);
    const a = gate.tryEnter();
    const b = gate.tryEnter();
    expect(gate.tryEnter()).toBeNull();
    a?.();
    a?.();
    expect(gate.running).toBe(1);
    expect(gate.tryEnter()).not.toBeNull();
    b?.();
    expect(gate.running).toBe(1);
  });
});
