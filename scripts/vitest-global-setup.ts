// Vitest global setup: one PostgreSQL (server or embedded) with a migrated template database
// that DB-backed test files clone (CREATE DATABASE … TEMPLATE), so each file starts clean.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../apps/manager/src/db/embedded.js';
import { migrate } from '../apps/manager/src/db/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** admin URL of the test PostgreSQL (its `postgres` database) */
    pgAdminUrl: string;
    /** name of the migrated template database */
    pgTemplate: string;
    /** 'server' or 'embedded' */
    pgEngine: string;
  }
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export default async function setup(project: TestProject) {
  const engine = process.env.ROOKERY_TEST_DB === 'embedded' ? 'embedded' : 'server';
  let embedded: EmbeddedDatabase | undefined;
  let dir: string | undefined;
  let adminUrl = process.env.ROOKERY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  if (engine === 'embedded') {
    dir = await mkdtemp(path.join(tmpdir(), 'rk-embedded-test-'));
    embedded = await startEmbeddedPostgres(dir);
    adminUrl = embedded.url;
  }
  const template = `rk_tpl_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${template}`);
  await admin.query(`CREATE DATABASE ${template}`);
  const pool = new pg.Pool({ connectionString: withDatabase(adminUrl, template), max: 2 });
  await migrate(pool);
  await pool.end();
  await admin.end();
  project.provide('pgAdminUrl', adminUrl);
  project.provide('pgTemplate', template);
  project.provide('pgEngine', engine);

  return async () => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    // test databases left by a crashed file, and the template
    const { rows } = await c.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname LIKE 'rk\\_t\\_${process.pid}\\_%' OR datname = $1`,
      [template],
    );
    for (const r of rows) await c.query(`DROP DATABASE IF EXISTS ${r.datname} WITH (FORCE)`);
    await c.end();
    if (embedded) await embedded.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  };
}
