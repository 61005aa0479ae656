// Connection pool + Kysely instance for one PostgreSQL database (server or embedded).
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

// bigint ids travel as strings; counts (int8) too. timestamptz stays Date.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

export type Db = Kysely<Database>;

export interface DatabaseHandle {
  db: Db;
  pool: pg.Pool;
  close(): Promise<void>;
}

/** Opens a pool of at most `max` connections (default 20). Never connects eagerly. */
export function openDatabase(url: string, max = 20): DatabaseHandle {
  // UTC sessions: date_trunc() buckets must not depend on the server's time zone
  // a request that cannot get a connection within 5 s fails fast (mapped to 429 + Retry-After)
  const pool = new pg.Pool({
    connectionString: url,
    max,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    options: '-c TimeZone=UTC',
  });
  // an idle client losing its server must not crash the process; the next query reconnects
  pool.on('error', () => {});
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    pool,
    async close() {
      await db.destroy();
    },
  };
}
