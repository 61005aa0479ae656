// Tests: tcp probe against the test server and scripted servers (echo, banner, TLS, failures).
import net from 'node:net';
import type { TcpProbeResult, TcpProbeSpec } from '@rookery/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProbe } from './index.js';
import { cleanBanner } from './tcp.js';
import { closedTcpPort, startTestServerChild, type TestServerChild } from './testing/testserver-child.js';

let echo: TestServerChild;
let bannered: TestServerChild;

beforeAll(async () => {
  [echo, bannered] = await Promise.all([
    startTestServerChild(['--tls']),
    startTestServerChild(['--banner', 'SSH-2.0-RookeryTest_1.0']),
  ]);
});
afterAll(async () => {
  await Promise.all([echo?.stop(), bannered?.stop()]);
});

async function tcp(spec: Omit<TcpProbeSpec, 'kind'>): Promise<TcpProbeResult> {
  const r = await runProbe({ kind: 'tcp', ...spec });
  if (r.kind !== 'tcp') throw new Error('wrong kind');
  return r;
}

async function server(onConnection: (s: net.Socket) => void): Promise<{ port: number; close: () => void }> {
  const s = net.createServer(onConnection);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { port: (s.address() as net.AddressInfo).port, close: () => s.close() };
}

describe('tcp probe', () => {
  it('measures connect time', async () => {
    const r = await tcp({ target: echo.tcpEcho });
    expect(r.ok).toBe(true);
    expect(r.metrics.connectMs).toBeGreaterThan(0);
    expect(r.metrics.connectMs).toBeLessThan(r.metrics.totalMs ?? 0);
    expect(r.metrics.remoteAddress).toBe('127.0.0.1');
  });

  it('sends and waits for the expected reply', async () => {
    const r = await tcp({ target: `tcp://${echo.tcpEcho}`, send: 'PING 42\r\n', expect: 'PING 42' });
    expect(r.error).toBeUndefined();
    expect(r.metrics.expectMs).toBeGreaterThan(0);
  });

  it('reads and checks an SSH banner from ssh:// targets', async () => {
    const r = await tcp({ target: `ssh://${bannered.tcpEcho}` });
    expect(r.error).toBeUndefined();
    expect(r.metrics.banner).toBe('SSH-2.0-RookeryTest_1.0');
    expect(r.metrics.bannerMs).toBeGreaterThan(0);
    const wrong = await tcp({ target: bannered.tcpEcho, expectBanner: '^220 ' });
    expect(wrong.error?.code).toBe('unexpected_banner');
    expect(wrong.metrics.banner).toBe('SSH-2.0-RookeryTest_1.0');
  });

  it('does a TLS handshake on tls:// targets', async () => {
    const host = new URL(echo.url).host;
    const r = await tcp({ target: `tls://${host}`, caPem: echo.certificatePem });
    expect(r.error).toBeUndefined();
    expect(r.metrics.tlsMs).toBeGreaterThan(0);
    expect(r.metrics.tls).toMatchObject({ authorized: true, version: 'TLSv1.3' });
    expect((await tcp({ target: `tls://${host}` })).error?.code).toBe('tls_error');
  });

  it('reports refused, timeout and early close', async () => {
    expect((await tcp({ target: `127.0.0.1:${await closedTcpPort()}` })).error?.code).toBe('refused');
    const silent = await server(() => undefined);
    const t = await tcp({ target: `127.0.0.1:${silent.port}`, readBanner: true, timeoutMs: 200 });
    expect(t.error?.code).toBe('timeout');
    expect(t.metrics.connectMs).toBeGreaterThan(0);
    silent.close();
    const closer = await server((s) => s.once('data', () => s.end('nope\n')));
    const c = await tcp({ target: `127.0.0.1:${closer.port}`, send: 'hi', expect: 'yes' });
    expect(c.error?.code).toBe('unexpected_response');
    closer.close();
  });

  it('keeps banners printable and short', () => {
    expect(cleanBanner('SSH-2.0-x\r\nmore')).toBe('SSH-2.0-x');
    expect(cleanBanner('a\u0000b')).toBe('a?b');
    expect(cleanBanner('x'.repeat(500))).toHaveLength(256);
  });
});
