// Tests: iputils ping parser on captured output.
import { describe, expect, it } from 'vitest';
import { fixture } from './fixtures.js';
import { parsePing } from './ping-parse.js';

describe('parsePing', () => {
  it('reads every reply and the summary of a clean run', () => {
    const out = parsePing(fixture('ping-ok-ipv4.txt'));
    expect(out.address).toBe('10.250.2.2');
    expect(out.transmitted).toBe(5);
    expect(out.received).toBe(5);
    expect(out.lossPct).toBe(0);
    expect(out.replies.map((r) => r.rttMs)).toEqual([0.037, 0.084, 0.066, 0.058, 0.068]);
    expect(out.replies[0]).toMatchObject({ seq: 1, from: '10.250.2.2', bytes: 1008, ttl: 63, duplicate: false });
    expect(out.summary).toEqual({ minMs: 0.037, avgMs: 0.062, maxMs: 0.084, mdevMs: 0.015 });
  });

  it('reads IPv6 replies whose address contains colons', () => {
    const out = parsePing(fixture('ping-ok-ipv6.txt'));
    expect(out.address).toBe('::1');
    expect(out.replies).toHaveLength(4);
    expect(out.replies.every((r) => r.from === '::1')).toBe(true);
  });

  it('takes the resolved address when pinging a host name', () => {
    const out = parsePing(fixture('ping-hostname.txt'));
    expect(out.address).toBe('127.0.0.1');
    expect(out.replies).toHaveLength(2);
  });

  it('leaves gaps in the sequence for lost packets', () => {
    const out = parsePing(fixture('ping-loss-ipv4.txt'));
    expect(out.transmitted).toBe(12);
    expect(out.received).toBe(9);
    expect(out.lossPct).toBe(25);
    expect(out.replies.map((r) => r.seq)).toEqual([2, 3, 4, 6, 7, 8, 10, 11, 12]);
  });

  it('marks duplicates and counts them', () => {
    const out = parsePing(fixture('ping-duplicates.txt'));
    expect(out.duplicates).toBe(2);
    expect(out.replies.filter((r) => r.duplicate).map((r) => r.seq)).toEqual([1, 2]);
    expect(out.received).toBe(3);
  });

  it('collects ICMP errors (TTL exceeded, unreachable) with their sender', () => {
    const ttl = parsePing(fixture('ping-ttl-exceeded.txt'));
    expect(ttl.errors).toBe(3);
    expect(ttl.replies).toHaveLength(0);
    expect(ttl.icmpErrors[0]).toEqual({ seq: 1, from: '10.250.1.1', message: 'Time to live exceeded' });
    const host = parsePing(fixture('ping-host-unreachable.txt'));
    expect(host.errors).toBe(4);
    expect(host.icmpErrors.map((e) => e.message)).toEqual(Array(4).fill('Destination Host Unreachable'));
    const net = parsePing(fixture('ping-network-unreachable.txt'));
    expect(net.errors).toBe(1);
    expect(net.transmitted).toBe(3);
    expect(net.icmpErrors[0]?.message).toBe('Destination Net Unreachable');
  });

  it('returns an empty result for output that is not ping', () => {
    const out = parsePing('ping: nosuch.invalid: Name or service not known\n');
    expect(out.transmitted).toBeUndefined();
    expect(out.replies).toEqual([]);
  });
});
