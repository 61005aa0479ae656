// Tests: http probe against the test server as a separate process (HTTP/1.1, h2, TLS, failures).
import net from 'node:net';
import type { HttpProbeResult, HttpProbeSpec } from '@rookery/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProbe } from './index.js';
import { closedTcpPort, startTestServerChild, type TestServerChild } from './testing/testserver-child.js';

let plain: TestServerChild;
let secure: TestServerChild;

beforeAll(async () => {
  [plain, secure] = await Promise.all([startTestServerChild(), startTestServerChild(['--tls'])]);
});
afterAll(async () => {
  await Promise.all([plain?.stop(), secure?.stop()]);
});

async function http(spec: Omit<HttpProbeSpec, 'kind'>): Promise<HttpProbeResult> {
  const r = await runProbe({ kind: 'http', ...spec });
  if (r.kind !== 'http') throw new Error('wrong kind');
  return r;
}

/** A one-shot TCP server that answers every connection with `reply` and then acts per `then`. */
async function rawServer(reply: string, then: 'destroy' | 'end'): Promise<{ port: number; close: () => void }> {
  const server = net.createServer((s) => {
    s.once('data', () => {
      s.write(reply);
      if (then === 'destroy') setTimeout(() => s.resetAndDestroy(), 20);
      else s.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

describe('http probe over HTTP/1.1', () => {
  it('measures the phases of a GET', async () => {
    const r = await http({ target: `${plain.url}/echo` });
    expect(r.ok).toBe(true);
    const m = r.metrics;
    expect(m).toMatchObject({ status: 200, httpVersion: '1.1', redirects: 0, remoteAddress: '127.0.0.1' });
    expect(m.dnsMs).toBeUndefined(); // IP literal: no lookup
    expect(m.tlsMs).toBeUndefined();
    expect(m.connectMs).toBeGreaterThan(0);
    expect(m.ttfbMs).toBeGreaterThan(0);
    expect(m.transferMs).toBeGreaterThanOrEqual(0);
    const phases = (m.connectMs ?? 0) + (m.ttfbMs ?? 0) + (m.transferMs ?? 0);
    expect(m.totalMs).toBeGreaterThanOrEqual(phases - 0.01);
    expect(m.headers?.['content-type']).toContain('application/json');
    expect(m.bytes).toBeGreaterThan(50);
  });

  it('times the lookup of a host name', async () => {
    const r = await http({ target: `${plain.url.replace('127.0.0.1', 'localhost')}/echo`, ipFamily: 4 });
    expect(r.ok).toBe(true);
    expect(r.metrics.dnsMs).toBeGreaterThan(0);
  });

  it('counts body bytes and throughput of a download', async () => {
    const r = await http({ target: `${plain.url}/download?bytes=3000000` });
    expect(r.metrics.bytes).toBe(3_000_000);
    expect(r.metrics.bitsPerSecond).toBeGreaterThan(1e6);
  });

  it('sends a body and checks body, regex and header expectations', async () => {
    const ok = await http({
      target: `${plain.url}/echo`,
      method: 'POST',
      body: 'hello rookery',
      expectBodyContains: '"body":"hello rookery"',
      expectBodyRegex: '"method":"POST"',
      expectHeaders: { 'Content-Type': 'json' },
    });
    expect(ok.error).toBeUndefined();
    const body = await http({ target: `${plain.url}/echo`, expectBodyContains: 'absent-text' });
    expect(body.error?.code).toBe('unexpected_body');
    const header = await http({ target: `${plain.url}/echo`, expectHeaders: { 'x-missing': 'a' } });
    expect(header.error?.code).toBe('unexpected_header');
    const badRegex = await http({ target: `${plain.url}/echo`, expectBodyRegex: '(' });
    expect(badRegex.error?.code).toBe('invalid_spec');
  });

  it('reports an unexpected status, and accepts it when expected', async () => {
    const r = await http({ target: `${plain.url}/status/503` });
    expect(r.error).toEqual({ code: 'unexpected_status', message: 'status 503, expected 200–399' });
    expect(r.metrics.status).toBe(503);
    expect((await http({ target: `${plain.url}/status/503`, expectStatus: [503] })).ok).toBe(true);
  });

  it('follows redirects up to the bound', async () => {
    const r = await http({ target: `${plain.url}/redirect?n=3` });
    expect(r.ok).toBe(true);
    expect(r.metrics.redirects).toBe(3);
    expect(r.metrics.finalUrl).toBe(`${plain.url}/redirect?n=0`);
    expect(r.metrics.redirectMs).toBeGreaterThan(0);
    const tooMany = await http({ target: `${plain.url}/redirect?n=3`, maxRedirects: 2 });
    expect(tooMany.error?.code).toBe('too_many_redirects');
    expect(tooMany.metrics.redirects).toBe(2);
    const none = await http({ target: `${plain.url}/redirect?n=3`, maxRedirects: 0 });
    expect(none.ok).toBe(true);
    expect(none.metrics).toMatchObject({ status: 302, redirects: 0 });
  });

  it('reads no body for HEAD', async () => {
    const r = await http({ target: `${plain.url}/download?bytes=5000`, method: 'HEAD' });
    expect(r.ok).toBe(true);
    expect(r.metrics.bytes).toBe(0);
    expect(r.metrics.headers?.['content-length']).toBe('5000');
  });

  it('times out on a slow server, keeping the phases it saw', async () => {
    const r = await http({ target: `${plain.url}/delay?ms=3000`, timeoutMs: 300 });
    expect(r.error?.code).toBe('timeout');
    expect(r.durationMs).toBeLessThan(1500);
    expect(r.metrics.connectMs).toBeGreaterThan(0);
    expect(r.metrics.status).toBeUndefined();
  });

  it('stops when the caller aborts', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const r = await runProbe({ kind: 'http', target: `${plain.url}/delay?ms=3000` }, { signal: controller.signal });
    expect(r.error?.code).toBe('aborted');
    expect(r.durationMs).toBeLessThan(1500);
  });

  it('reports refused, reset and malformed responses', async () => {
    const port = await closedTcpPort();
    expect((await http({ target: `http://127.0.0.1:${port}/` })).error?.code).toBe('refused');
    const reset = await rawServer('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npartial', 'destroy');
    const r = await http({ target: `http://127.0.0.1:${reset.port}/` });
    reset.close();
    expect(r.error?.code).toBe('reset');
    expect(r.metrics.status).toBe(200);
    const garbage = await rawServer('SSH-2.0-not-http\r\n', 'end');
    const g = await http({ target: `http://127.0.0.1:${garbage.port}/` });
    garbage.close();
    expect(g.error?.code).toBe('protocol_error');
  });

  it('refuses invalid targets', async () => {
    expect((await http({ target: 'ftp://127.0.0.1/' })).error?.code).toBe('invalid_target');
    const r = await runProbe({ kind: 'http', target: `${plain.url}/`, maxRedirects: 99 });
    expect(r.error?.code).toBe('invalid_spec');
    expect(r.error?.message).toContain('/maxRedirects');
  });
});

describe('http probe over TLS', () => {
  it('negotiates h2 by ALPN and reports the certificate', async () => {
    const r = await http({ target: `${secure.url}/download?bytes=200000`, caPem: secure.certificatePem });
    expect(r.error).toBeUndefined();
    const m = r.metrics;
    expect(m).toMatchObject({ status: 200, httpVersion: '2', alpn: 'h2', bytes: 200_000 });
    expect(m.tlsMs).toBeGreaterThan(0);
    expect(m.tls).toMatchObject({ version: 'TLSv1.3', authorized: true, certSubject: 'localhost' });
    expect(m.tls?.certDaysLeft).toBeGreaterThan(29);
    expect(m.tls?.certDaysLeft).toBeLessThanOrEqual(30);
  });

  it('speaks HTTP/1.1 when only that is offered', async () => {
    const r = await http({ target: `${secure.url}/echo`, caPem: secure.certificatePem, alpn: ['http/1.1'] });
    expect(r.metrics).toMatchObject({ httpVersion: '1.1', alpn: 'http/1.1', status: 200 });
  });

  it('fails on an untrusted certificate unless told to accept it', async () => {
    const r = await http({ target: `${secure.url}/echo` });
    expect(r.error?.code).toBe('tls_error');
    expect(r.metrics.connectMs).toBeGreaterThan(0);
    const insecure = await http({ target: `${secure.url}/echo`, tlsInsecure: true });
    expect(insecure.ok).toBe(true);
    expect(insecure.metrics.tls).toMatchObject({
      authorized: false,
      authorizationError: 'DEPTH_ZERO_SELF_SIGNED_CERT',
    });
  });

  it('follows redirects over h2', async () => {
    const r = await http({ target: `${secure.url}/redirect?n=2`, caPem: secure.certificatePem });
    expect(r.metrics).toMatchObject({ redirects: 2, status: 200, httpVersion: '2' });
  });
});
