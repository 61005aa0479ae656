import { describe, expect, it } from 'vitest';
import { theoreticalGoodput } from './goodput.js';

describe('theoreticalGoodput', () => {
  it('is rate × 1448 / 1514 for MTU 1500', () => {
    expect(theoreticalGoodput(100e6)).toBeCloseTo((100e6 * 1448) / 1514, 6);
    expect(theoreticalGoodput(100e6) / 1e6).toBeCloseTo(95.64, 2);
  });

  it('scales with the MTU', () => {
    expect(theoreticalGoodput(10e6, 9000)).toBeCloseTo((10e6 * 8948) / 9014, 6);
    expect(() => theoreticalGoodput(10e6, 40)).toThrow('no TCP payload');
  });
});
