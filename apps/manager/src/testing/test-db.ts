// Per-test-file database cloned from the migrated template that the global setup made.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { type DatabaseHandle, openDatabase } from '../db/database.js';

export interface TestDatabase extends DatabaseHandle {
  url: string;
  /** close the pool and drop the database */
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Runs one statement on the admin database of the test server. */
async function adminQuery(statement: string): Promise<void> {
  const c = new pg.Client({ connectionString: inject('pgAdminUrl') });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

/** A database name of this test run (`rk_t_<run>_…`, swept with the run's template). */
const runDatabaseName = (tag = '') =>
  `rk_t_${inject('pgTemplate').slice('rk_tpl_'.length)}_${tag}${randomBytes(4).toString('hex')}`;

/** Creates a fresh, migrated database for one test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = runDatabaseName();
  await adminQuery(`CREATE DATABASE ${name} TEMPLATE ${inject('pgTemplate')}`);
  const url = withDatabase(inject('pgAdminUrl'), name);
  const handle = openDatabase(url);
  return {
    ...handle,
    url,
    async drop() {
      await handle.close();
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** Creates an empty database (no migrations applied): its URL, and `drop` to drop it. */
export async function createEmptyDatabase(tag: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = runDatabaseName(tag);
  await adminQuery(`CREATE DATABASE ${name}`);
  return {
    url: withDatabase(inject('pgAdminUrl'), name),
    drop: () => adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
