// Tests: TLS (h2 + HTTP/1.1), TCP echo, UDP reflector and graceful shutdown.
import dgram from 'node:dgram';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { decodeUdpEcho, encodeUdpEchoRequest } from '@rookery/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningTestServer, startTestServer, type TestServerOptions } from './index.js';

const running: RunningTestServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function serve(options: TestServerOptions): Promise<RunningTestServer> {
  const s = await startTestServer({ http: { host: '127.0.0.1', port: 0 }, ...options });
  running.push(s);
  return s;
}

describe('TLS listener', () => {
  it('serves h2 and HTTP/1.1 by ALPN with a generated certificate', async () => {
    const s = await serve({ tls: 'self-signed', tcpEcho: false, udpReflector: false });
    expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const session = http2.connect(s.url as string, { ca: s.certificatePem });
    const h2 = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = session.request({ ':path': '/echo' });
      let body = '';
      let status = 0;
      req.on('response', (h) => {
        status = Number(h[':status']);
      });
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => resolve({ status, body }));
      req.on('error', reject);
    });
    session.close();
    expect(h2.status).toBe(200);
    expect(JSON.parse(h2.body)).toMatchObject({ httpVersion: '2.0', tls: true, alpn: 'h2' });
    const options: https.RequestOptions & { ALPNProtocols: string[] } = {
      ca: s.certificatePem,
      agent: false,
      ALPNProtocols: ['http/1.1'],
    };
    const h1 = await new Promise<string>((resolve, reject) => {
      https
        .get(`${s.url}/echo`, options, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString();
          });
          res.on('end', () => resolve(body));
        })
        .on('error', reject);
    });
    expect(JSON.parse(h1)).toMatchObject({ httpVersion: '1.1', alpn: 'http/1.1' });
  });
});

describe('TCP echo', () => {
  it('sends the banner, echoes, and closes past maxTcpBytes', async () => {
    const s = await serve({
      http: false,
      udpReflector: false,
      tcpBanner: 'SSH-2.0-x',
      tcpEcho: { host: '127.0.0.1', port: 0 },
      limits: { maxTcpBytes: 10 },
    });
    const port = s.tcpEcho?.port as number;
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    socket.on('data', (c: Buffer) => {
      got += c.toString();
    });
    await new Promise((r) => socket.once('connect', r));
    socket.write('hello');
    await new Promise((r) => setTimeout(r, 50));
    expect(got).toBe('SSH-2.0-x\r\nhello');
    const closed = new Promise((r) => socket.once('close', r));
    socket.write('0123456789');
    await closed;
    expect(got).toBe('SSH-2.0-x\r\nhello');
  });
});

describe('UDP reflector', () => {
  async function exchange(port: number, payload: Uint8Array, waitMs = 300): Promise<Buffer | null> {
    const c = dgram.createSocket('udp4');
    try {
      return await new Promise<Buffer | null>((resolve) => {
        const t = setTimeout(() => resolve(null), waitMs);
        c.on('message', (m) => {
          clearTimeout(t);
          resolve(m);
        });
        c.send(payload, port, '127.0.0.1');
      });
    } finally {
      c.close();
    }
  }

  it('returns a same-size reply with sequence and reflector timestamps', async () => {
    const s = await serve({ http: false, tcpEcho: false, udpReflector: { host: '127.0.0.1', port: 0 } });
    const port = s.udpReflector?.port as number;
    const reply = await exchange(port, encodeUdpEchoRequest(7, 99, 5n, 120));
    expect(reply?.length).toBe(120);
    const p = decodeUdpEcho(reply as Buffer);
    expect(p).toMatchObject({ type: 'reply', sessionId: 7, seq: 99, clientSendNs: 5n });
    expect(p?.serverSendNs).toBeGreaterThanOrEqual(p?.serverRecvNs ?? 0n);
    expect(p?.serverRecvNs).toBeGreaterThan(0n);
    expect(await exchange(port, Buffer.from('not a probe, definitely not'), 100)).toBeNull();
    expect(s.udpStats()).toEqual({ reflected: 1, dropped: 1 });
  });

  it('drops datagrams over the per-source rate', async () => {
    const s = await serve({
      http: false,
      tcpEcho: false,
      udpReflector: { host: '127.0.0.1', port: 0 },
      limits: { udpPacketsPerSecond: 2 },
    });
    const port = s.udpReflector?.port as number;
    const replies = [];
    for (let i = 0; i < 4; i++) replies.push(await exchange(port, encodeUdpEchoRequest(1, i, 1n, 40), 100));
    expect(replies.filter(Boolean)).toHaveLength(2);
  });
});

describe('graceful shutdown', () => {
  it('lets a running test finish inside the grace period', async () => {
    const s = await serve({ tcpEcho: false, udpReflector: false, graceMs: 2000 });
    const pending = fetch(`${s.url}/delay?ms=300`);
    await new Promise((r) => setTimeout(r, 50));
    const start = performance.now();
    await s.close();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(performance.now() - start).toBeLessThan(1500);
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
  });

  it('cuts tests still running when the grace period ends', async () => {
    const s = await serve({ tcpEcho: false, udpReflector: false, graceMs: 150 });
    const pending = fetch(`${s.url}/delay?ms=10000`).then(
      (r) => r.status,
      () => 'cut',
    );
    await new Promise((r) => setTimeout(r, 50));
    const start = performance.now();
    await s.close();
    expect(performance.now() - start).toBeLessThan(1000);
    expect([503, 'cut']).toContain(await pending);
  });

  it('is idempotent and frees the ports', async () => {
    const s = await serve({ tcpEcho: { host: '127.0.0.1', port: 0 }, udpReflector: { host: '127.0.0.1', port: 0 } });
    await Promise.all([s.close(), s.close()]);
    const again = await startTestServer({
      http: { host: '127.0.0.1', port: s.http?.port as number },
      tcpEcho: { host: '127.0.0.1', port: s.tcpEcho?.port as number },
      udpReflector: { host: '127.0.0.1', port: s.udpReflector?.port as number },
    });
    running.push(again);
    expect(again.http?.port).toBe(s.http?.port);
  });

  it('fails to start cleanly when a port is taken', async () => {
    const s = await serve({ tcpEcho: false, udpReflector: false });
    await expect(startTestServer({ http: { host: '127.0.0.1', port: s.http?.port as number } })).rejects.toThrow(
      /EADDRINUSE/,
    );
  });
});
