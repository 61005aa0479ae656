// Outbound URL guard for URLs the manager itself fetches (webhooks): no loopback, link-local,
// metadata or unspecified addresses unless the operator allows a host; checked on the address
// actually connected to (DNS rebinding), redirects never followed.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { AppError } from '../domain/errors.js';

/** Is this address one the manager must not call? */
export function isForbiddenAddress(address: string): boolean {
  const v = isIP(address);
  if (v === 4) {
    const [a, b] = address.split('.').map(Number);
    return a === 127 || a === 0 || (a === 169 && b === 254) || address === '255.255.255.255';
  }
  if (v === 6) {
    const x = address.toLowerCase();
    if (x === '::1' || x === '::') return true;
    if (/^fe[89ab]/.test(x)) return true; // link-local fe80::/10
    if (x.startsWith('fd00:ec2::254')) return true; // AWS IMDS over IPv6
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(x);
    if (mapped?.[1]) return isForbiddenAddress(mapped[1]);
    return false;
  }
  return true;
}

export interface GuardOptions {
  /** host names or addresses allowed even when they resolve to a forbidden address (ROOKERY_OUTBOUND_ALLOW) */
  allow: readonly string[];
}

/** Validates the URL's form and scheme. @throws AppError 400 */
export function assertOutboundUrl(raw: string, o: GuardOptions): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError(400, 'invalid_url', 'not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new AppError(400, 'invalid_url', 'only http and https URLs');
  if (url.username || url.password) throw new AppError(400, 'invalid_url', 'credentials in URLs are not allowed');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) && isForbiddenAddress(host) && !o.allow.includes(host)) {
    throw new AppError(400, 'forbidden_address', `${host} is a loopback, link-local or metadata address`);
  }
  return url;
}

/** A `lookup` for http.request that refuses forbidden addresses (unless the host is allowed). */
export function guardedLookup(o: GuardOptions) {
  return (
    hostname: string,
    options: object,
    cb: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return cb(err, '', 0);
      const list = addresses as LookupAddress[];
      const allowed = o.allow.includes(hostname);
      const bad = list.find((a) => isForbiddenAddress(a.address) && !allowed && !o.allow.includes(a.address));
      if (bad) return cb(new Error(`refusing to connect to ${bad.address} (${hostname})`), '', 0);
      if ((options as { all?: boolean }).all) return cb(null, list);
      const first = list[0];
      return first ? cb(null, first.address, first.family) : cb(new Error(`no address for ${hostname}`), '', 0);
    });
  };
}
