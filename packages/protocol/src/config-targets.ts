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

/** True for a hostname, IPv4 literal, or IPv6 literal (bare, or also in brackets when `bracketed`). */
export function isHost(s: string, bracketed = false): boolean {
  if (bracketed && s.startsWith('[') && s.endsWith(']')) return isIPv6(s.slice(1, -1));
  if (IPV4.test(s)) return true;
  if (/^\d+(\.\d+)*$/.test(s)) return false; // numeric but not a valid IPv4 address
  return HOSTNAME.test(s) || isIPv6(s);
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

/** True for an IPv4 literal, or an IPv6 literal (bare or in brackets). */
function isIpLiteral(s: string): boolean {
  return IPV4.test(s) || isIPv6(s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s);
}

/** A DNS resolver: IP literal with optional port (IPv6 with a port as `[addr]:port`); names are refused. */
function checkResolver(s: string): boolean {
  if (isIpLiteral(s)) return true;
  const hp = splitHostPort(s);
  return hp !== null && isIpLiteral(hp.host);
}

/**
 * Syntax accepted per kind (the probe engine's; documented in docs/agent.md):
 * - http: absolute `http://` or `https://` URL with a host
 * - tcp: `host:port` (IPv6 as `[addr]:port`), `tcp://host:port`, `tls://host:port` or `ssh://host[:port]`
 * - udp: `host:port`
 * - icmp, traceroute: `host` (name, IPv4, or IPv6)
 * - dns: `name@resolver` or `name@resolver:port` — query `name` at an IP resolver (never the system one)
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
    case 'tcp': {
      const m = /^([a-z]+):\/\/(.*?)\/?$/i.exec(target);
      if (!m) return splitHostPort(target) ? null : 'expected host:port with port 1-65535';
      const scheme = (m[1] as string).toLowerCase();
      const rest = m[2] as string;
      if (scheme === 'ssh' && isHost(rest, true)) return null;
      if (!['tcp', 'tls', 'ssh'].includes(scheme)) return `unsupported scheme ${scheme}:// (tcp, tls, ssh)`;
      return splitHostPort(rest) ? null : 'expected host:port with port 1-65535';
    }
    case 'udp':
      return splitHostPort(target) ? null : 'expected host:port with port 1-65535';
    case 'icmp':
    case 'traceroute':
      return isHost(target, true) ? null : 'expected a hostname or IP address';
    case 'dns': {
      const at = target.lastIndexOf('@');
      if (at < 0) return 'expected name@resolver (the resolver is an IP address)';
      if (!HOSTNAME.test(target.slice(0, at))) return 'expected a DNS name before @';
      return checkResolver(target.slice(at + 1)) ? null : 'the resolver must be an IP address, optionally with :port';
    }
  }
}
