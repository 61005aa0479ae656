// TCP echo server for the tcp probe: optional banner line, echo of everything received, bounded in
// connections, idle time and bytes.
import net from 'node:net';
import type { ListenAddress } from './options.js';

export interface TcpEchoOptions {
  listen: ListenAddress;
  /** sent on connect, before echoing (e.g. "SSH-2.0-rookery-testserver") */
  banner?: string;
  maxConnections: number;
  idleMs: number;
  maxBytes: number;
}

export interface TcpEchoServer {
  address: net.AddressInfo;
  /** Stops accepting, half-closes open connections, destroys them after `graceMs`. */
  close(graceMs: number): Promise<void>;
}

/** Starts the echo server; rejects if the address cannot be bound. */
export async function startTcpEcho(opts: TcpEchoOptions): Promise<TcpEchoServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setNoDelay(true);
    socket.setTimeout(opts.idleMs, () => socket.destroy());
    if (opts.banner !== undefined) socket.write(`${opts.banner}\r\n`);
    let echoed = 0;
    socket.on('data', (chunk: Buffer) => {
      echoed += chunk.length;
      if (echoed > opts.maxBytes) {
        socket.destroy();
        return;
      }
      if (!socket.write(chunk)) {
        socket.pause();
        socket.once('drain', () => socket.resume());
      }
    });
    socket.on('end', () => socket.end());
  });
  server.maxConnections = opts.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    address: server.address() as net.AddressInfo,
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.end();
      const timer = setTimeout(() => {
        for (const s of sockets) s.destroy();
      }, graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
