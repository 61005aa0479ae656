// Tests: the death counter behind the worker and database restart budgets.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { deathCounter } from './restarts.js';

afterEach(() => vi.useRealTimers());

describe('deathCounter', () => {
  it('counts the deaths within the window, this one included, and forgets older ones', () => {
    vi.useFakeTimers({ now: 0 });
    const died = deathCounter(60_000);
    expect([died(), died(), died()]).toEqual([1, 2, 3]);
    vi.setSystemTime(59_999);
    expect(died()).toBe(4);
    vi.setSystemTime(60_001);
    expect(died()).toBe(2);
  });
});
