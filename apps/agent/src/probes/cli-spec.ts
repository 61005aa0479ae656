// Builds a ProbeSpec from `./rookery probe KIND TARGET` flags (pure, unit-tested).
import { PROBE_KINDS, type ProbeKind, type ProbeSpec } from '@rookery/protocol';
import { ProbeFailure } from './errors.js';

export interface ProbeFlags {
  timeout?: string;
  count?: string;
  interval?: string;
  size?: string;
  ttl?: string;
  wait?: string;
  tool?: string;
  maxLoss?: string;
  method?: string;
  header?: string[];
  data?: string;
  expectStatus?: string;
  expectBody?: string;
  expectRegex?: string;
  expectHeader?: string[];
  maxRedirects?: string;
  insecure?: boolean;
  caPem?: string;
  http1?: boolean;
  tls?: boolean;
  servername?: string;
  banner?: boolean;
  expectBanner?: string;
  send?: string;
  expect?: string;
  name?: string;
  type?: string;
  tcp?: boolean;
  tcpFallback?: boolean;
  expectRcode?: string;
  expectAnswer?: string[];
  maxHops?: string;
  queries?: string;
  via?: string;
  port?: string;
  mtu?: boolean;
  ipv4?: boolean;
  ipv6?: boolean;
}

function usage(message: string): ProbeFailure {
  return new ProbeFailure('invalid_spec', message);
}

function num(flag: string, v: string | undefined, integer = true): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw usage(`--${flag}: expected a number, got "${v}"`);
  return n;
}

/** Turns \r, \n, \t and \\ written on the command line into the characters. */
export function unescape(text: string): string {
  return text.replace(/\\([rnt\\])/g, (_, c: string) => ({ r: '\r', n: '\n', t: '\t', '\\': '\\' })[c] ?? c);
}

function headerPairs(flag: string, list: string[] | undefined): Record<string, string> | undefined {
  if (!list?.length) return undefined;
  const out: Record<string, string> = {};
  for (const h of list) {
    const i = h.indexOf(':');
    if (i <= 0) throw usage(`--${flag}: expected "Name: value", got "${h}"`);
    out[h.slice(0, i).trim()] = h.slice(i + 1).trim();
  }
  return out;
}

function drop<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** Validates KIND and maps flags onto that kind's spec; throws ProbeFailure('invalid_spec'). */
export function specFromFlags(kind: string, target: string, f: ProbeFlags): ProbeSpec {
  if (!PROBE_KINDS.includes(kind as ProbeKind)) throw usage(`unknown probe kind "${kind}" (${PROBE_KINDS.join(', ')})`);
  const timeoutMs = num('timeout', f.timeout);
  const ipFamily = f.ipv4 ? (4 as const) : f.ipv6 ? (6 as const) : undefined;
  const common = { target, timeoutMs, ipFamily };
  switch (kind as ProbeKind) {
    case 'http':
      return drop({
        kind: 'http',
        ...common,
        method: f.method?.toUpperCase() as 'GET' | undefined,
        headers: headerPairs('header', f.header),
        body: f.data,
        expectStatus: f.expectStatus?.split(',').map((s) => num('expect-status', s.trim()) as number),
        expectBodyContains: f.expectBody,
        expectBodyRegex: f.expectRegex,
        expectHeaders: headerPairs('expect-header', f.expectHeader),
        maxRedirects: num('max-redirects', f.maxRedirects),
        tlsInsecure: f.insecure || undefined,
        caPem: f.caPem,
        alpn: f.http1 ? ['http/1.1' as const] : undefined,
      });
    case 'tcp':
      return drop({
        kind: 'tcp',
        ...common,
        tls: f.tls || undefined,
        tlsInsecure: f.insecure || undefined,
        caPem: f.caPem,
        servername: f.servername,
        readBanner: f.banner || undefined,
        expectBanner: f.expectBanner,
        send: f.send === undefined ? undefined : unescape(f.send),
        expect: f.expect === undefined ? undefined : unescape(f.expect),
      });
    case 'udp':
      return drop({
        kind: 'udp',
        ...common,
        count: num('count', f.count),
        intervalMs: num('interval', f.interval, false),
        size: num('size', f.size),
        waitMs: num('wait', f.wait),
        maxLossPct: num('max-loss', f.maxLoss, false),
      });
    case 'dns':
      if (!f.name) throw usage('dns: --name is required (the target is the resolver)');
      return drop({
        kind: 'dns',
        target,
        timeoutMs,
        name: f.name,
        type: f.type,
        transport: f.tcp ? ('tcp' as const) : undefined,
        tcpFallback: f.tcpFallback === false ? false : undefined,
        expectRcode: f.expectRcode,
        expectAnswers: f.expectAnswer?.length ? f.expectAnswer : undefined,
      });
    case 'icmp':
      if (f.tool !== undefined && f.tool !== 'ping' && f.tool !== 'fping') throw usage('--tool: ping or fping');
      return drop({
        kind: 'icmp',
        ...common,
        count: num('count', f.count),
        intervalMs: num('interval', f.interval, false),
        size: num('size', f.size),
        ttl: num('ttl', f.ttl),
        waitMs: num('wait', f.wait),
        tool: f.tool as 'ping' | 'fping' | undefined,
        maxLossPct: num('max-loss', f.maxLoss, false),
      });
    case 'traceroute':
      if (f.via !== undefined && !['udp', 'icmp', 'tcp'].includes(f.via)) throw usage('--via: udp, icmp or tcp');
      return drop({
        kind: 'traceroute',
        ...common,
        maxHops: num('max-hops', f.maxHops),
        queries: num('queries', f.queries),
        waitMs: num('wait', f.wait),
        method: f.via as 'udp' | undefined,
        port: num('port', f.port),
        pathMtu: f.mtu || undefined,
      });
  }
}
