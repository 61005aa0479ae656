import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseIperf3 } from './iperf3.js';
import { parsePingSummary } from './ping.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8');

describe('parsePingSummary', () => {
  it('reads counts and round-trip times', () => {
    expect(parsePingSummary(fixture('ping-ok.txt'))).toEqual({
      transmitted: 3,
      received: 3,
      lost: 0,
      lossRatio: 0,
      rtt: { min: 0.039, avg: 2.112, max: 6.193, mdev: 2.885 },
    });
  });

  it('counts deterministic loss', () => {
    const s = parsePingSummary(fixture('ping-loss-10pct.txt'));
    expect([s.transmitted, s.received, s.lost, s.lossRatio]).toEqual([1000, 900, 100, 0.1]);
  });

  it('has no rtt when nothing came back', () => {
    const s = parsePingSummary(fixture('ping-all-lost.txt'));
    expect(s).toEqual({ transmitted: 2, received: 0, lost: 2, lossRatio: 1 });
  });

  it('throws on output without statistics', () => {
    expect(() => parsePingSummary('ping: connect: Network is unreachable\n')).toThrow('packets transmitted');
  });
});

describe('parseIperf3', () => {
  it('reads the receiver goodput and the MSS', () => {
    const r = parseIperf3(fixture('iperf3-tbf-100mbit.json'));
    expect(r.mss).toBe(1448);
    expect(r.receivedBitsPerSecond).toBeGreaterThan(90e6);
    expect(r.receivedBitsPerSecond).toBeLessThan(96e6);
    expect(r.seconds).toBeGreaterThan(3.9);
  });

  it('throws on an iperf3 error or a missing result', () => {
    expect(() => parseIperf3('{"error":"unable to connect to server: Connection refused"}')).toThrow(
      'iperf3: unable to connect',
    );
    expect(() => parseIperf3('{"end":{}}')).toThrow('no end.sum_received');
  });
});
