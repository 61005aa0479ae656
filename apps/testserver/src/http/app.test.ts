// Tests: HTTP routes, speed test, CORS, limits and authentication in process.
import { afterEach, describe, expect, it } from 'vitest';
import { hashSecret } from '../auth.js';
import { type RunningTestServer, startTestServer, type TestServerOptions } from '../index.js';

const running: RunningTestServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function serve(options: TestServerOptions = {}): Promise<string> {
  const s = await startTestServer({
    http: { host: '127.0.0.1', port: 0 },
    tcpEcho: false,
    udpReflector: false,
    ...options,
  });
  running.push(s);
  return s.url as string;
}

describe('probe target routes', () => {
  it('answers /healthz', async () => {
    const res = await fetch(`${await serve()}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok', runningTests: 0 });
  });

  it('echoes method, query, headers and body', async () => {
    const res = await fetch(`${await serve()}/echo?a=1`, { method: 'POST', body: 'hello', headers: { 'x-t': 'v' } });
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ method: 'POST', path: '/echo', query: { a: '1' }, body: 'hello', bodyBytes: 5 });
    expect((body.headers as Record<string, string>)['x-t']).toBe('v');
    expect(body.remoteAddress).toBe('127.0.0.1');
  });

  it('streams exactly the requested bytes', async () => {
    const res = await fetch(`${await serve()}/download?bytes=1234567`);
    expect(res.headers.get('content-length')).toBe('1234567');
    expect((await res.arrayBuffer()).byteLength).toBe(1_234_567);
  });

  it('counts uploads and reports throughput', async () => {
    const res = await fetch(`${await serve()}/upload`, { method: 'POST', body: Buffer.alloc(500_000) });
    const body = (await res.json()) as { bytes: number; bitsPerSecond: number };
    expect(body.bytes).toBe(500_000);
    expect(res.headers.get('x-bytes-received')).toBe('500000');
  });

  it('delays, and answers any status on demand', async () => {
    const url = await serve();
    const start = performance.now();
    const res = await fetch(`${url}/delay?ms=120`);
    expect(await res.json()).toEqual({ delayedMs: 120 });
    expect(performance.now() - start).toBeGreaterThanOrEqual(115);
    expect((await fetch(`${url}/status/418`)).status).toBe(418);
    expect((await fetch(`${url}/status?code=201`)).status).toBe(201);
    expect((await fetch(`${url}/status/204`)).status).toBe(204);
  });

  it('redirects n times', async () => {
    const url = await serve();
    const first = await fetch(`${url}/redirect?n=2`, { redirect: 'manual' });
    expect(first.status).toBe(302);
    expect(first.headers.get('location')).toBe('/redirect?n=1');
    const followed = await fetch(`${url}/redirect?n=2`);
    expect(await followed.json()).toEqual({ redirected: true });
  });

  it('answers bad input with 4xx in the error shape', async () => {
    const url = await serve({ limits: { maxEchoBytes: 100, maxUploadBytes: 1000, maxDownloadBytes: 5000 } });
    const cases: [string, RequestInit, number, string][] = [
      ['/nope', {}, 404, 'not_found'],
      ['/upload', { method: 'GET' }, 405, 'method_not_allowed'],
      ['/download?bytes=5001', {}, 400, 'validation_failed'],
      ['/download?bytes=-1', {}, 400, 'validation_failed'],
      ['/delay?ms=abc', {}, 400, 'validation_failed'],
      ['/status/99', {}, 400, 'validation_failed'],
      ['/status/100', {}, 400, 'validation_failed'],
      ['/status?code=700', {}, 400, 'validation_failed'],
      ['/echo', { method: 'POST', body: 'x'.repeat(101) }, 413, 'body_too_large'],
      ['/upload', { method: 'POST', body: Buffer.alloc(1001) }, 413, 'body_too_large'],
    ];
    for (const [path, init, status, error] of cases) {
      const res = await fetch(`${url}${path}`, init);
      expect([path, res.status]).toEqual([path, status]);
      const body = (await res.json()) as { error: string; message: string; details: unknown };
      expect(body.error).toBe(error);
      expect(typeof body.message).toBe('string');
      expect(body.details).toBeTypeOf('object');
    }
  });
});

describe('browser speed test and CORS', () => {
  it('serves ping/info/download/upload with CORS and timing headers', async () => {
    const url = await serve();
    const ping = await fetch(`${url}/speedtest/ping`, { headers: { origin: 'http://console.test' } });
    expect(await ping.text()).toBe('pong');
    expect(ping.headers.get('access-control-allow-origin')).toBe('*');
    expect(ping.headers.get('timing-allow-origin')).toBe('*');
    expect(ping.headers.get('cache-control')).toBe('no-store');
    const info = (await (await fetch(`${url}/speedtest/info`)).json()) as Record<string, unknown>;
    expect(info).toMatchObject({ server: 'rookery-testserver', clientAddress: '127.0.0.1', tls: false });
    expect((await (await fetch(`${url}/speedtest/download?bytes=1000`)).arrayBuffer()).byteLength).toBe(1000);
    const up = await fetch(`${url}/speedtest/upload`, { method: 'POST', body: Buffer.alloc(2000) });
    expect(((await up.json()) as { bytes: number }).bytes).toBe(2000);
  });

  it('answers preflight and honours an origin allow-list', async () => {
    const url = await serve({ corsOrigins: ['http://console.test'] });
    const pre = await fetch(`${url}/speedtest/upload`, {
      method: 'OPTIONS',
      headers: { origin: 'http://console.test', 'access-control-request-method': 'POST' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://console.test');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    expect(pre.headers.get('vary')).toBe('Origin');
    const other = await fetch(`${url}/speedtest/ping`, { headers: { origin: 'http://evil.test' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('limits', () => {
  it('rate-limits per client with 429 and Retry-After, never /healthz', async () => {
    const url = await serve({ limits: { requestsPerSecond: 1, requestBurst: 3 } });
    const codes = [];
    for (let i = 0; i < 4; i++) codes.push((await fetch(`${url}/speedtest/ping`)).status);
    expect(codes).toEqual([200, 200, 200, 429]);
    const limited = await fetch(`${url}/echo`);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(((await limited.json()) as { error: string }).error).toBe('rate_limited');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('refuses tests beyond maxConcurrentTests with 503', async () => {
    const url = await serve({ limits: { maxConcurrentTests: 1 } });
    const slow = fetch(`${url}/delay?ms=400`);
    await new Promise((r) => setTimeout(r, 100));
    const busy = await fetch(`${url}/download?bytes=10`);
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('1');
    expect((await slow).status).toBe(200);
    expect((await fetch(`${url}/download?bytes=10`)).status).toBe(200);
  });
});

describe('authentication', () => {
  const auth = {
    serverKeySha256: [hashSecret('server-key-1')],
    deviceCredentialSha256: { dev1: hashSecret('cred-1') },
  };

  it('accepts a server key or a device credential and nothing else', async () => {
    const url = await serve({ auth });
    const status = async (headers: Record<string, string>) =>
      (await fetch(`${url}/speedtest/ping`, { headers })).status;
    expect(await status({})).toBe(401);
    expect(await status({ authorization: 'Bearer server-key-1' })).toBe(200);
    expect(await status({ 'x-server-key': 'server-key-1' })).toBe(200);
    expect(await status({ authorization: 'Bearer server-key-2' })).toBe(401);
    expect(await status({ 'x-device-id': 'dev1', authorization: 'Bearer cred-1' })).toBe(200);
    expect(await status({ 'x-device-id': 'dev1', authorization: 'Bearer server-key-1' })).toBe(401);
    expect(await status({ 'x-device-id': 'dev2', authorization: 'Bearer cred-1' })).toBe(401);
    const denied = await fetch(`${url}/echo`);
    expect(await denied.json()).toEqual({ error: 'unauthorized', message: 'missing credentials', details: {} });
  });

  it('leaves /healthz and CORS preflight open', async () => {
    const url = await serve({ auth });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/echo`, { method: 'OPTIONS', headers: { origin: 'http://c.test' } })).status).toBe(204);
  });
});
