// Two managers starting at the same moment against one empty PostgreSQL database: migrations once.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ManagerConfig } from './config.js';
import { loadMigrations } from './db/migrate.js';
import { startManager } from './manager.js';

const adminUrl = inject('pgAdminUrl');
const name = `rk_t_${inject('pgTemplate').slice(7)}_mig${randomBytes(3).toString('hex')}`;
const dbUrl = (() => {
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
})();

async function adminQuery(sql: string) {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

beforeAll(() => adminQuery(`CREATE DATABASE ${name}`));
afterAll(() => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));

const config = (): ManagerConfig => ({
  host: '127.0.0.1',
  port: 0,
  dataDir: '/nonexistent',
  databaseUrl: dbUrl,
  dev: false,
  secretKey: 'k'.repeat(40),
  adminUsername: 'admin',
  adminPassword: 'first-admin-password',
  logLevel: 'silent',
});

describe('concurrent start', () => {
  it('runs each migration once and bootstraps one admin', async () => {
    const [a, b] = await Promise.all([startManager(config()), startManager(config())]);
    try {
      const c = new pg.Client({ connectionString: dbUrl });
      await c.connect();
      const mig = await c.query('SELECT id FROM schema_migrations ORDER BY id');
      const users = await c.query('SELECT username FROM users');
      await c.end();
      expect(mig.rows.map((r) => r.id)).toEqual((await loadMigrations()).map((m) => m.id));
      expect(users.rows).toEqual([{ username: 'admin' }]);
      for (const m of [a, b]) {
        const r = await fetch(`${m.url}/healthz`);
        expect(r.status).toBe(200);
      }
      // exactly one replica leads the background jobs
      await new Promise((r) => setTimeout(r, 1500));
      const leaders = await Promise.all(
        [a, b].map(async (m) => ((await (await fetch(`${m.url}/healthz`)).json()) as any).jobs.leader),
      );
      expect(leaders.filter(Boolean)).toHaveLength(1);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
