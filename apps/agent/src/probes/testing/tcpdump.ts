// Kernel ground truth for lab tests: packet timestamps from `tcpdump -tt -q` (pure parser and pairing).

export interface CapturedPacket {
  /** kernel timestamp, ns since the epoch */
  timeNs: bigint;
  /** "address.port" */
  src: string;
  dst: string;
  proto: 'udp' | 'tcp';
  /** payload bytes (0 for a bare TCP ACK/SYN/FIN) */
  length: number;
}

const LINE = /^(\d+)\.(\d{1,9}) IP6? (\S+) > (\S+): (UDP, length|tcp) (\d+)/;

/** argv for a capture whose stdout `parseTcpdump` reads. */
export function tcpdumpArgs(iface: string, filter: string): string[] {
  return ['-i', iface, '-n', '-tt', '--time-stamp-precision=nano', '-l', '-q', filter];
}

/** Parses `tcpdump -n -tt -q` lines (µs or ns precision); other lines are ignored. */
export function parseTcpdump(text: string): CapturedPacket[] {
  const out: CapturedPacket[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line.trim());
    if (!m) continue;
    const frac = (m[2] as string).padEnd(9, '0');
    out.push({
      timeNs: BigInt(m[1] as string) * 1_000_000_000n + BigInt(frac),
      src: m[3] as string,
      dst: m[4] as string,
      proto: m[5] === 'tcp' ? 'tcp' : 'udp',
      length: Number(m[6]),
    });
  }
  return out;
}

/** Strips the port from "a.b.c.d.port". */
export function hostOf(endpoint: string): string {
  return endpoint.slice(0, endpoint.lastIndexOf('.'));
}

/**
 * Wire RTTs (ms) of request/reply datagrams to `server` ("address.port"), paired first-in
 * first-out per client endpoint; assumes no loss (check the probe's count first).
 */
export function udpWireRtts(packets: readonly CapturedPacket[], server: string): number[] {
  const pending = new Map<string, bigint[]>();
  const rtts: number[] = [];
  for (const p of packets) {
    if (p.proto !== 'udp') continue;
    if (p.dst === server) {
      const q = pending.get(p.src) ?? [];
      q.push(p.timeNs);
      pending.set(p.src, q);
    } else if (p.src === server) {
      const sent = pending.get(p.dst)?.shift();
      if (sent !== undefined) rtts.push(Number(p.timeNs - sent) / 1e6);
    }
  }
  return rtts;
}

/**
 * Wire TTFB (ms) per TCP connection to `server`: first client segment with payload → first server
 * segment with payload, keyed by the client endpoint ("address.port"), in connection order.
 */
export function tcpWireTtfbs(packets: readonly CapturedPacket[], server: string): Map<string, number> {
  const requests = new Map<string, bigint>();
  const out = new Map<string, number>();
  for (const p of packets) {
    if (p.proto !== 'tcp' || p.length === 0) continue;
    if (p.dst === server && !requests.has(p.src)) requests.set(p.src, p.timeNs);
    else if (p.src === server && !out.has(p.dst)) {
      const sent = requests.get(p.dst);
      if (sent !== undefined) out.set(p.dst, Number(p.timeNs - sent) / 1e6);
    }
  }
  return out;
}

/** What the wire saw of one TCP connection's download from `server`. */
export interface WireTransfer {
  /** first → last server segment with payload, ms */
  durationMs: number;
  /** payload bytes the capture saw from the server (tcpdump may miss some under load) */
  bytes: number;
}

/**
 * The download from `server` to `client` ("address.port" each) as the wire saw it: the first and
 * the last server segment with payload; undefined when the capture holds none.
 */
export function tcpWireTransfer(
  packets: readonly CapturedPacket[],
  server: string,
  client: string,
): WireTransfer | undefined {
  let first: bigint | undefined;
  let last: bigint | undefined;
  let bytes = 0;
  for (const p of packets) {
    if (p.proto !== 'tcp' || p.length === 0 || p.src !== server || p.dst !== client) continue;
    first ??= p.timeNs;
    last = p.timeNs;
    bytes += p.length;
  }
  if (first === undefined || last === undefined) return undefined;
  return { durationMs: Number(last - first) / 1e6, bytes };
}
