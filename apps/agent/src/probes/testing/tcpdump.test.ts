// Tests: tcpdump ground-truth parser and pairing on a captured capture.
import { describe, expect, it } from 'vitest';
import { fixture } from '../fixtures.js';
import { parseTcpdump, tcpWireTransfer, tcpWireTtfbs, udpWireRtts } from './tcpdump.js';

describe('tcpdump ground truth', () => {
  const packets = parseTcpdump(fixture('tcpdump-q-loopback.txt'));

  it('parses ns timestamps, endpoints and payload lengths', () => {
    expect(packets).toHaveLength(16);
    expect(packets[0]).toEqual({
      timeNs: 1_795_441_756_606_147_405n,
      src: '127.0.0.1.41014',
      dst: '127.0.0.1.18702',
      proto: 'udp',
      length: 64,
    });
    expect(packets[9]).toMatchObject({ proto: 'tcp', length: 118 });
    expect(parseTcpdump('1.5 IP 10.0.0.1.1 > 10.0.0.2.2: UDP, length 5\n')[0]?.timeNs).toBe(1_500_000_000n);
  });

  it('pairs datagrams into wire RTTs', () => {
    const rtts = udpWireRtts(packets, '127.0.0.1.18702');
    expect(rtts).toHaveLength(3);
    expect(rtts[0]).toBeCloseTo(1.40631, 5);
    expect(rtts[1]).toBeCloseTo(0.158495, 6);
  });

  it('finds the wire TTFB of each TCP connection', () => {
    expect([...tcpWireTtfbs(packets, '127.0.0.1.18700')]).toEqual([['127.0.0.1.40290', expect.closeTo(2.615752, 6)]]);
  });

  it('measures a download from the first to the last server segment with payload', () => {
    const dl = parseTcpdump(
      [
        '10.000000000 IP 10.0.0.1.5000 > 10.0.0.2.80: tcp 90',
        '10.001000000 IP 10.0.0.2.80 > 10.0.0.1.5000: tcp 1448',
        '10.002000000 IP 10.0.0.1.5000 > 10.0.0.2.80: tcp 0',
        '10.003000000 IP 10.0.0.2.80 > 10.0.0.1.6000: tcp 1448',
        '10.251000000 IP 10.0.0.2.80 > 10.0.0.1.5000: tcp 2896',
        '10.300000000 IP 10.0.0.2.80 > 10.0.0.1.5000: tcp 0',
      ].join('\n'),
    );
    expect(tcpWireTransfer(dl, '10.0.0.2.80', '10.0.0.1.5000')).toEqual({ durationMs: 250, bytes: 4344 });
    expect(tcpWireTransfer(dl, '10.0.0.2.80', '10.0.0.1.7000')).toBeUndefined();
  });
});
