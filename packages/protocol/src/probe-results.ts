// What a probe reports: one typed result per kind, with `ok`, metrics and a stable error code.
import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const PROBE_ERROR_CODES = [
  'invalid_target', // target does not parse for this kind
  'invalid_spec', // spec fails its schema
  'timeout', // the probe's own deadline passed
  'aborted', // the caller's AbortSignal fired
  'dns_failure', // the target host name did not resolve
  'refused', // TCP RST / ICMP port unreachable
  'reset', // connection reset or closed mid-exchange
  'unreachable', // network or host unreachable, TTL exceeded
  'tls_error', // handshake or certificate failure
  'protocol_error', // malformed response
  'unexpected_status', // HTTP status not in expectStatus
  'unexpected_body', // body expectation not met
  'unexpected_header', // header expectation not met
  'too_many_redirects', // more redirects than maxRedirects
  'unexpected_banner', // TCP banner did not match expectBanner
  'unexpected_response', // TCP `expect` not seen before close
  'dns_rcode', // DNS rcode differs from expectRcode
  'unexpected_answer', // DNS answers miss an expected value
  'no_reply', // UDP/ICMP: nothing came back
  'loss_exceeded', // loss above maxLossPct
  'tool_missing', // ping/fping/traceroute not installed
  'tool_failed', // the external tool failed
  'internal', // a bug in the probe engine
] as const;
export type ProbeErrorCode = (typeof PROBE_ERROR_CODES)[number];

export const ProbeErrorCode = Type.Union(
  PROBE_ERROR_CODES.map((c) => Type.Literal(c)),
  { $id: 'ProbeErrorCode' },
);

export const ProbeError = Type.Object(
  { code: ProbeErrorCode, message: Type.String() },
  { $id: 'ProbeError', additionalProperties: false },
);
export type ProbeError = Static<typeof ProbeError>;

/** Round-trip statistics over the replies of a multi-packet probe, in ms. */
export const RttStats = Type.Object(
  {
    minMs: Type.Number(),
    avgMs: Type.Number(),
    maxMs: Type.Number(),
    mdevMs: Type.Number({ description: 'population standard deviation, as ping reports it' }),
    p50Ms: Type.Number(),
    p99Ms: Type.Number(),
  },
  { $id: 'RttStats', additionalProperties: false },
);
export type RttStats = Static<typeof RttStats>;

export const TlsInfo = Type.Object(
  {
    version: Type.String({ description: 'e.g. TLSv1.3' }),
    cipher: Type.String(),
    authorized: Type.Boolean({ description: 'certificate chain verified' }),
    authorizationError: Type.Optional(Type.String()),
    certSubject: Type.Optional(Type.String()),
    certIssuer: Type.Optional(Type.String()),
    certValidTo: Type.Optional(Type.String({ description: 'ISO 8601' })),
    certDaysLeft: Type.Optional(Type.Number({ description: 'days until expiry, negative when expired' })),
  },
  { $id: 'TlsInfo', additionalProperties: false },
);
export type TlsInfo = Static<typeof TlsInfo>;

const ms = (description: string) => Type.Optional(Type.Number({ description: `${description}, ms` }));

export const HttpMetrics = Type.Object(
  {
    dnsMs: ms('name lookup (absent for IP literals)'),
    connectMs: ms('TCP handshake'),
    tlsMs: ms('TLS handshake'),
    ttfbMs: ms('request handed to the socket → first response byte (h2: response headers)'),
    transferMs: ms('first response byte → last body byte'),
    totalMs: ms('start → end of the final response, redirects included'),
    redirectMs: ms('time spent in earlier hops of a redirect chain'),
    status: Type.Optional(Type.Integer()),
    httpVersion: Type.Optional(Type.String({ description: '1.1 or 2' })),
    alpn: Type.Optional(Type.String()),
    bytes: Type.Optional(Type.Integer({ description: 'response body bytes on the wire' })),
    bitsPerSecond: Type.Optional(Type.Number({ description: 'body bits / transfer time' })),
    remoteAddress: Type.Optional(Type.String()),
    remotePort: Type.Optional(Type.Integer()),
    localAddress: Type.Optional(Type.String()),
    localPort: Type.Optional(Type.Integer({ description: 'client port of the final connection' })),
    redirects: Type.Integer(),
    finalUrl: Type.Optional(Type.String()),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    tls: Type.Optional(TlsInfo),
  },
  { $id: 'HttpMetrics', additionalProperties: false },
);
export type HttpMetrics = Static<typeof HttpMetrics>;

export const TcpMetrics = Type.Object(
  {
    dnsMs: ms('name lookup (absent for IP literals)'),
    connectMs: ms('TCP handshake'),
    tlsMs: ms('TLS handshake'),
    bannerMs: ms('connection ready → first banner line'),
    expectMs: ms('send → expected bytes seen'),
    totalMs: ms('start → done'),
    banner: Type.Optional(Type.String({ description: 'first line the server sent, printable, ≤ 256 chars' })),
    remoteAddress: Type.Optional(Type.String()),
    remotePort: Type.Optional(Type.Integer()),
    localAddress: Type.Optional(Type.String()),
    localPort: Type.Optional(Type.Integer()),
    tls: Type.Optional(TlsInfo),
  },
  { $id: 'TcpMetrics', additionalProperties: false },
);
export type TcpMetrics = Static<typeof TcpMetrics>;

const lossFields = {
  sent: Type.Integer(),
  received: Type.Integer({ description: 'distinct sequence numbers answered' }),
  lost: Type.Integer(),
  lossPct: Type.Number(),
  duplicates: Type.Integer(),
};

export const UdpMetrics = Type.Object(
  {
    ...lossFields,
    reordered: Type.Integer({ description: 'replies arriving after a higher sequence number' }),
    rtt: Type.Optional(RttStats),
    jitterMs: Type.Optional(Type.Number({ description: 'RFC 3550 interarrival jitter of the round trip' })),
    forwardJitterMs: Type.Optional(Type.Number({ description: 'RFC 3550 jitter client → reflector' })),
    returnJitterMs: Type.Optional(Type.Number({ description: 'RFC 3550 jitter reflector → client' })),
    size: Type.Integer(),
    remoteAddress: Type.Optional(Type.String()),
    remotePort: Type.Optional(Type.Integer()),
    samplesMs: Type.Optional(Type.Array(Type.Union([Type.Number(), Type.Null()]), { description: 'RTT by seq' })),
  },
  { $id: 'UdpMetrics', additionalProperties: false },
);
export type UdpMetrics = Static<typeof UdpMetrics>;

export const IcmpMetrics = Type.Object(
  {
    ...lossFields,
    errors: Type.Integer({ description: 'ICMP errors received (unreachable, TTL exceeded)' }),
    errorMessages: Type.Optional(Type.Array(Type.String())),
    rtt: Type.Optional(RttStats),
    jitterMs: Type.Optional(Type.Number({ description: 'RFC 3550 jitter over consecutive replies' })),
    replyTtl: Type.Optional(Type.Integer()),
    address: Type.Optional(Type.String({ description: 'address pinged' })),
    tool: Type.String({ description: 'ping or fping' }),
    samplesMs: Type.Optional(Type.Array(Type.Union([Type.Number(), Type.Null()]), { description: 'RTT by seq' })),
  },
  { $id: 'IcmpMetrics', additionalProperties: false },
);
export type IcmpMetrics = Static<typeof IcmpMetrics>;

export const DnsAnswer = Type.Object(
  { name: Type.String(), type: Type.String(), ttl: Type.Integer(), data: Type.String() },
  { $id: 'DnsAnswer', additionalProperties: false },
);
export type DnsAnswer = Static<typeof DnsAnswer>;

export const DnsMetrics = Type.Object(
  {
    rttMs: ms('query → response on the final transport'),
    udpRttMs: ms('UDP exchange when it was followed by a TCP retry'),
    totalMs: ms('start → done'),
    transport: Type.Optional(Type.Union([Type.Literal('udp'), Type.Literal('tcp')])),
    truncated: Type.Boolean({ description: 'a UDP answer had TC set' }),
    rcode: Type.Optional(Type.String()),
    flags: Type.Optional(Type.Array(Type.String(), { description: 'aa, tc, rd, ra, ad, cd' })),
    answers: Type.Array(DnsAnswer),
    authorityCount: Type.Optional(Type.Integer()),
    additionalCount: Type.Optional(Type.Integer()),
    responseBytes: Type.Optional(Type.Integer()),
    resolver: Type.Optional(Type.String()),
  },
  { $id: 'DnsMetrics', additionalProperties: false },
);
export type DnsMetrics = Static<typeof DnsMetrics>;

export const TracerouteProbe = Type.Object(
  {
    address: Type.Union([Type.String(), Type.Null()]),
    rttMs: Type.Union([Type.Number(), Type.Null()], { description: 'null for a probe that timed out (*)' }),
    note: Type.Optional(Type.String({ description: 'traceroute annotation, e.g. !H, !N' })),
  },
  { $id: 'TracerouteProbe', additionalProperties: false },
);
export const TracerouteHop = Type.Object(
  {
    ttl: Type.Integer(),
    probes: Type.Array(TracerouteProbe),
    mtu: Type.Optional(Type.Integer({ description: 'path MTU reported at this hop (F=)' })),
  },
  { $id: 'TracerouteHop', additionalProperties: false },
);
export type TracerouteHop = Static<typeof TracerouteHop>;

export const TracerouteMetrics = Type.Object(
  {
    hops: Type.Array(TracerouteHop),
    reached: Type.Boolean({ description: 'the target answered' }),
    hopCount: Type.Integer({ description: 'hops to the target, or hops tried' }),
    pathMtu: Type.Optional(Type.Integer()),
    address: Type.Optional(Type.String()),
    totalMs: ms('start → done'),
  },
  { $id: 'TracerouteMetrics', additionalProperties: false },
);
export type TracerouteMetrics = Static<typeof TracerouteMetrics>;

function result<K extends string, M extends TSchema>(kind: K, metrics: M, id: string) {
  return Type.Object(
    {
      kind: Type.Literal(kind),
      target: Type.String(),
      ok: Type.Boolean(),
      startedAt: Type.String({ description: 'ISO 8601 wall clock at start' }),
      durationMs: Type.Number({ description: 'wall time of the whole probe' }),
      error: Type.Optional(ProbeError),
      metrics,
    },
    { $id: id, additionalProperties: false },
  );
}

export const HttpProbeResult = result('http', HttpMetrics, 'HttpProbeResult');
export type HttpProbeResult = Static<typeof HttpProbeResult>;
export const TcpProbeResult = result('tcp', TcpMetrics, 'TcpProbeResult');
export type TcpProbeResult = Static<typeof TcpProbeResult>;
export const UdpProbeResult = result('udp', UdpMetrics, 'UdpProbeResult');
export type UdpProbeResult = Static<typeof UdpProbeResult>;
export const DnsProbeResult = result('dns', DnsMetrics, 'DnsProbeResult');
export type DnsProbeResult = Static<typeof DnsProbeResult>;
export const IcmpProbeResult = result('icmp', IcmpMetrics, 'IcmpProbeResult');
export type IcmpProbeResult = Static<typeof IcmpProbeResult>;
export const TracerouteProbeResult = result('traceroute', TracerouteMetrics, 'TracerouteProbeResult');
export type TracerouteProbeResult = Static<typeof TracerouteProbeResult>;

export const ProbeResult = Type.Union(
  [HttpProbeResult, TcpProbeResult, UdpProbeResult, DnsProbeResult, IcmpProbeResult, TracerouteProbeResult],
  { $id: 'ProbeResult' },
);
export type ProbeResult = Static<typeof ProbeResult>;
