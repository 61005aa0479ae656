// Impairments this kernel supports, as pure command builders: tc tbf rate limits, nft loss and partition.

/** Packet loss on a host's incoming IPv4 traffic. */
export type LossSpec =
  /** drop exactly one packet in every `every` (nft `numgen inc mod N`): deterministic */
  | { every: number; iface?: string }
  /** drop each packet with probability `random` (0–1, resolution 1e-4; nft `numgen random`) */
  | { random: number; iface?: string };

/** Thrown when an impairment's parameters are out of range. */
export class ImpairmentError extends Error {
  override name = 'ImpairmentError';
}

/** nft table that holds a host's impairments (one per namespace, so the fixed name is fine). */
export const NFT_TABLE = 'rklab';

/**
 * Arguments for `tc` that shape egress of `iface` to `mbit` Mbit/s with a token bucket.
 * Bucket: 4 ms of traffic but at least 16 KiB (a few 1514-byte frames, above rate/HZ);
 * queue: at most 50 ms of backlog before tail drop.
 */
export function tbfArgs(iface: string, mbit: number): string[] {
  if (!(mbit > 0 && mbit <= 100_000)) throw new ImpairmentError(`rate must be in (0, 100000] Mbit/s, got ${mbit}`);
  const burstBytes = Math.max(16 * 1024, Math.ceil((mbit * 1e6) / 8 / 250));
  return [
    'qdisc',
    'replace',
    'dev',
    iface,
    'root',
    'tbf',
    'rate',
    `${mbit}mbit`,
    'burst',
    String(burstBytes),
    'latency',
    '50ms',
  ];
}

/** Arguments for `tc` that remove a rate limit (back to the default qdisc). */
export function tbfClearArgs(iface: string): string[] {
  return ['qdisc', 'del', 'dev', iface, 'root'];
}

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

function lossRule(loss: LossSpec): string {
  if (loss.iface !== undefined && !IFNAME.test(loss.iface))
    throw new ImpairmentError(`bad interface name ${loss.iface}`);
  const iif = loss.iface ? `iifname "${loss.iface}" ` : '';
  if ('every' in loss) {
    if (!Number.isInteger(loss.every) || loss.every < 2 || loss.every > 1_000_000) {
      throw new ImpairmentError(`loss.every must be an integer in [2, 1000000], got ${loss.every}`);
    }
    return `${iif}numgen inc mod ${loss.every} 0 counter drop`;
  }
  if (!(loss.random >= 0 && loss.random <= 1))
    throw new ImpairmentError(`loss.random must be in [0, 1], got ${loss.random}`);
  const threshold = Math.round(loss.random * 10_000);
  return `${iif}numgen random mod 10000 < ${threshold} counter drop`;
}

/** The impairments of one host that live in nft. */
export interface NftState {
  loss?: LossSpec;
  partitioned: boolean;
}

/**
 * An `nft -f -` script that replaces the host's table with one holding its current impairments.
 * Loss: IPv4 packets entering the host (delivered or forwarded), counted at prerouting, so
 * `every: N` drops exactly one in N of them. Partition: every packet in or out of a non-loopback
 * interface is dropped (local senders see EPERM, like a host firewall).
 */
export function nftScript(state: NftState): string {
  const lines = [
    `table inet ${NFT_TABLE}`,
    `delete table inet ${NFT_TABLE}`,
    `table ip ${NFT_TABLE}`,
    `delete table ip ${NFT_TABLE}`,
  ];
  if (state.loss) {
    lines.push(
      `table ip ${NFT_TABLE} {`,
      '  chain loss {',
      '    type filter hook prerouting priority -150; policy accept;',
      `    ${lossRule(state.loss)}`,
      '  }',
      '}',
    );
  }
  if (state.partitioned) {
    lines.push(
      `table inet ${NFT_TABLE} {`,
      '  chain partition_in {',
      '    type filter hook prerouting priority -200; policy accept;',
      '    iifname != "lo" counter drop',
      '  }',
      '  chain partition_out {',
      '    type filter hook output priority -200; policy accept;',
      '    oifname != "lo" counter drop',
      '  }',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Packets dropped so far by a host's loss rule, from `nft list table ip rklab` output; 0 without a rule. */
export function parseDroppedPackets(nftListing: string): number {
  const match = /numgen[^\n]*counter packets (\d+)/.exec(nftListing);
  return match ? Number(match[1]) : 0;
}
