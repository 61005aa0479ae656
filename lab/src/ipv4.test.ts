import { describe, expect, it } from 'vitest';
import { formatAddress, isHostAddress, nthHost, overlaps, parseAddress, parseSubnet } from './ipv4.js';

describe('ipv4', () => {
  it('round-trips addresses', () => {
    expect(formatAddress(parseAddress('10.77.3.254'))).toBe('10.77.3.254');
    expect(parseAddress('255.255.255.255')).toBe(2 ** 32 - 1);
  });

  it('rejects malformed addresses and subnets', () => {
    expect(() => parseAddress('10.0.0')).toThrow('not an IPv4 address');
    expect(() => parseAddress('10.0.0.256')).toThrow('not an IPv4 address');
    expect(() => parseSubnet('10.0.0.1/24')).toThrow('host bits are not zero');
    expect(() => parseSubnet('10.0.0.0/31')).toThrow('/30 or shorter');
    expect(() => parseSubnet('10.0.0.0')).toThrow('a.b.c.d/n');
  });

  it('numbers hosts inside the subnet only', () => {
    const s = parseSubnet('10.77.0.0/30');
    expect(formatAddress(nthHost(s, 1))).toBe('10.77.0.1');
    expect(formatAddress(nthHost(s, 2))).toBe('10.77.0.2');
    expect(() => nthHost(s, 3)).toThrow('no host number 3');
    expect(isHostAddress(s, parseAddress('10.77.0.0'))).toBe(false);
  });

  it('detects overlapping subnets', () => {
    expect(overlaps(parseSubnet('10.0.0.0/16'), parseSubnet('10.0.5.0/24'))).toBe(true);
    expect(overlaps(parseSubnet('10.0.0.0/24'), parseSubnet('10.0.1.0/24'))).toBe(false);
  });
});
