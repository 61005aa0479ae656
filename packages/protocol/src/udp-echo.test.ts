// Tests: UDP echo wire format.
import { describe, expect, it } from 'vitest';
import { decodeUdpEcho, encodeUdpEchoRequest, toUdpEchoReply, UDP_ECHO_HEADER_BYTES } from './udp-echo.js';

describe('udp echo wire format', () => {
  it('round-trips a request into a same-size reply with reflector timestamps', () => {
    const req = encodeUdpEchoRequest(0xdeadbeef, 42, 123_456_789_012n, 100);
    expect(req.byteLength).toBe(100);
    expect(decodeUdpEcho(req)).toEqual({
      type: 'request',
      sessionId: 0xdeadbeef,
      seq: 42,
      clientSendNs: 123_456_789_012n,
      serverRecvNs: 0n,
      serverSendNs: 0n,
    });
    expect(toUdpEchoReply(req, 5n, 7n)).toBe(true);
    expect(req.byteLength).toBe(100);
    expect(decodeUdpEcho(req)).toMatchObject({ type: 'reply', seq: 42, serverRecvNs: 5n, serverSendNs: 7n });
  });

  it('refuses sizes outside 40..8972', () => {
    expect(() => encodeUdpEchoRequest(1, 1, 1n, UDP_ECHO_HEADER_BYTES - 1)).toThrow(RangeError);
    expect(() => encodeUdpEchoRequest(1, 1, 1n, 8973)).toThrow(RangeError);
  });

  it('does not reflect garbage, replies, or short datagrams', () => {
    expect(toUdpEchoReply(new Uint8Array(64), 1n, 1n)).toBe(false);
    const req = encodeUdpEchoRequest(1, 1, 1n, 40);
    toUdpEchoReply(req, 1n, 1n);
    expect(toUdpEchoReply(req, 1n, 1n)).toBe(false);
    expect(toUdpEchoReply(req.subarray(0, 39), 1n, 1n)).toBe(false);
    expect(decodeUdpEcho(new Uint8Array(10))).toBeNull();
  });

  it('works on a view into a larger buffer (as Node hands datagrams over)', () => {
    const big = new Uint8Array(200);
    big.set(encodeUdpEchoRequest(9, 3, 1n, 64), 50);
    const view = big.subarray(50, 114);
    expect(toUdpEchoReply(view, 2n, 3n)).toBe(true);
    expect(decodeUdpEcho(view)).toMatchObject({ sessionId: 9, seq: 3, type: 'reply' });
  });
});
