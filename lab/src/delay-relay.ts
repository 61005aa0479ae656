// Userspace delay relay for TCP and UDP (the kernel here has no netem): forwards with added one-way delay.
import { createSocket } from 'node:dgram';
import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';

/** Where a relay listens and where it forwards. */
export interface RelayOptions {
  /** Address to listen on. @default '0.0.0.0' */
  listenAddress?: string;
  /** Port to listen on; 0 picks a free one. */
  listenPort: number;
  targetAddress: string;
  targetPort: number;
  /** Delay in milliseconds added in each direction (so a round trip gains twice this). */
  delayMs: number;
  /** Forget a UDP client after this many milliseconds without traffic. @default 60_000 */
  udpIdleMs?: number;
}

/** A running relay. */
export interface Relay {
  /** the port it listens on */
  port: number;
  close(): Promise<void>;
}

/**
 * Delivers items `delayMs` after they were pushed, in push order. Counts queued bytes so a
 * TCP source can be paused while more than `highWaterBytes` wait (memory stays bounded).
 */
export class DelayLine<T extends { length: number }> {
  private queued = 0;

  constructor(
    private readonly delayMs: number,
    private readonly deliver: (item: T) => void,
    private readonly highWaterBytes = 4 * 1024 * 1024,
    private readonly onDrain: () => void = () => {},
  ) {}

  /** Bytes waiting for delivery. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** Queues an item; returns false when the queue is above its high-water mark (pause the source). */
  push(item: T): boolean {
    this.queued += item.length;
    // timers of equal duration fire in insertion order, which keeps the byte stream in order
    setTimeout(() => {
      this.queued -= item.length;
      this.deliver(item);
      if (this.queued <= this.highWaterBytes / 2) this.onDrain();
    }, this.delayMs);
    return this.queued <= this.highWaterBytes;
  }

  /** Runs `fn` once everything pushed so far has been delivered. */
  after(fn: () => void): void {
    setTimeout(fn, this.delayMs);
  }
}

function pipeDelayed(from: Socket, to: Socket, delayMs: number): void {
  const line = new DelayLine<Buffer>(
    delayMs,
    (chunk) => {
      if (!to.destroyed) to.write(chunk);
    },
    4 * 1024 * 1024,
    () => from.resume(),
  );
  from.on('data', (chunk: Buffer) => {
    if (!line.push(chunk)) from.pause();
  });
  from.on('end', () => line.after(() => to.end()));
}

/** Starts a TCP relay: each accepted connection is forwarded to the target with added delay. */
export function startTcpRelay(options: RelayOptions): Promise<Relay> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: options.targetAddress, port: options.targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    pipeDelayed(client, upstream, options.delayMs);
    pipeDelayed(upstream, client, options.delayMs);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.listenPort, options.listenAddress ?? '0.0.0.0', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Starts a UDP relay: one upstream socket per client address, datagrams delayed both ways. */
export function startUdpRelay(options: RelayOptions): Promise<Relay> {
  const front = createSocket('udp4');
  const clients = new Map<string, { upstream: UdpSocket; lastSeen: number }>();
  const idleMs = options.udpIdleMs ?? 60_000;
  const toUpstream = new DelayLine<{ length: number; msg: Buffer; upstream: UdpSocket }>(options.delayMs, (d) =>
    d.upstream.send(d.msg, options.targetPort, options.targetAddress),
  );
  const toClient = new DelayLine<{ length: number; msg: Buffer; peer: RemoteInfo }>(options.delayMs, (d) =>
    front.send(d.msg, d.peer.port, d.peer.address),
  );
  front.on('message', (msg, peer) => {
    const key = `${peer.address}:${peer.port}`;
    let entry = clients.get(key);
    if (!entry) {
      const upstream = createSocket('udp4');
      upstream.on('message', (reply) => toClient.push({ length: reply.length, msg: reply, peer }));
      upstream.on('error', () => undefined);
      entry = { upstream, lastSeen: 0 };
      clients.set(key, entry);
    }
    entry.lastSeen = Date.now();
    toUpstream.push({ length: msg.length, msg, upstream: entry.upstream });
  });
  front.on('error', () => undefined);
  const sweep = setInterval(
    () => {
      for (const [key, entry] of clients) {
        if (Date.now() - entry.lastSeen > idleMs) {
          entry.upstream.close();
          clients.delete(key);
        }
      }
    },
    Math.max(1000, idleMs / 4),
  );
  sweep.unref();
  return new Promise((resolve, reject) => {
    front.once('error', reject);
    front.bind(options.listenPort, options.listenAddress ?? '0.0.0.0', () => {
      resolve({
        port: front.address().port,
        close: async () => {
          clearInterval(sweep);
          for (const entry of clients.values()) entry.upstream.close();
          await new Promise<void>((done) => front.close(() => done()));
        },
      });
    });
  });
}
