// DNS probe: one real query to a chosen resolver over UDP (TCP on truncation or on request), with
// timing, rcode, flags and answers. Never the system resolver.
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net, { isIP } from 'node:net';
import type { DecodedPacket } from 'dns-packet';
import type { DnsMetrics, DnsProbeSpec } from '@rookery/protocol';
import { msSince, nowNs, roundMs } from './clock.js';
import { waitForEvent } from './connect.js';
import { abortReason, ProbeFailure } from './errors.js';
import { buildQuery, decodeResponse, describeAnswer, describeFlags, queryType, rcodeOf } from './dns-wire.js';
import type { ProbeContext, ProbeImpl } from './kind.js';
import { parseResolver, type HostPort } from './target.js';

interface Reply {
  packet: DecodedPacket;
  bytes: number;
  rttMs: number;
}

function queryUdp(server: HostPort, query: Buffer, id: number, signal: AbortSignal): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const socket = dgram.createSocket(isIP(server.host) === 6 ? 'udp6' : 'udp4');
    let sentNs = 0n;
    const finish = (err: unknown, reply?: Reply) => {
      signal.removeEventListener('abort', onAbort);
      socket.close();
      if (reply) resolve(reply);
      else reject(err);
    };
    const onAbort = () => finish(abortReason(signal));
    socket.on('message', (msg) => {
      const rttMs = msSince(sentNs);
      const packet = decodeResponse(msg, id);
      if (packet) finish(null, { packet, bytes: msg.length, rttMs });
    });
    socket.on('error', (err) => finish(err));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.connect(server.port, server.host, () => {
      sentNs = nowNs();
      socket.send(query);
    });
  });
}

async function queryTcp(server: HostPort, query: Buffer, id: number, signal: AbortSignal): Promise<Reply> {
  const socket = net.connect({ host: server.host, port: server.port, noDelay: true });
  try {
    await waitForEvent(socket, 'connect', signal);
    const framed = Buffer.alloc(2 + query.length);
    framed.writeUInt16BE(query.length, 0);
    query.copy(framed, 2);
    const sentNs = nowNs();
    socket.write(framed);
    let buf = Buffer.alloc(0);
    for (;;) {
      const chunk = await waitForEvent<Buffer>(socket, 'data', signal);
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2) continue;
      const len = buf.readUInt16BE(0);
      if (buf.length < 2 + len) continue;
      const rttMs = msSince(sentNs);
      const packet = decodeResponse(buf.subarray(2, 2 + len), id);
      if (!packet) throw new ProbeFailure('protocol_error', 'malformed or mismatched DNS response over TCP');
      return { packet, bytes: len, rttMs };
    }
  } finally {
    socket.destroy();
  }
}

function record(m: DnsMetrics, reply: Reply): void {
  const p = reply.packet;
  m.rttMs = roundMs(reply.rttMs);
  m.rcode = rcodeOf(p);
  m.flags = describeFlags(p);
  m.answers = (p.answers ?? []).map(describeAnswer);
  m.authorityCount = p.authorities?.length ?? 0;
  m.additionalCount = p.additionals?.length ?? 0;
  m.responseBytes = reply.bytes;
}

async function run(spec: DnsProbeSpec, m: DnsMetrics, ctx: ProbeContext): Promise<void> {
  const server = parseResolver(spec.target);
  const type = queryType(spec.type);
  const id = randomInt(0, 65_536);
  const query = buildQuery(id, spec.name, type, spec.recursionDesired ?? true);
  m.resolver = isIP(server.host) === 6 ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
  const startNs = nowNs();
  try {
    if (spec.transport === 'tcp') {
      m.transport = 'tcp';
      record(m, await queryTcp(server, query, id, ctx.signal));
    } else {
      m.transport = 'udp';
      const reply = await queryUdp(server, query, id, ctx.signal);
      record(m, reply);
      if (reply.packet.flag_tc) {
        m.truncated = true;
        if (spec.tcpFallback ?? true) {
          m.udpRttMs = m.rttMs;
          m.transport = 'tcp';
          record(m, await queryTcp(server, query, id, ctx.signal));
        }
      }
    }
  } finally {
    m.totalMs = roundMs(msSince(startNs));
  }
  const wantRcode = (spec.expectRcode ?? 'NOERROR').toUpperCase();
  if (m.rcode !== wantRcode) throw new ProbeFailure('dns_rcode', `rcode ${m.rcode}, expected ${wantRcode}`);
  for (const want of spec.expectAnswers ?? []) {
    if (!m.answers.some((a) => a.data === want)) {
      throw new ProbeFailure('unexpected_answer', `no answer with data "${want}"`);
    }
  }
}

export const dnsProbe: ProbeImpl<DnsProbeSpec, DnsMetrics> = {
  kind: 'dns',
  defaultTimeoutMs: () => 5_000,
  initialMetrics: () => ({ truncated: false, answers: [] }),
  run,
};
