// Connection pool + Kysely instance for one PostgreSQL database (server or embedded).
import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

// bigint ids travel as strings; counts (int8) too. timestamptz stays Date.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

export type Db = Kysely<Database>;

/**
 * A statement whose SQL text starts with this comment is prepared once per connection (a named statement,
 * named by a hash of its text) instead of being parsed and planned on every execution. For the few hot
 * statements with a fixed text (ingest): a text that varies per call would pile up statements on every
 * connection.
 */
export const PREPARED = '/* rk:prepared */ ';

/** Statement name per marked text, for every connection (the texts are few and fixed). */
const names = new Map<string, string>();

function statementName(text: string): string {
  let name = names.get(text);
  if (!name) names.set(text, (name = `rk_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`));
  return name;
}

/** pg client that runs `PREPARED` texts as named statements (Kysely passes text and values). */
class PreparingClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    // why: a connection checked out of the pool but between statements (inside a transaction, held by a
    // job) receives the server's FATAL on a restart or shutdown as an 'error' event, and an unheard
    // 'error' ends the process (seen when the embedded PostgreSQL was killed). The event needs no action:
    // the next statement on the connection fails (it is not queryable) and the pool drops it on release.
    this.on('error', () => {});
  }

  // pg's overloads cannot be restated; Kysely calls query(text, values)
  override query(...args: unknown[]): never {
    const [text, values] = args;
    const marked = typeof text === 'string' && text.startsWith(PREPARED);
    const call = marked ? [{ name: statementName(text), text, values }] : args;
    const pending = (super.query as unknown as (...a: unknown[]) => unknown)(...call);
    if (Array.isArray(values) && values.length > 0 && pending instanceof Promise) {
      // why: pg's query object keeps the values array after the statement was sent, and here those objects
      // outlive minor GCs: the ingest's binary array parameters (about 100 KB a batch) were freed only by a
      // full GC. Their backing stores piled up to V8's external-memory limit (64 MB), which started a full GC
      // about every half second in B1's mix (ADR 13). Dropping the values once the statement finished lets
      // minor GCs free them. Callers pass arrays they do not reuse (Kysely passes a copy for each call).
      const release = () => values.fill(null);
      pending.then(release, release);
    }
    return pending as never;
  }
}

export interface DatabaseHandle {
  db: Db;
  pool: pg.Pool;
  close(): Promise<void>;
}

/**
 * Each session's settings: the operator's (`PGOPTIONS`, as libpq takes them: `-c name=value …`), then UTC,
 * which they cannot change: date_trunc() buckets must not depend on a time zone.
 */
export const sessionOptions = (pgOptions = '') => `${pgOptions.trim()} -c TimeZone=UTC`.trimStart();

/**
 * Opens a pool of at most `max` connections (default 20), its sessions set by `sessionOptions(pgOptions)`.
 * Never connects eagerly.
 */
export function openDatabase(url: string, max = 20, pgOptions?: string): DatabaseHandle {
  // a request that cannot get a connection within 5 s fails fast (mapped to 429 + Retry-After)
  const pool = new pg.Pool({
    connectionString: url,
    max,
    Client: PreparingClient,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    options: sessionOptions(pgOptions),
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

/**
 * What goes wrong without the server's autovacuum, or undefined when it runs. Retention deletes expired rollup
 * rows and the fold deletes the late results it queued (`rollup_pending`): only VACUUM makes their room usable
 * again, so without it those tables grow for ever, and the planner's statistics (ANALYZE) go stale. It needs
 * `track_counts` too. Both are the server's settings (on by default, and in the embedded engine).
 */
export async function autovacuumProblem(pool: pg.Pool): Promise<string | undefined> {
  const r = await pool.query<{ autovacuum: string; track_counts: string }>(
    "SELECT current_setting('autovacuum') AS autovacuum, current_setting('track_counts') AS track_counts",
  );
  const off = (['autovacuum', 'track_counts'] as const).filter((k) => r.rows[0]?.[k] !== 'on');
  if (!off.length) return undefined;
  return (
    `PostgreSQL's ${off.join(' and ')} ${off.length > 1 ? 'are' : 'is'} off: nothing vacuums the rollup and queue ` +
    'tables, which then grow for ever; turn it on, or run VACUUM (ANALYZE) on this database daily (operator guide)'
  );
}
