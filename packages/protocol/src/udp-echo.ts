// Wire format of the UDP reflector (test server) and the agent's udp probe: a 40-byte header
// with sequence number and timestamps, padded to the probe size; replies are the same size.
//
//  0 magic "RKUE"   4 version (1)   5 type (0 request, 1 reply)   6 reserved (2 bytes)
//  8 session id (u32)   12 sequence (u32)   16 client send time (u64 ns, client clock)
// 24 reflector receive time (u64 ns)   32 reflector send time (u64 ns, reflector clock)

export const UDP_ECHO_MAGIC = 0x524b5545; // "RKUE"
export const UDP_ECHO_VERSION = 1;
export const UDP_ECHO_HEADER_BYTES = 40;
/** Largest datagram either side accepts (jumbo frame payload). */
export const UDP_ECHO_MAX_BYTES = 8972;

export interface UdpEchoPacket {
  type: 'request' | 'reply';
  sessionId: number;
  seq: number;
  /** client's monotonic clock in ns when the request was sent */
  clientSendNs: bigint;
  /** reflector's monotonic clock in ns on receipt (0n in requests) */
  serverRecvNs: bigint;
  /** reflector's monotonic clock in ns just before replying (0n in requests) */
  serverSendNs: bigint;
}

/** Builds a request of `size` bytes (≥ 40, ≤ 8972; throws RangeError otherwise). */
export function encodeUdpEchoRequest(sessionId: number, seq: number, clientSendNs: bigint, size: number): Uint8Array {
  if (!Number.isInteger(size) || size < UDP_ECHO_HEADER_BYTES || size > UDP_ECHO_MAX_BYTES) {
    throw new RangeError(`udp echo size must be ${UDP_ECHO_HEADER_BYTES}..${UDP_ECHO_MAX_BYTES} bytes`);
  }
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, UDP_ECHO_MAGIC);
  view.setUint8(4, UDP_ECHO_VERSION);
  view.setUint8(5, 0);
  view.setUint32(8, sessionId >>> 0);
  view.setUint32(12, seq >>> 0);
  view.setBigUint64(16, clientSendNs);
  return bytes;
}

/** Rewrites a received request in place into its reply; returns false when it is not a valid request. */
export function toUdpEchoReply(bytes: Uint8Array, serverRecvNs: bigint, serverSendNs: bigint): boolean {
  if (bytes.byteLength < UDP_ECHO_HEADER_BYTES || bytes.byteLength > UDP_ECHO_MAX_BYTES) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== UDP_ECHO_MAGIC || view.getUint8(4) !== UDP_ECHO_VERSION || view.getUint8(5) !== 0) {
    return false;
  }
  view.setUint8(5, 1);
  view.setBigUint64(24, serverRecvNs);
  view.setBigUint64(32, serverSendNs);
  return true;
}

/** Parses a datagram; returns null for anything that is not a well-formed packet. */
export function decodeUdpEcho(bytes: Uint8Array): UdpEchoPacket | null {
  if (bytes.byteLength < UDP_ECHO_HEADER_BYTES) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint32(0) !== UDP_ECHO_MAGIC || view.getUint8(4) !== UDP_ECHO_VERSION) return null;
  const type = view.getUint8(5);
  if (type > 1) return null;
  return {
    type: type === 0 ? 'request' : 'reply',
    sessionId: view.getUint32(8),
    seq: view.getUint32(12),
    clientSendNs: view.getBigUint64(16),
    serverRecvNs: view.getBigUint64(24),
    serverSendNs: view.getBigUint64(32),
  };
}
