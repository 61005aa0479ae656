// smallFetch against a local server: status, headers, body, no redirect following, aborts.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { smallFetch } from './http-fetch.js';

let server: Server;
let base = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.url === '/slow') return void setTimeout(() => res.end('late'), 2000);
      if (req.url === '/redirect') {
        res.writeHead(302, { location: '/elsewhere' });
        return void res.end();
      }
      res.writeHead(req.url === '/busy' ? 429 : 200, { 'retry-after': '3', 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, body, auth: req.headers.authorization ?? null }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((r) => server.close(r)));

describe('smallFetch', () => {
  it('sends method, headers and body; reads status, headers and JSON', async () => {
    const r = await smallFetch(`${base}/x`, {
      method: 'POST',
      headers: { authorization: 'Bearer t' },
      body: '{"a":1}',
    });
    expect(r.ok).toBe(true);
    expect(await r.json()).toEqual({ method: 'POST', body: '{"a":1}', auth: 'Bearer t' });
    expect(r.headers.get('Retry-After')).toBe('3');
    expect(r.headers.get('x-missing')).toBeNull();
  });

  it('reports HTTP errors as responses and does not follow redirects', async () => {
    expect((await smallFetch(`${base}/busy`)).status).toBe(429);
    const r = await smallFetch(`${base}/redirect`);
    expect(r.status).toBe(302);
    expect(r.ok).toBe(false);
  });

  it('rejects on abort and on refused connections', async () => {
    await expect(smallFetch(`${base}/slow`, { signal: AbortSignal.timeout(50) })).rejects.toThrow();
    await expect(smallFetch('http://127.0.0.1:1/')).rejects.toThrow(/ECONNREFUSED/);
  });
});
