// Test helper: a scripted DNS responder on 127.0.0.1 (UDP and TCP on the same port), so DNS probe
// tests never touch a real resolver.
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket, { type Answer, type Packet } from 'dns-packet';

export interface DnsScript {
  /** answers for a query; return null to stay silent */
  (query: Packet, transport: 'udp' | 'tcp'): (Partial<Packet> & { rcode?: string; idOverride?: number }) | null;
}

export interface DnsResponder {
  target: string;
  queries: { name: string; type: string; transport: 'udp' | 'tcp' }[];
  close(): Promise<void>;
}

const RCODES: Record<string, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };

function respond(query: Packet, script: DnsScript, transport: 'udp' | 'tcp'): Buffer | null {
  const out = script(query, transport);
  if (!out) return null;
  const { rcode, idOverride, ...rest } = out;
  return dnsPacket.encode({
    type: 'response',
    id: idOverride ?? query.id,
    flags:
      (rest.flags ?? dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE) | (RCODES[rcode ?? 'NOERROR'] ?? 0),
    questions: query.questions,
    answers: rest.answers ?? [],
    authorities: rest.authorities ?? [],
    additionals: rest.additionals ?? [],
  });
}

/** Starts UDP + TCP listeners on one free loopback port. */
export async function startDnsResponder(script: DnsScript): Promise<DnsResponder> {
  const queries: DnsResponder['queries'] = [];
  const record = (q: Packet, transport: 'udp' | 'tcp') =>
    queries.push({ name: q.questions?.[0]?.name ?? '', type: q.questions?.[0]?.type ?? '', transport });
  const tcp = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      const q = dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      record(q, 'tcp');
      const reply = respond(q, script, 'tcp');
      if (!reply) return;
      const framed = Buffer.alloc(2 + reply.length);
      framed.writeUInt16BE(reply.length, 0);
      reply.copy(framed, 2);
      s.end(framed);
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const port = (tcp.address() as net.AddressInfo).port;
  const udp = dgram.createSocket('udp4');
  udp.on('message', (msg, rinfo) => {
    const q = dnsPacket.decode(msg);
    record(q, 'udp');
    const reply = respond(q, script, 'udp');
    if (reply) udp.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => udp.bind(port, '127.0.0.1', r));
  return {
    target: `127.0.0.1:${port}`,
    queries,
    close: async () => {
      await Promise.all([
        new Promise<void>((r) => tcp.close(() => r())),
        new Promise<void>((r) => udp.close(() => r())),
      ]);
    },
  };
}

/** An A record. */
export function a(name: string, address: string, ttl = 60): Answer {
  return { type: 'A', name, ttl, class: 'IN', data: address };
}
