// Target syntax per probe kind (pure; no DNS, works in browser and Node).
import type { TestKind } from './config.js';

const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const HOSTNAME = new RegExp(`^(?=.{1,253}\\.?$)${LABEL}(?:\\.${LABEL})*\\.?$`);
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** True for an IPv6 literal without brackets (validated by the WHATWG URL parser). */
function isIPv6(s: string): boolean {
  if (!s.includes(':') || !/^[0-9A-Fa-f:.]+$/.test(s)) return false;
  try {
    return new URL(`http://[${s}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}

/** True for a hostname, IPv4 literal, or IPv6 literal (bare, or bracketed when `bracketed`). */
export function isHost(s: string, bracketed = false): boolean {
  if (bracketed && s.startsWith('[') && s.endsWith(']')) return isIPv6(s.slice(1, -1));
  if (IPV4.test(s)) return true;
  if (/^\d+(\.\d+)*$/.test(s)) return false; // numeric but not a valid IPv4 address
  return HOSTNAME.test(s) || (!bracketed && isIPv6(s));
}

function isPort(s: string): boolean {
  if (!/^\d{1,5}$/.test(s)) return false;
  const n = Number(s);
  return n >= 1 && n <= 65_535;
}

/** Splits `host:port` (IPv6 in brackets); null when not of that form. */
export function splitHostPort(s: string): { host: string; port: number } | null {
  const i = s.lastIndexOf(':');
  if (i <= 0) return null;
  const host = s.slice(0, i);
  const port = s.slice(i + 1);
  if (!isPort(port)) return null;
  if (host.includes(':') && !(host.startsWith('[') && host.endsWith(']'))) return null;
  if (!isHost(host, true)) return null;
  return { host: host.startsWith('[') ? host.slice(1, -1) : host, port: Number(port) };
}

/**
 * Syntax accepted per kind (documented in docs/agent.md):
 * - http: absolute `http://` or `https://` URL with a host
 * - tcp, udp: `host:port` (IPv6 as `[addr]:port`)
 * - icmp, traceroute: `host` (name, IPv4, or IPv6)
 * - dns: `name` or `name@server` or `name@server:port` (query `name` at `server`, default the system resolver's)
 * @returns null when valid, else a short reason
 */
export function checkTarget(kind: TestKind, target: string): string | null {
  if (target.length === 0) return 'empty target';
  if (target.trim() !== target) return 'leading or trailing whitespace';
  switch (kind) {
    case 'http': {
      let url: URL;
      try {
        url = new URL(target);
      } catch {
        return 'not an absolute URL';
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'scheme must be http or https';
      if (!url.hostname) return 'URL has no host';
      return null;
    }
    case 'tcp':
    case 'udp':
      return splitHostPort(target) ? null : 'expected host:port with port 1-65535';
    case 'icmp':
    case 'traceroute':
      return isHost(target) ? null : 'expected a hostname or IP address';
    case 'dns': {
      const at = target.indexOf('@');
      const name = at < 0 ? target : target.slice(0, at);
      if (!HOSTNAME.test(name)) return 'expected a DNS name';
      if (at < 0) return null;
      const server = target.slice(at + 1);
      return isHost(server, true) || splitHostPort(server) ? null : 'expected name@server[:port]';
    }
  }
}
