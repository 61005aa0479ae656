import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keepAliveAgent, openLoopStep } from './open-loop.js';

describe('openLoopStep', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    // /slow answers after 150 ms, anything else at once
    server = createServer((req, res) => {
      const answer = () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      if (req.url === '/slow') setTimeout(answer, 150);
      else answer();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('gives the p99 of each kind of request, and the overall latency over all of them', async () => {
    const agent = keepAliveAgent(32);
    const s = await openLoopStep(base, agent, 200, 500, (i) =>
      i % 2 ? { kind: 'slow', method: 'GET', path: '/slow' } : { kind: 'fast', method: 'GET', path: '/fast' },
    );
    agent.destroy();
    expect(s.sent).toBe(100);
    expect(s.ok).toBe(100);
    const p = s.p99ByKind as Record<string, number>;
    expect(Object.keys(p).sort()).toEqual(['fast', 'slow']);
    expect(p.slow).toBeGreaterThanOrEqual(150);
    expect(p.fast).toBeLessThan(150);
    expect(s.latency.p99).toBeGreaterThanOrEqual(150);
  });

  it('gives no per-kind latency when the requests name no kind', async () => {
    const agent = keepAliveAgent(8);
    const s = await openLoopStep(base, agent, 100, 200, () => ({ method: 'GET', path: '/fast' }));
    agent.destroy();
    expect(s.ok).toBe(20);
    expect(s.p99ByKind).toBeUndefined();
  });
});
