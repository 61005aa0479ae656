// Starts the Rookery test server: HTTP(S) routes (h2 + HTTP/1.1 with TLS), TCP echo and the UDP
// reflector, with graceful shutdown.
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { createHandler } from './http/app.js';
import type { Req, Res } from './http/respond.js';
import { ConcurrencyGate, RateLimiter } from './limits.js';
import { DEFAULT_LIMITS, type ListenAddress, type TestServerOptions } from './options.js';
import { startTcpEcho, type TcpEchoServer } from './tcp-echo.js';
import { selfSignedCertificate } from './tls.js';
import { startUdpReflector, type UdpReflector } from './udp-reflector.js';

export type { TestServerOptions, Limits, ListenAddress } from './options.js';
export { DEFAULT_LIMITS } from './options.js';
export { hashSecret, type AuthConfig } from './auth.js';
export { selfSignedCertificate } from './tls.js';

export const TESTSERVER_VERSION = '0.1.0';

export interface RunningTestServer {
  /** base URL of the HTTP(S) listener, e.g. http://127.0.0.1:8088 */
  url?: string;
  http?: AddressInfo;
  tcpEcho?: AddressInfo;
  udpReflector?: AddressInfo;
  /** PEM of the certificate served (trust it as a CA in clients) */
  certificatePem?: string;
  /** UDP datagrams reflected/dropped */
  udpStats(): { reflected: number; dropped: number };
  /** Stops accepting, lets running tests finish for graceMs, then cuts them; idempotent. */
  close(): Promise<void>;
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

async function listen(server: http.Server | http2.Http2SecureServer, at: ListenAddress): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

/** Starts every enabled listener; rejects (after closing what started) if one cannot bind. */
export async function startTestServer(options: TestServerOptions = {}): Promise<RunningTestServer> {
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const graceMs = options.graceMs ?? 5000;
  const httpAt = options.http === undefined ? { host: '127.0.0.1', port: 8088 } : options.http;
  const portAfter = (n: number) => (httpAt && httpAt.port !== 0 ? httpAt.port + n : 0);
  const host = httpAt ? httpAt.host : '127.0.0.1';
  const tcpAt = options.tcpEcho === undefined ? { host, port: portAfter(1) } : options.tcpEcho;
  const udpAt = options.udpReflector === undefined ? { host, port: portAfter(2) } : options.udpReflector;
  const shutdown = new AbortController();
  const gate = new ConcurrencyGate(limits.maxConcurrentTests);
  const handler = createHandler({
    limits,
    gate,
    rate: new RateLimiter(limits.requestsPerSecond, limits.requestBurst),
    auth: options.auth,
    corsOrigins: options.corsOrigins ?? ['*'],
    shutdown: shutdown.signal,
    version: TESTSERVER_VERSION,
    startedAt: Date.now(),
  });
  const running: RunningTestServer = { udpStats: () => ({ reflected: 0, dropped: 0 }), close: async () => undefined };
  let server: http.Server | http2.Http2SecureServer | undefined;
  const sockets = new Set<Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  let tcp: TcpEchoServer | undefined;
  let udp: UdpReflector | undefined;
  let closing: Promise<void> | undefined;

  // HTTP/1.1 keep-alive would hold close() until the grace cut: track requests per socket and
  // end each h1 socket once it has nothing in flight (h2 sessions close gracefully by themselves)
  const inflight = new Map<Socket, Set<Res>>();
  const h2Sockets = new WeakSet<Socket>();
  let stopping = false;
  const endIfIdle = (socket: Socket) => {
    if (!h2Sockets.has(socket) && !(inflight.get(socket)?.size ?? 0)) socket.end();
  };
  const track = (req: Req, res: Res) => {
    const socket = (req as unknown as { socket: Socket }).socket;
    if (req.httpVersion.startsWith('2')) return;
    const set = inflight.get(socket) ?? new Set<Res>();
    inflight.set(socket, set);
    set.add(res);
    if (stopping) res.setHeader('connection', 'close');
    res.on('close', () => {
      set.delete(res);
      if (set.size === 0) inflight.delete(socket);
      if (stopping) endIfIdle(socket);
    });
  };

  const close = () =>
    (closing ??= (async () => {
      stopping = true;
      const serverClosed = server ? new Promise<void>((resolve) => server?.close(() => resolve())) : Promise.resolve();
      for (const set of inflight.values())
        for (const res of set) if (!res.headersSent) res.setHeader('connection', 'close');
      for (const s of sockets) endIfIdle(s);
      for (const s of sessions) s.close();
      const cut = setTimeout(() => {
        shutdown.abort();
        for (const s of sockets) s.destroy();
        for (const s of sessions) s.destroy();
      }, graceMs);
      await Promise.all([serverClosed, tcp?.close(graceMs), udp?.close()]);
      clearTimeout(cut);
      shutdown.abort();
    })());
  running.close = close;

  try {
    if (httpAt) {
      const onRequest = (req: Req, res: Res) => {
        track(req, res);
        handler(req, res);
      };
      if (options.tls) {
        const pair = options.tls === 'self-signed' ? await selfSignedCertificate() : options.tls;
        running.certificatePem = pair.cert;
        const s = http2.createSecureServer({ ...pair, allowHTTP1: true, ALPNProtocols: ['h2', 'http/1.1'] });
        s.on('request', onRequest);
        s.on('session', (session) => {
          sessions.add(session);
          h2Sockets.add(session.socket as Socket);
          session.on('close', () => sessions.delete(session));
        });
        server = s;
      } else {
        server = http.createServer({ keepAliveTimeout: 5000 }, onRequest);
      }
      server.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      running.http = await listen(server, httpAt);
      running.url = `${options.tls ? 'https' : 'http'}://${hostForUrl(httpAt.host)}:${running.http.port}`;
    }
    if (tcpAt) {
      tcp = await startTcpEcho({
        listen: tcpAt,
        banner: options.tcpBanner,
        maxConnections: limits.maxTcpConnections,
        idleMs: limits.tcpIdleMs,
        maxBytes: limits.maxTcpBytes,
      });
      running.tcpEcho = tcp.address;
    }
    if (udpAt) {
      udp = await startUdpReflector({ listen: udpAt, packetsPerSecond: limits.udpPacketsPerSecond });
      running.udpReflector = udp.address;
      running.udpStats = () => udp?.stats() ?? { reflected: 0, dropped: 0 };
    }
  } catch (err) {
    await close();
    throw err;
  }
  return running;
}
