// Past its in-flight cap the manager answers 429 + Retry-After at once (never a timeout or a 5xx).
import { once } from 'node:events';
import { connect } from 'node:net';
import { waitFor } from '@rookery/lab/testing';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { DEFAULT_AUTH_SETTINGS } from '../services/context.js';
import { createServices } from '../services/index.js';
import { createTestDatabase } from '../testing/test-db.js';
import { TEST_SECRET_KEY } from '../testing/harness.js';
import { buildServer } from './server.js';

describe('load shedding', () => {
  it('sheds with 429 over the cap and keeps /healthz answering', async () => {
    const tdb = await createTestDatabase();
    const deps = createServices(
      { db: tdb.db, secretKey: TEST_SECRET_KEY, auth: DEFAULT_AUTH_SETTINGS },
      { database: async () => true, jobs: () => ({}) },
    );
    const app = await buildServer(deps, { maxInFlight: 0 });
    try {
      // shedding sits in front of the router, on the real socket
      await app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = app.server.address() as { port: number };
      const base = `http://127.0.0.1:${port}`;
      for (let i = 0; i < 3; i++) {
        // a body the manager never reads must not break the keep-alive connection
        const r = await fetch(`${base}/api/v1/enrollment/enroll`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ pad: 'x'.repeat(100_000) }),
        });
        expect(r.status).toBe(429);
        expect(r.headers.get('retry-after')).toBe('1');
        expect(await r.json()).toEqual({
          error: 'overloaded',
          message: 'the manager is busy; retry shortly',
          details: { retry_after_seconds: 1 },
        });
      }
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      await app.close();
      await tdb.drop();
    }
  });

  it('releases its slot when a request finishes', async () => {
    const tdb = await createTestDatabase();
    const deps = createServices(
      { db: tdb.db, secretKey: TEST_SECRET_KEY, auth: DEFAULT_AUTH_SETTINGS },
      { database: async () => true, jobs: () => ({}) },
    );
    const app = await buildServer(deps, { maxInFlight: 1 });
    try {
      for (let i = 0; i < 5; i++) {
        expect((await app.inject({ method: 'GET', url: '/api/v1/auth/me' })).statusCode).toBe(401);
      }
      // and over a real socket
      await app.listen({ host: '127.0.0.1', port: 0 });
      // an idle keep-alive connection closes before Node's connection checker would call its next
      // request's headers late (that closed in-flight requests under load, bench B2)
      expect(app.server.keepAliveTimeout).toBe(60_000);
      expect(app.server.headersTimeout).toBeGreaterThan(app.server.keepAliveTimeout);
      const { port } = app.server.address() as { port: number };
      for (let i = 0; i < 5; i++) {
        expect((await fetch(`http://127.0.0.1:${port}/api/v1/auth/me`)).status).toBe(401);
      }
      // requests the agent path answers (ADR 9) release it too, and so does an upload cut off mid-body
      const agentHeaders = { authorization: 'Bearer rkd_unknown', 'content-type': 'application/json' };
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/api/v1/enrollment/devices/1/heartbeat`, {
          method: 'POST',
          headers: agentHeaders,
          body: '{}',
        });
        expect(r.status).toBe(401);
        const cut = connect(port, '127.0.0.1');
        await once(cut, 'connect');
        cut.write(
          'POST /api/v1/results/upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer rkd_unknown\r\n' +
            'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"results":[',
        );
        await new Promise((resolve) => setTimeout(resolve, 20));
        cut.destroy();
        await once(cut, 'close');
        await waitFor(
          'the cut-off upload to give its slot back',
          async () => (await fetch(`http://127.0.0.1:${port}/api/v1/auth/me`)).status === 401,
          5000,
        );
      }
    } finally {
      await app.close();
      await tdb.drop();
    }
  });

  it('an open agent stream does not hold a slot once its handshake is done (streams outnumber the cap)', async () => {
    const tdb = await createTestDatabase();
    const deps = createServices(
      { db: tdb.db, secretKey: TEST_SECRET_KEY, auth: DEFAULT_AUTH_SETTINGS },
      { database: async () => true, jobs: () => ({}) },
    );
    const app = await buildServer(deps, { maxInFlight: 2 });
    const sockets: WebSocket[] = [];
    try {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = app.server.address() as { port: number };
      await deps.users.bootstrapAdmin('admin', 'admin-password-for-tests');
      const login = await app.inject({
        method: 'POST',
        url: '/api/v1/auth/login',
        payload: { username: 'admin', password: 'admin-password-for-tests' },
      });
      const token = login.json().access_token as string;
      const auth = { authorization: `Bearer ${token}` };
      const ou = (
        await app.inject({ method: 'POST', url: '/api/v1/ous', headers: auth, payload: { name: 'S' } })
      ).json();
      const secret = (
        await app.inject({
          method: 'POST',
          url: '/api/v1/enrollment/secrets',
          headers: auth,
          payload: { ou_id: ou.id, name: 's' },
        })
      ).json().secret as string;
      const enrolled = (
        await app.inject({
          method: 'POST',
          url: '/api/v1/enrollment/enroll',
          payload: {
            secret,
            device_serial: 'shed-1',
            device_hostname: 'h',
            device_os: 'Linux',
            device_os_version: '6',
            client_type: 't',
            client_version: '1',
          },
        })
      ).json();
      for (let i = 0; i < 4; i++) {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1/agent/stream`, {
          headers: { authorization: `Bearer ${enrolled.device_credential}`, 'x-api-version': '1' },
        });
        sockets.push(ws);
        await new Promise((resolve, reject) => {
          ws.once('message', resolve);
          ws.once('unexpected-response', (_req, res) => reject(new Error(`stream ${i}: ${res.statusCode}`)));
          ws.once('error', reject);
        });
      }
      expect((await fetch(`http://127.0.0.1:${port}/api/v1/auth/me`)).status).toBe(401);
      // a refused upgrade (bad credential) gives its slot back too
      for (let i = 0; i < 3; i++) {
        const bad = new WebSocket(`ws://127.0.0.1:${port}/api/v1/agent/stream`, {
          headers: { authorization: 'Bearer rkd_nope', 'x-api-version': '1' },
        });
        const status = await new Promise<number>((resolve) =>
          bad.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)),
        );
        expect(status).toBe(401);
      }
      expect((await fetch(`http://127.0.0.1:${port}/api/v1/auth/me`)).status).toBe(401);
    } finally {
      for (const s of sockets) s.terminate();
      await app.close();
      await tdb.drop();
    }
  });
});
