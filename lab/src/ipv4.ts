// IPv4 address arithmetic for lab topologies (subnets, host addresses); pure functions.

/** A parsed IPv4 subnet such as `10.77.0.0/24`. */
export interface Subnet {
  /** network address as an unsigned 32-bit integer */
  network: number;
  /** prefix length, 0–32 */
  prefixLen: number;
}

/** Parses a dotted quad; throws `Error` on anything else. */
export function parseAddress(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) throw new Error(`not an IPv4 address: ${text}`);
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) throw new Error(`not an IPv4 address: ${text}`);
    value = value * 256 + Number(part);
  }
  return value;
}

/** Formats an unsigned 32-bit integer as a dotted quad. */
export function formatAddress(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
}

/** Parses `a.b.c.d/n`; the host bits must be zero. Throws `Error` on bad input. */
export function parseSubnet(text: string): Subnet {
  const match = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (!match) throw new Error(`not an IPv4 subnet (a.b.c.d/n): ${text}`);
  const network = parseAddress(match[1] ?? '');
  const prefixLen = Number(match[2]);
  if (prefixLen > 30) throw new Error(`subnet ${text}: prefix must be /30 or shorter to hold two hosts`);
  if (network % size({ network, prefixLen }) !== 0) throw new Error(`subnet ${text}: host bits are not zero`);
  return { network, prefixLen };
}

function size(subnet: Subnet): number {
  return 2 ** (32 - subnet.prefixLen);
}

/** True when `address` lies inside `subnet` and is neither its network nor its broadcast address. */
export function isHostAddress(subnet: Subnet, address: number): boolean {
  return address > subnet.network && address < subnet.network + size(subnet) - 1;
}

/** The `n`-th host address (1-based) of a subnet; throws when the subnet is too small. */
export function nthHost(subnet: Subnet, n: number): number {
  const address = subnet.network + n;
  if (!isHostAddress(subnet, address)) throw new Error(`subnet ${formatSubnet(subnet)} has no host number ${n}`);
  return address;
}

/** Formats a subnet as `a.b.c.d/n`. */
export function formatSubnet(subnet: Subnet): string {
  return `${formatAddress(subnet.network)}/${subnet.prefixLen}`;
}

/** True when two subnets share any address. */
export function overlaps(a: Subnet, b: Subnet): boolean {
  return a.network < b.network + size(b) && b.network < a.network + size(a);
}
