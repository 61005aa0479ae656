// Target validation for every probe kind: parses what the operator wrote, or throws invalid_target.
import { isIP } from 'node:net';
import { ProbeFailure } from './errors.js';

export interface HostPort {
  /** IP literal (IPv6 without brackets) or host name */
  host: string;
  port: number;
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i;

/** True for a syntactically valid DNS host name (RFC 1123 labels, ≤ 253 chars, optional final dot). */
export function isHostName(name: string): boolean {
  const n = name.endsWith('.') ? name.slice(0, -1) : name;
  if (n.length === 0 || n.length > 253) return false;
  return n.split('.').every((label) => LABEL.test(label)) && !/^\d+$/.test(n.split('.').pop() ?? '');
}

function invalid(input: string, why: string): ProbeFailure {
  return new ProbeFailure('invalid_target', `invalid target "${input}": ${why}`);
}

function parsePort(input: string, text: string): number {
  if (!/^\d{1,5}$/.test(text)) throw invalid(input, `bad port "${text}"`);
  const port = Number(text);
  if (port < 1 || port > 65_535) throw invalid(input, `port ${port} out of range 1..65535`);
  return port;
}

/** A host (IP literal or host name) for icmp/traceroute; never something argv could read as an option. */
export function parseHost(input: string): string {
  const s = input.trim();
  const unbracketed = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  if (isIP(unbracketed)) return unbracketed;
  if (isHostName(s)) return s;
  throw invalid(input, 'expected an IP address or host name');
}

/**
 * `host:port`, `[v6]:port`, or a bare host when `defaultPort` is given (a bare IPv6 literal is
 * accepted only then). Throws ProbeFailure('invalid_target').
 */
export function parseHostPort(input: string, defaultPort?: number): HostPort {
  const s = input.trim();
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) throw invalid(input, 'unclosed [');
    const host = s.slice(1, end);
    if (isIP(host) !== 6) throw invalid(input, 'expected an IPv6 literal inside []');
    const rest = s.slice(end + 1);
    if (rest === '' && defaultPort !== undefined) return { host, port: defaultPort };
    if (!rest.startsWith(':')) throw invalid(input, 'expected :port after ]');
    return { host, port: parsePort(input, rest.slice(1)) };
  }
  if (isIP(s) === 6) {
    if (defaultPort === undefined) throw invalid(input, 'write IPv6 with a port as [addr]:port');
    return { host: s, port: defaultPort };
  }
  const colon = s.lastIndexOf(':');
  const host = colon < 0 ? s : s.slice(0, colon);
  if (!isIP(host) && !isHostName(host)) throw invalid(input, 'expected an IP address or host name');
  if (colon < 0) {
    if (defaultPort === undefined) throw invalid(input, 'missing :port');
    return { host, port: defaultPort };
  }
  return { host, port: parsePort(input, s.slice(colon + 1)) };
}

export interface TcpTarget extends HostPort {
  /** tls:// scheme */
  tls: boolean;
  /** ssh:// scheme: read and check the SSH banner */
  ssh: boolean;
}

/** `host:port`, `tcp://host:port`, `tls://host:port` or `ssh://host[:port]` (port 22). */
export function parseTcpTarget(input: string): TcpTarget {
  const m = /^([a-z]+):\/\/(.*?)\/?$/i.exec(input.trim());
  if (!m) return { ...parseHostPort(input), tls: false, ssh: false };
  const scheme = (m[1] as string).toLowerCase();
  const rest = m[2] as string;
  if (scheme === 'tcp') return { ...parseHostPort(rest), tls: false, ssh: false };
  if (scheme === 'tls') return { ...parseHostPort(rest), tls: true, ssh: false };
  if (scheme === 'ssh') return { ...parseHostPort(rest, 22), tls: false, ssh: true };
  throw invalid(input, `unsupported scheme ${scheme}:// (tcp, tls, ssh)`);
}

/** An http:// or https:// URL with a valid host. */
export function parseHttpTarget(input: string): URL {
  let url: URL;
  try {
    url = new URL(input.trim());
  } catch {
    throw invalid(input, 'not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(input, 'scheme must be http or https');
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (!isIP(host) && !isHostName(host)) throw invalid(input, 'bad host');
  return url;
}

/** A DNS resolver: IP literal with optional port (default 53). Host names are refused on purpose. */
export function parseResolver(input: string): HostPort {
  const hp = parseHostPort(input, 53);
  if (!isIP(hp.host)) throw invalid(input, 'the resolver must be an IP address');
  return hp;
}
