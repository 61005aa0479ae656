// The "raw socket loop" reference: a bare node:dgram client against the same reflector, no probe engine.
import dgram from 'node:dgram';
import { encodeUdpEchoRequest } from '@rookery/protocol';

/** Sends `count` echo requests `intervalMs` apart and returns the RTTs (ms) that came back. */
export async function rawUdpRtts(hostPort: string, count: number, intervalMs: number): Promise<number[]> {
  const i = hostPort.lastIndexOf(':');
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.connect(Number(hostPort.slice(i + 1)), hostPort.slice(0, i), r));
  const sent: bigint[] = [];
  const rtts: number[] = [];
  socket.on('message', (m) => {
    const t = process.hrtime.bigint();
    const t0 = sent[m.readUInt32BE(12)];
    if (t0 !== undefined) rtts.push(Number(t - t0) / 1e6);
  });
  for (let seq = 0; seq < count; seq++) {
    const t = process.hrtime.bigint();
    sent[seq] = t;
    socket.send(encodeUdpEchoRequest(1, seq, t, 64));
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  await new Promise((r) => setTimeout(r, 300));
  socket.close();
  return rtts;
}
