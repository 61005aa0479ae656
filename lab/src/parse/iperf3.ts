// Parser of `iperf3 -J` client results (3.12); pure, tested on captured output.

/** The end-of-test numbers of a TCP iperf3 run. */
export interface Iperf3Result {
  /** goodput seen by the receiver, bit/s (omitted seconds excluded) */
  receivedBitsPerSecond: number;
  sentBitsPerSecond: number;
  /** seconds the receiver's figure covers */
  seconds: number;
  retransmits: number;
  /** TCP maximum segment size in bytes, when reported */
  mss?: number;
}

interface Iperf3Json {
  error?: string;
  start?: { tcp_mss_default?: number };
  end?: {
    sum_sent?: { bits_per_second?: number; retransmits?: number };
    sum_received?: { bits_per_second?: number; seconds?: number };
  };
}

/** Parses `iperf3 -c … -J` output; throws `Error` on iperf3's own error or a missing result. */
export function parseIperf3(json: string): Iperf3Result {
  const data = JSON.parse(json) as Iperf3Json;
  if (data.error) throw new Error(`iperf3: ${data.error}`);
  const received = data.end?.sum_received;
  const sent = data.end?.sum_sent;
  if (received?.bits_per_second === undefined || sent?.bits_per_second === undefined) {
    throw new Error('iperf3 output has no end.sum_received / end.sum_sent');
  }
  const result: Iperf3Result = {
    receivedBitsPerSecond: received.bits_per_second,
    sentBitsPerSecond: sent.bits_per_second,
    seconds: received.seconds ?? 0,
    retransmits: sent.retransmits ?? 0,
  };
  if (data.start?.tcp_mss_default !== undefined) result.mss = data.start.tcp_mss_default;
  return result;
}
