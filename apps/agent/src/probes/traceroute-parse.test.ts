// Tests: traceroute parser on captured output.
import { describe, expect, it } from 'vitest';
import { fixture } from './fixtures.js';
import { parseTraceroute } from './traceroute-parse.js';

describe('parseTraceroute', () => {
  it('reads hops, addresses and RTTs', () => {
    const out = parseTraceroute(fixture('traceroute-two-hops.txt'));
    expect(out.address).toBe('10.250.2.2');
    expect(out.hops).toHaveLength(2);
    expect(out.hops[0]).toEqual({
      ttl: 1,
      probes: [
        { address: '10.250.1.1', rttMs: 0.045 },
        { address: '10.250.1.1', rttMs: 0.008 },
        { address: '10.250.1.1', rttMs: 0.008 },
      ],
    });
    expect(out.hops[1]?.probes.map((p) => p.address)).toEqual(['10.250.2.2', '10.250.2.2', '10.250.2.2']);
  });

  it('turns * into null probes', () => {
    const out = parseTraceroute(fixture('traceroute-unreached.txt'));
    expect(out.hops).toHaveLength(4);
    expect(out.hops[3]?.probes).toEqual([
      { address: null, rttMs: null },
      { address: null, rttMs: null },
      { address: null, rttMs: null },
    ]);
  });

  it('reads F= path MTU marks of --mtu', () => {
    const out = parseTraceroute(fixture('traceroute-mtu.txt'));
    expect(out.hops.map((h) => h.mtu)).toEqual([1500, 1400]);
    expect(out.hops[0]?.probes).toEqual([
      { address: '10.250.1.1', rttMs: 0.032 },
      { address: null, rttMs: null },
    ]);
  });

  it('reads IPv6 hops and annotations', () => {
    expect(parseTraceroute(fixture('traceroute-ipv6-loopback.txt')).hops[0]?.probes[0]).toEqual({
      address: '::1',
      rttMs: 0.025,
    });
    const annotated = parseTraceroute(' 1  10.0.0.1  0.120 ms !H  10.0.0.2  0.200 ms  *\n');
    expect(annotated.hops[0]?.probes).toEqual([
      { address: '10.0.0.1', rttMs: 0.12, note: '!H' },
      { address: '10.0.0.2', rttMs: 0.2 },
      { address: null, rttMs: null },
    ]);
  });
});
