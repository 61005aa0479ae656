// UDP probe against a Rookery reflector: N sequenced, timestamped datagrams; loss, duplicates,
// reordering, RTT statistics and RFC 3550 jitter (round trip, and each direction from the
// reflector's timestamps, whose clock offset cancels out).
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { decodeUdpEcho, encodeUdpEchoRequest, type UdpMetrics, type UdpProbeSpec } from '@rookery/protocol';
import { nowNs, roundMs } from './clock.js';
import { abortReason, checkReplies, ProbeFailure } from './errors.js';
import type { ProbeContext, ProbeImpl } from './kind.js';
import { sleep } from './sleep.js';
import { lossPct, rfc3550Jitter, rttStats } from './stats.js';
import { parseHostPort } from './target.js';

interface Arrival {
  seq: number;
  recvNs: bigint;
  serverRecvNs: bigint;
  serverSendNs: bigint;
}

/** Loss, duplicates, reordering and jitter from the send times and arrivals (pure). */
export function summarizeUdp(sendNs: readonly (bigint | undefined)[], arrivals: readonly Arrival[], m: UdpMetrics) {
  const samples: (number | null)[] = sendNs.map(() => null);
  const firstArrivals: Arrival[] = [];
  let highest = -1;
  m.duplicates = 0;
  m.reordered = 0;
  for (const a of arrivals) {
    const sent = sendNs[a.seq];
    if (sent === undefined) continue;
    if (samples[a.seq] !== null) {
      m.duplicates++;
      continue;
    }
    samples[a.seq] = Number(a.recvNs - sent) / 1e6;
    if (a.seq < highest) m.reordered++;
    highest = Math.max(highest, a.seq);
    firstArrivals.push(a);
  }
  m.sent = sendNs.filter((s) => s !== undefined).length;
  m.received = firstArrivals.length;
  m.lost = m.sent - m.received;
  m.lossPct = lossPct(m.sent, m.received);
  const rtts = samples.filter((s): s is number => s !== null);
  m.rtt = rttStats(rtts);
  m.samplesMs = samples.slice(0, m.sent).map((s) => (s === null ? null : roundMs(s)));
  m.jitterMs = rfc3550Jitter(firstArrivals.map((a) => samples[a.seq] as number));
  const first = firstArrivals[0];
  if (first && first.serverRecvNs > 0n) {
    const base = sendNs[first.seq] as bigint;
    const fwd = [...firstArrivals].sort((a, b) => (a.serverRecvNs < b.serverRecvNs ? -1 : 1));
    m.forwardJitterMs = rfc3550Jitter(
      fwd.map((a) => Number(a.serverRecvNs - first.serverRecvNs - ((sendNs[a.seq] as bigint) - base)) / 1e6),
    );
    m.returnJitterMs = rfc3550Jitter(
      firstArrivals.map((a) => Number(a.recvNs - first.recvNs - (a.serverSendNs - first.serverSendNs)) / 1e6),
    );
  }
}

async function run(spec: UdpProbeSpec, m: UdpMetrics, ctx: ProbeContext): Promise<void> {
  const { host, port } = parseHostPort(spec.target);
  const count = spec.count ?? 10;
  const intervalMs = spec.intervalMs ?? 100;
  const waitMs = spec.waitMs ?? 1000;
  let address = host;
  if (!isIP(host)) {
    try {
      address = (await lookup(host, { family: spec.ipFamily ?? 0 })).address;
    } catch (err) {
      throw new ProbeFailure('dns_failure', `cannot resolve ${host}: ${(err as Error).message}`);
    }
  }
  const socket = dgram.createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
  // filters stray datagrams only; not a secret, so Math.random (node:crypto would cost ~2 MB RSS)
  const sessionId = Math.floor(Math.random() * 2 ** 32);
  const sendNs: (bigint | undefined)[] = [];
  const arrivals: Arrival[] = [];
  let refused = 0;
  let answered = 0;
  let allIn: () => void = () => undefined;
  const seen = new Set<number>();
  socket.on('message', (msg) => {
    const recvNs = nowNs();
    const p = decodeUdpEcho(msg);
    if (!p || p.type !== 'reply' || p.sessionId !== sessionId || p.seq >= count) return;
    arrivals.push({ seq: p.seq, recvNs, serverRecvNs: p.serverRecvNs, serverSendNs: p.serverSendNs });
    if (!seen.has(p.seq)) {
      seen.add(p.seq);
      if (++answered === count) allIn();
    }
  });
  // a connected UDP socket reports ICMP port unreachable as ECONNREFUSED
  socket.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ECONNREFUSED') refused++;
  });
  m.size = spec.size ?? 64;
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(port, address, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    m.remoteAddress = address;
    m.remotePort = port;
    const startNs = nowNs();
    for (let seq = 0; seq < count; seq++) {
      const dueNs = startNs + BigInt(Math.round(seq * intervalMs * 1e6));
      const aheadMs = Number(dueNs - nowNs()) / 1e6;
      if (aheadMs > 0) await sleep(aheadMs, ctx.signal);
      else if (ctx.signal.aborted) throw abortReason(ctx.signal);
      const t = nowNs();
      sendNs[seq] = t;
      socket.send(encodeUdpEchoRequest(sessionId, seq, t, m.size));
    }
    if (answered < count) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(done, waitMs);
        const onAbort = () => {
          clearTimeout(timer);
          reject(abortReason(ctx.signal));
        };
        function done() {
          clearTimeout(timer);
          ctx.signal.removeEventListener('abort', onAbort);
          resolve();
        }
        allIn = done;
        ctx.signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  } finally {
    socket.close();
    summarizeUdp(sendNs, arrivals, m);
  }
  checkReplies(m, spec.maxLossPct, () =>
    refused > 0
      ? new ProbeFailure('refused', `port unreachable at ${spec.target} (no reflector listening)`)
      : new ProbeFailure('no_reply', `no reply to ${m.sent} datagrams`),
  );
}

export const udpProbe: ProbeImpl<UdpProbeSpec, UdpMetrics> = {
  kind: 'udp',
  defaultTimeoutMs: (s) => Math.ceil((s.count ?? 10) * (s.intervalMs ?? 100) + (s.waitMs ?? 1000) + 2000),
  initialMetrics: (s) => ({
    sent: 0,
    received: 0,
    lost: 0,
    lossPct: 0,
    duplicates: 0,
    reordered: 0,
    size: s.size ?? 64,
  }),
  run,
};
