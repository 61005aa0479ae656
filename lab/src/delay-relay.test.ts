import { createSocket } from 'node:dgram';
import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DelayLine, startTcpRelay, startUdpRelay } from './delay-relay.js';
import type { Relay } from './delay-relay.js';

describe('DelayLine', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('delivers after the delay, in order, and asks the source to pause above the high-water mark', () => {
    vi.useFakeTimers();
    const delivered: string[] = [];
    let drained = 0;
    const line = new DelayLine<Buffer>(
      50,
      (b) => delivered.push(b.toString()),
      10,
      () => drained++,
    );
    expect(line.push(Buffer.from('abcd'))).toBe(true);
    vi.advanceTimersByTime(20);
    expect(line.push(Buffer.from('efghijk'))).toBe(false);
    expect(line.queuedBytes).toBe(11);
    vi.advanceTimersByTime(29);
    expect(delivered).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(delivered).toEqual(['abcd']);
    vi.advanceTimersByTime(20);
    expect(delivered).toEqual(['abcd', 'efghijk']);
    expect(line.queuedBytes).toBe(0);
    expect(drained).toBeGreaterThan(0);
  });
});

function echoServer(): Promise<Server> {
  const server = createServer((s) => s.pipe(s));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('delay relay on loopback', () => {
  const open: { close(): unknown }[] = [];
  afterEach(async () => {
    for (const o of open.splice(0)) await o.close();
  });

  it('adds the delay in each direction of a TCP connection and keeps the byte stream intact', async () => {
    const echo = await echoServer();
    open.push({ close: () => new Promise((r) => echo.close(r)) });
    const relay: Relay = await startTcpRelay({
      listenAddress: '127.0.0.1',
      listenPort: 0,
      targetAddress: '127.0.0.1',
      targetPort: (echo.address() as AddressInfo).port,
      delayMs: 40,
    });
    open.push(relay);
    const payload = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) % 251;
    const socket = createConnection({ host: '127.0.0.1', port: relay.port });
    const started = performance.now();
    const firstByte = new Promise<number>((resolve) => socket.once('data', () => resolve(performance.now() - started)));
    const chunks: Buffer[] = [];
    let received = 0;
    const all = new Promise<void>((resolve) =>
      socket.on('data', (d: Buffer) => {
        chunks.push(d);
        received += d.length;
        if (received >= payload.length) resolve();
      }),
    );
    socket.write(payload);
    const rtt = await firstByte;
    await all;
    socket.destroy();
    expect(rtt).toBeGreaterThanOrEqual(79);
    expect(rtt).toBeLessThan(80 + 400);
    expect(Buffer.concat(chunks).equals(payload)).toBe(true);
  });

  it('adds the delay in each direction of UDP datagrams', async () => {
    const echo = createSocket('udp4');
    echo.on('message', (msg, peer) => echo.send(msg, peer.port, peer.address));
    await new Promise<void>((r) => echo.bind(0, '127.0.0.1', r));
    open.push({ close: () => new Promise<void>((r) => echo.close(() => r())) });
    const relay = await startUdpRelay({
      listenAddress: '127.0.0.1',
      listenPort: 0,
      targetAddress: '127.0.0.1',
      targetPort: echo.address().port,
      delayMs: 30,
    });
    open.push(relay);
    const client = createSocket('udp4');
    open.push({ close: () => new Promise<void>((r) => client.close(() => r())) });
    const started = performance.now();
    const reply = new Promise<[string, number]>((resolve) =>
      client.once('message', (m) => resolve([m.toString(), performance.now() - started])),
    );
    client.send('hello', relay.port, '127.0.0.1');
    const [text, rtt] = await reply;
    expect(text).toBe('hello');
    expect(rtt).toBeGreaterThanOrEqual(59);
    expect(rtt).toBeLessThan(60 + 400);
  });
});
