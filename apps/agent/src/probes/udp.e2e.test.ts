// Tests: udp probe against the reflector and scripted reflectors (loss, duplicates, reordering).
import dgram from 'node:dgram';
import { toUdpEchoReply, type UdpProbeResult, type UdpProbeSpec } from '@rookery/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProbe } from './index.js';
import { startTestServerChild, type TestServerChild } from './testing/testserver-child.js';
import { summarizeUdp } from './udp.js';

let ts: TestServerChild;
beforeAll(async () => {
  ts = await startTestServerChild();
});
afterAll(async () => {
  await ts?.stop();
});

async function udp(spec: Omit<UdpProbeSpec, 'kind'>): Promise<UdpProbeResult> {
  const r = await runProbe({ kind: 'udp', ...spec });
  if (r.kind !== 'udp') throw new Error('wrong kind');
  return r;
}

/** An in-test reflector whose behaviour per sequence number is scripted. */
async function scriptedReflector(
  act: (seq: number, reply: () => void) => void,
): Promise<{ target: string; close: () => void }> {
  const socket = dgram.createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    const seq = msg.readUInt32BE(12);
    if (!toUdpEchoReply(msg, process.hrtime.bigint(), process.hrtime.bigint())) return;
    act(seq, () => socket.send(msg, rinfo.port, rinfo.address));
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  return { target: `127.0.0.1:${socket.address().port}`, close: () => socket.close() };
}

describe('udp probe', () => {
  it('measures RTT and jitter against the test server reflector without loss', async () => {
    const r = await udp({ target: ts.udpReflector, count: 50, intervalMs: 2, size: 200 });
    expect(r.error).toBeUndefined();
    expect(r.metrics).toMatchObject({ sent: 50, received: 50, lost: 0, lossPct: 0, duplicates: 0, size: 200 });
    expect(r.metrics.rtt?.minMs).toBeGreaterThan(0);
    expect(r.metrics.rtt?.p99Ms).toBeGreaterThanOrEqual(r.metrics.rtt?.p50Ms ?? 0);
    expect(r.metrics.jitterMs).toBeGreaterThanOrEqual(0);
    expect(r.metrics.forwardJitterMs).toBeGreaterThanOrEqual(0);
    expect(r.metrics.returnJitterMs).toBeGreaterThanOrEqual(0);
    expect(r.metrics.samplesMs).toHaveLength(50);
  });

  it('counts deterministic loss exactly', async () => {
    const lossy = await scriptedReflector((seq, reply) => {
      if (seq % 5 !== 0) reply();
    });
    const r = await udp({ target: lossy.target, count: 50, intervalMs: 1, waitMs: 300 });
    lossy.close();
    expect(r.metrics).toMatchObject({ sent: 50, received: 40, lost: 10, lossPct: 20 });
    expect(r.metrics.samplesMs?.[0]).toBeNull();
    expect(r.metrics.samplesMs?.[1]).not.toBeNull();
    const strict = await scriptedReflector((seq, reply) => (seq % 5 !== 0 ? reply() : undefined));
    const s = await udp({ target: strict.target, count: 20, intervalMs: 1, waitMs: 200, maxLossPct: 10 });
    strict.close();
    expect(s.error?.code).toBe('loss_exceeded');
  });

  it('counts duplicates and reordering', async () => {
    const dup = await scriptedReflector((seq, reply) => {
      reply();
      if (seq < 3) reply();
    });
    const d = await udp({ target: dup.target, count: 10, intervalMs: 1, waitMs: 200 });
    dup.close();
    expect(d.metrics).toMatchObject({ received: 10, duplicates: 3, lost: 0 });
    const late = await scriptedReflector((seq, reply) => {
      if (seq === 2) setTimeout(reply, 30);
      else reply();
    });
    const o = await udp({ target: late.target, count: 10, intervalMs: 5, waitMs: 200 });
    late.close();
    expect(o.metrics).toMatchObject({ received: 10, lost: 0, reordered: 1 });
  });

  it('reports refused for a closed port and no_reply for a silent one', async () => {
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
    const port = probe.address().port;
    probe.close();
    const refused = await udp({ target: `127.0.0.1:${port}`, count: 3, intervalMs: 5, waitMs: 100 });
    expect(refused.error?.code).toBe('refused');
    const silent = await scriptedReflector(() => undefined);
    const r = await udp({ target: silent.target, count: 3, intervalMs: 5, waitMs: 100 });
    silent.close();
    expect(r.error?.code).toBe('no_reply');
    expect(r.metrics).toMatchObject({ sent: 3, received: 0, lost: 3, lossPct: 100 });
  });

  it('works over IPv6 against a reflector on ::1', async () => {
    const v6 = await startTestServerChild(['--listen', '[::1]:0']);
    try {
      expect(v6.udpReflector).toMatch(/^\[::1\]:\d+$/);
      const r = await udp({ target: v6.udpReflector, count: 5, intervalMs: 2 });
      expect(r.error).toBeUndefined();
      expect(r.metrics).toMatchObject({ received: 5, remoteAddress: '::1' });
      const h = await runProbe({ kind: 'http', target: `${v6.url}/echo` });
      expect(h.ok).toBe(true);
      expect(h.metrics).toMatchObject({ remoteAddress: '::1', status: 200 });
      const t = await runProbe({ kind: 'tcp', target: v6.tcpEcho, send: 'x', expect: 'x' });
      expect(t.ok).toBe(true);
    } finally {
      await v6.stop();
    }
  });

  it('times out with partial results', async () => {
    const r = await udp({ target: ts.udpReflector, count: 100, intervalMs: 20, timeoutMs: 300 });
    expect(r.error?.code).toBe('timeout');
    expect(r.metrics.sent).toBeGreaterThan(5);
    expect(r.metrics.sent).toBeLessThan(100);
    expect(r.metrics.received).toBeGreaterThan(0);
  });
});

describe('summarizeUdp', () => {
  it('derives loss, duplicates, reordering and one-way jitter from timestamps', () => {
    const m = { sent: 0, received: 0, lost: 0, lossPct: 0, duplicates: 0, reordered: 0, size: 64 };
    const ms = (x: number) => BigInt(Math.round(x * 1e6));
    const send = [ms(0), ms(10), ms(20), ms(30)];
    // reflector clock is 1e9 ms ahead; forward transit 1, 1, 3 ms; seq 3 lost; seq 0 duplicated
    const arrivals = [
      { seq: 0, serverRecvNs: ms(1e9 + 1), serverSendNs: ms(1e9 + 1), recvNs: ms(2) },
      { seq: 2, serverRecvNs: ms(1e9 + 23), serverSendNs: ms(1e9 + 23), recvNs: ms(24) },
      { seq: 1, serverRecvNs: ms(1e9 + 11), serverSendNs: ms(1e9 + 11), recvNs: ms(25) },
      { seq: 0, serverRecvNs: ms(1e9 + 1), serverSendNs: ms(1e9 + 1), recvNs: ms(26) },
    ];
    summarizeUdp(send, arrivals, m);
    expect(m).toMatchObject({ sent: 4, received: 3, lost: 1, lossPct: 25, duplicates: 1, reordered: 1 });
    expect((m as { samplesMs?: unknown }).samplesMs).toEqual([2, 15, 4, null]);
    // forward transits in reflector-arrival order: 1, 1, 3 → J = 0 then (2 - 0)/16
    expect((m as { forwardJitterMs?: number }).forwardJitterMs).toBe(0.125);
  });
});
