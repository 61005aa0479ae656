// Tests for B2's "load back to ≤ 1.2× mean" cycle count.
import { describe, expect, it } from 'vitest';
import { cyclesUntilBack } from './b2-startup-burst.js';

describe('cyclesUntilBack', () => {
  it('is 1 when every cycle after the window is within 1.2× the mean', () => {
    expect(cyclesUntilBack([110, 100, 100], 100)).toBe(1);
  });
  it('counts the first cycle from which the load stays within the bound', () => {
    expect(cyclesUntilBack([200, 115, 100], 100)).toBe(2);
    expect(cyclesUntilBack([200, 100, 130, 100], 100)).toBe(4);
  });
  it('is 0 when the last cycle is still above the bound', () => {
    expect(cyclesUntilBack([100, 100, 121], 100)).toBe(0);
    expect(cyclesUntilBack([], 100)).toBe(0);
  });
});
