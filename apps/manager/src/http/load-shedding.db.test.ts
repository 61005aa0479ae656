// Past its in-flight cap the manager answers 429 + Retry-After at once (never a timeout or a 5xx).
import { describe, expect, it } from 'vitest';
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
      const r = await app.inject({ method: 'POST', url: '/api/v1/enrollment/enroll', payload: {} });
      expect(r.statusCode).toBe(429);
      expect(r.headers['retry-after']).toBe('1');
      expect(r.json()).toMatchObject({ error: 'overloaded' });
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
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
      const { port } = app.server.address() as { port: number };
      for (let i = 0; i < 5; i++) {
        expect((await fetch(`http://127.0.0.1:${port}/api/v1/auth/me`)).status).toBe(401);
      }
    } finally {
      await app.close();
      await tdb.drop();
    }
  });
});
