// What a probe is asked to do: one spec per kind (http, tcp, udp, dns, icmp, traceroute).
import { Type, type Static } from '@sinclair/typebox';

const timeoutMs = Type.Optional(
  Type.Integer({ minimum: 1, maximum: 600_000, description: 'whole-probe deadline in ms; default depends on kind' }),
);

export const HttpProbeSpec = Type.Object(
  {
    kind: Type.Literal('http'),
    target: Type.String({ description: 'http:// or https:// URL' }),
    timeoutMs,
    method: Type.Optional(
      Type.Union([Type.Literal('GET'), Type.Literal('HEAD'), Type.Literal('POST'), Type.Literal('PUT')], {
        default: 'GET',
      }),
    ),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    body: Type.Optional(Type.String({ description: 'request body (POST/PUT)' })),
    expectStatus: Type.Optional(
      Type.Array(Type.Integer({ minimum: 100, maximum: 599 }), { description: 'accepted codes; default 200–399' }),
    ),
    expectBodyContains: Type.Optional(Type.String({ description: 'substring of the first 64 KiB of the body' })),
    expectBodyRegex: Type.Optional(Type.String({ description: 'regex tested on the first 64 KiB of the body' })),
    expectHeaders: Type.Optional(
      Type.Record(Type.String(), Type.String(), { description: 'header name → substring its value must contain' }),
    ),
    maxRedirects: Type.Optional(Type.Integer({ minimum: 0, maximum: 20, default: 5 })),
    tlsInsecure: Type.Optional(Type.Boolean({ description: 'accept any certificate (still reported)' })),
    caPem: Type.Optional(Type.String({ description: 'extra trusted CA certificate(s), PEM' })),
    alpn: Type.Optional(
      Type.Array(Type.Union([Type.Literal('h2'), Type.Literal('http/1.1')]), {
        description: 'ALPN offer for https; default ["h2","http/1.1"]',
      }),
    ),
    ipFamily: Type.Optional(Type.Union([Type.Literal(4), Type.Literal(6)])),
  },
  { $id: 'HttpProbeSpec', additionalProperties: false },
);
export type HttpProbeSpec = Static<typeof HttpProbeSpec>;

export const TcpProbeSpec = Type.Object(
  {
    kind: Type.Literal('tcp'),
    target: Type.String({ description: 'host:port, [v6]:port, tcp://host:port, tls://host:port or ssh://host[:port]' }),
    timeoutMs,
    tls: Type.Optional(Type.Boolean({ description: 'TLS handshake after connect (implied by tls://)' })),
    tlsInsecure: Type.Optional(Type.Boolean()),
    caPem: Type.Optional(Type.String()),
    servername: Type.Optional(Type.String({ description: 'TLS SNI; default the target host name' })),
    readBanner: Type.Optional(
      Type.Boolean({ description: 'read the first line the server sends (implied by ssh://)' }),
    ),
    expectBanner: Type.Optional(Type.String({ description: 'regex the banner must match (ssh:// implies ^SSH-)' })),
    send: Type.Optional(Type.String({ description: 'bytes to write after connect (and banner)' })),
    expect: Type.Optional(Type.String({ description: 'substring to wait for after send' })),
    ipFamily: Type.Optional(Type.Union([Type.Literal(4), Type.Literal(6)])),
  },
  { $id: 'TcpProbeSpec', additionalProperties: false },
);
export type TcpProbeSpec = Static<typeof TcpProbeSpec>;

export const UdpProbeSpec = Type.Object(
  {
    kind: Type.Literal('udp'),
    target: Type.String({ description: 'host:port of a Rookery UDP reflector' }),
    timeoutMs,
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 10 })),
    intervalMs: Type.Optional(Type.Number({ minimum: 0.1, maximum: 60_000, default: 100 })),
    size: Type.Optional(Type.Integer({ minimum: 40, maximum: 8972, default: 64, description: 'datagram bytes' })),
    waitMs: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 60_000, default: 1000, description: 'wait for replies after the last send' }),
    ),
    maxLossPct: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'fail above this loss' })),
    ipFamily: Type.Optional(Type.Union([Type.Literal(4), Type.Literal(6)])),
  },
  { $id: 'UdpProbeSpec', additionalProperties: false },
);
export type UdpProbeSpec = Static<typeof UdpProbeSpec>;

export const DnsProbeSpec = Type.Object(
  {
    kind: Type.Literal('dns'),
    target: Type.String({ description: 'resolver IP[:port] (IPv6 as [addr]:port); never the system resolver' }),
    timeoutMs,
    name: Type.String({ minLength: 1, maxLength: 253, description: 'name to query' }),
    type: Type.Optional(Type.String({ default: 'A', description: 'record type, e.g. A, AAAA, MX, TXT' })),
    transport: Type.Optional(Type.Union([Type.Literal('udp'), Type.Literal('tcp')], { default: 'udp' })),
    tcpFallback: Type.Optional(Type.Boolean({ default: true, description: 'retry over TCP when truncated' })),
    recursionDesired: Type.Optional(Type.Boolean({ default: true })),
    expectRcode: Type.Optional(Type.String({ default: 'NOERROR' })),
    expectAnswers: Type.Optional(
      Type.Array(Type.String(), { description: 'each must equal the data of some answer record' }),
    ),
  },
  { $id: 'DnsProbeSpec', additionalProperties: false },
);
export type DnsProbeSpec = Static<typeof DnsProbeSpec>;

export const IcmpProbeSpec = Type.Object(
  {
    kind: Type.Literal('icmp'),
    target: Type.String({ description: 'IP address or host name' }),
    timeoutMs,
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, default: 5 })),
    intervalMs: Type.Optional(Type.Number({ minimum: 1, maximum: 60_000, default: 200 })),
    size: Type.Optional(Type.Integer({ minimum: 0, maximum: 65_000, default: 56, description: 'ICMP payload bytes' })),
    ttl: Type.Optional(Type.Integer({ minimum: 1, maximum: 255 })),
    waitMs: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 60_000, default: 1000, description: 'wait when no reply at all came' }),
    ),
    tool: Type.Optional(Type.Union([Type.Literal('ping'), Type.Literal('fping')], { default: 'ping' })),
    maxLossPct: Type.Optional(Type.Number({ minimum: 0, maximum: 100 })),
    ipFamily: Type.Optional(Type.Union([Type.Literal(4), Type.Literal(6)])),
  },
  { $id: 'IcmpProbeSpec', additionalProperties: false },
);
export type IcmpProbeSpec = Static<typeof IcmpProbeSpec>;

export const TracerouteProbeSpec = Type.Object(
  {
    kind: Type.Literal('traceroute'),
    target: Type.String({ description: 'IP address or host name' }),
    timeoutMs,
    maxHops: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, default: 30 })),
    queries: Type.Optional(Type.Integer({ minimum: 1, maximum: 10, default: 3, description: 'probes per hop' })),
    waitMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 10_000, default: 1000, description: 'per probe' })),
    method: Type.Optional(
      Type.Union([Type.Literal('udp'), Type.Literal('icmp'), Type.Literal('tcp')], { default: 'udp' }),
    ),
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_535, description: 'destination port (udp/tcp)' })),
    pathMtu: Type.Optional(Type.Boolean({ description: 'discover the path MTU (traceroute --mtu)' })),
    ipFamily: Type.Optional(Type.Union([Type.Literal(4), Type.Literal(6)])),
  },
  { $id: 'TracerouteProbeSpec', additionalProperties: false },
);
export type TracerouteProbeSpec = Static<typeof TracerouteProbeSpec>;

export const ProbeSpec = Type.Union(
  [HttpProbeSpec, TcpProbeSpec, UdpProbeSpec, DnsProbeSpec, IcmpProbeSpec, TracerouteProbeSpec],
  { $id: 'ProbeSpec' },
);
export type ProbeSpec = Static<typeof ProbeSpec>;

export const ProbeKind = Type.Union(
  [
    Type.Literal('http'),
    Type.Literal('tcp'),
    Type.Literal('udp'),
    Type.Literal('dns'),
    Type.Literal('icmp'),
    Type.Literal('traceroute'),
  ],
  { $id: 'ProbeKind' },
);
export type ProbeKind = Static<typeof ProbeKind>;
export const PROBE_KINDS: readonly ProbeKind[] = ['http', 'tcp', 'udp', 'dns', 'icmp', 'traceroute'];
