// Forward-only numbered SQL migrations, serialised across managers by an advisory lock.
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';

/** Set by the bundle's build (scripts/build-app.mjs): where the SQL files are from the bundle. */
declare const ROOKERY_BUNDLED_MIGRATIONS: string | undefined;
const MIGRATIONS_DIR = fileURLToPath(
  new URL(
    typeof ROOKERY_BUNDLED_MIGRATIONS === 'string' ? ROOKERY_BUNDLED_MIGRATIONS : './migrations/',
    import.meta.url,
  ),
);
/** Advisory-lock key shared by every manager that migrates this database. */
const MIGRATION_LOCK = 727_001;

export interface Migration {
  /** numeric prefix of the file name, e.g. 1 for `0001_accounts.sql` */
  id: number;
  name: string;
  sql: string;
}

/** Reads `migrations/NNNN_name.sql` in id order. Throws on a malformed or duplicate number. */
export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const out: Migration[] = [];
  for (const file of files) {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(file);
    if (!m) throw new Error(`migration file name not of the form NNNN_name.sql: ${file}`);
    const id = Number(m[1]);
    if (out.some((x) => x.id === id)) throw new Error(`duplicate migration number ${id}`);
    out.push({ id, name: m[2] ?? file, sql: await readFile(dir + file, 'utf8') });
  }
  return out;
}

/**
 * Applies pending migrations, each in its own transaction. A second manager starting at the same
 * moment waits on the lock, then finds nothing left to do.
 * @returns the ids applied by this call (empty when another migrator got there first)
 */
export async function migrate(pool: pg.Pool, migrations?: Migration[]): Promise<number[]> {
  const all = migrations ?? (await loadMigrations());
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const done = new Set(
      (await client.query<{ id: number }>('SELECT id FROM schema_migrations')).rows.map((r) => r.id),
    );
    const newest = Math.max(0, ...done);
    const known = Math.max(0, ...all.map((m) => m.id));
    if (newest > known) {
      throw new Error(
        `database is at migration ${newest}, newer than this manager knows (${known}); upgrade the manager`,
      );
    }
    for (const m of all) {
      if (done.has(m.id)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (id, name) VALUES ($1, $2)', [m.id, m.name]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.id} (${m.name}) failed: ${(err as Error).message}`);
      }
      applied.push(m.id);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
  return applied;
}
