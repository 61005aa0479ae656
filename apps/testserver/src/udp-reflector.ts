// UDP reflector for the udp probe: answers each valid request (protocol/udp-echo format) with a
// same-size reply carrying receive and send timestamps; rate-limited per source, never amplifies.
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { toUdpEchoReply } from '@rookery/protocol';
import { RateLimiter } from './limits.js';
import type { ListenAddress } from './options.js';

export interface UdpReflectorOptions {
  listen: ListenAddress;
  packetsPerSecond: number;
}

export interface UdpReflector {
  address: AddressInfo;
  /** datagrams answered / dropped (invalid or over the rate) since start */
  stats(): { reflected: number; dropped: number };
  close(): Promise<void>;
}

/** Binds the reflector (udp6 for IPv6 hosts); rejects if the address cannot be bound. */
export async function startUdpReflector(opts: UdpReflectorOptions): Promise<UdpReflector> {
  const socket = dgram.createSocket(opts.listen.host.includes(':') ? 'udp6' : 'udp4');
  const rate = new RateLimiter(opts.packetsPerSecond, opts.packetsPerSecond);
  let reflected = 0;
  let dropped = 0;
  socket.on('message', (msg, rinfo) => {
    const recvNs = process.hrtime.bigint();
    if (rate.take(rinfo.address) > 0 || !toUdpEchoReply(msg, recvNs, process.hrtime.bigint())) {
      dropped++;
      return;
    }
    reflected++;
    socket.send(msg, rinfo.port, rinfo.address);
  });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(opts.listen.port, opts.listen.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return {
    address: socket.address(),
    stats: () => ({ reflected, dropped }),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
