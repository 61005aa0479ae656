// Tests: dns probe against a scripted responder on 127.0.0.1 (never a public resolver).
import dgram from 'node:dgram';
import dnsPacket from 'dns-packet';
import type { DnsProbeResult, DnsProbeSpec } from '@rookery/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { describeAnswer } from './dns-wire.js';
import { runProbe } from './index.js';
import { a, type DnsResponder, type DnsScript, startDnsResponder } from './testing/dns-responder.js';

const open: DnsResponder[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close()));
});

async function responder(script: DnsScript): Promise<DnsResponder> {
  const r = await startDnsResponder(script);
  open.push(r);
  return r;
}

async function dns(spec: Omit<DnsProbeSpec, 'kind'>): Promise<DnsProbeResult> {
  const r = await runProbe({ kind: 'dns', ...spec });
  if (r.kind !== 'dns') throw new Error('wrong kind');
  return r;
}

describe('dns probe', () => {
  it('sends a real query over UDP and reads rcode, flags and answers', async () => {
    const server = await responder((q) => ({
      answers: [a(q.questions?.[0]?.name ?? '', '192.0.2.7', 300)],
    }));
    const r = await dns({ target: server.target, name: 'www.rookery.test', expectAnswers: ['192.0.2.7'] });
    expect(r.error).toBeUndefined();
    expect(r.metrics).toMatchObject({
      transport: 'udp',
      truncated: false,
      rcode: 'NOERROR',
      resolver: server.target,
      answers: [{ name: 'www.rookery.test', type: 'A', ttl: 300, data: '192.0.2.7' }],
    });
    expect(r.metrics.flags).toEqual(['rd', 'ra']);
    expect(r.metrics.rttMs).toBeGreaterThan(0);
    expect(server.queries).toEqual([{ name: 'www.rookery.test', type: 'A', transport: 'udp' }]);
  });

  it('checks expected answers and rcode', async () => {
    const server = await responder((q) =>
      q.questions?.[0]?.name === 'gone.rookery.test'
        ? { rcode: 'NXDOMAIN' }
        : { answers: [a('x.rookery.test', '192.0.2.1')] },
    );
    const wrong = await dns({ target: server.target, name: 'x.rookery.test', expectAnswers: ['192.0.2.9'] });
    expect(wrong.error?.code).toBe('unexpected_answer');
    const nx = await dns({ target: server.target, name: 'gone.rookery.test' });
    expect(nx.error).toEqual({ code: 'dns_rcode', message: 'rcode NXDOMAIN, expected NOERROR' });
    expect((await dns({ target: server.target, name: 'gone.rookery.test', expectRcode: 'nxdomain' })).ok).toBe(true);
  });

  it('retries over TCP when the UDP answer is truncated', async () => {
    const server = await responder((q, transport) =>
      transport === 'udp'
        ? { flags: dnsPacket.TRUNCATED_RESPONSE }
        : { answers: [a(q.questions?.[0]?.name ?? '', '192.0.2.44')] },
    );
    const r = await dns({ target: server.target, name: 'big.rookery.test' });
    expect(r.error).toBeUndefined();
    expect(r.metrics).toMatchObject({ transport: 'tcp', truncated: true, answers: [{ data: '192.0.2.44' }] });
    expect(r.metrics.udpRttMs).toBeGreaterThan(0);
    expect(server.queries.map((q) => q.transport)).toEqual(['udp', 'tcp']);
    const noFallback = await dns({ target: server.target, name: 'big.rookery.test', tcpFallback: false });
    expect(noFallback.metrics).toMatchObject({ transport: 'udp', truncated: true, answers: [] });
  });

  it('queries over TCP on request', async () => {
    const server = await responder(() => ({ answers: [a('t.rookery.test', '192.0.2.5')] }));
    const r = await dns({ target: server.target, name: 't.rookery.test', transport: 'tcp' });
    expect(r.metrics).toMatchObject({ transport: 'tcp', truncated: false });
    expect(server.queries[0]?.transport).toBe('tcp');
  });

  it('ignores replies with a foreign id and times out on silence', async () => {
    const server = await responder((q) => ({
      idOverride: ((q.id ?? 0) + 1) & 0xffff,
      answers: [a('s.rookery.test', '192.0.2.5')],
    }));
    const r = await dns({ target: server.target, name: 's.rookery.test', timeoutMs: 300 });
    expect(r.error?.code).toBe('timeout');
    expect(server.queries).toHaveLength(1);
    const silent = await responder(() => null);
    expect((await dns({ target: silent.target, name: 's.rookery.test', timeoutMs: 200 })).error?.code).toBe('timeout');
  });

  it('reports refused when nothing listens on the resolver port', async () => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    const port = s.address().port;
    s.close();
    expect((await dns({ target: `127.0.0.1:${port}`, name: 'r.rookery.test' })).error?.code).toBe('refused');
  });

  it('refuses host-name resolvers and unknown record types', async () => {
    expect((await dns({ target: 'resolver.example:53', name: 'a.test' })).error?.code).toBe('invalid_target');
    expect((await dns({ target: '127.0.0.1:1', name: 'a.test', type: 'BOGUS' })).error?.code).toBe('invalid_spec');
  });
});

describe('describeAnswer', () => {
  it('writes MX, SRV and TXT data as text', () => {
    expect(describeAnswer({ type: 'MX', name: 'm', ttl: 1, data: { preference: 10, exchange: 'mx.test' } }).data).toBe(
      '10 mx.test',
    );
    expect(
      describeAnswer({ type: 'SRV', name: 's', ttl: 1, data: { priority: 1, weight: 2, port: 443, target: 'h.test' } })
        .data,
    ).toBe('1 2 443 h.test');
    expect(describeAnswer({ type: 'TXT', name: 't', ttl: 1, data: [Buffer.from('v=1 '), Buffer.from('x')] }).data).toBe(
      'v=1 x',
    );
  });
});
