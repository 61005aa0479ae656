// Theoretical TCP goodput through a tc tbf rate limit, from the rate and the per-packet overhead.

/** Per-packet header bytes that tbf counts but that carry no TCP payload. */
export interface FrameOverhead {
  /** Ethernet header (dst, src, type); tbf sees skb->len, which includes it but no FCS/preamble. @default 14 */
  l2: number;
  /** IPv4 header without options. @default 20 */
  ip: number;
  /** TCP header (20) plus the timestamp option Linux sends on every segment (12). @default 32 */
  tcp: number;
}

export const ETHERNET_TCP_OVERHEAD: FrameOverhead = { l2: 14, ip: 20, tcp: 32 };

/**
 * TCP goodput in bit/s through a `tbf rate` of `rateBitsPerSecond` with full-size segments:
 *
 *   goodput = rate × (MTU − IP − TCP) / (MTU + L2)
 *
 * For MTU 1500: payload 1448 B per 1514 B counted by tbf, so 100 Mbit/s gives 95.64 Mbit/s.
 * ACKs travel the other way and are not shaped; tbf's bucket adds at most `burst` bytes once.
 */
export function theoreticalGoodput(rateBitsPerSecond: number, mtu = 1500, overhead = ETHERNET_TCP_OVERHEAD): number {
  const payload = mtu - overhead.ip - overhead.tcp;
  if (payload <= 0) throw new Error(`MTU ${mtu} leaves no TCP payload`);
  return (rateBitsPerSecond * payload) / (mtu + overhead.l2);
}
