// Upgrading a database that holds results: migration 0014 re-keys them by device in every partition.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase } from '../testing/test-db.js';
import { loadMigrations, migrate } from './migrate.js';

let db: Awaited<ReturnType<typeof createEmptyDatabase>>;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createEmptyDatabase('upgrade');
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

describe('migration 0014 (results keyed by device)', () => {
  it('keeps every stored result, re-keys each partition, and still refuses a retried result', async () => {
    const all = await loadMigrations();
    await migrate(
      pool,
      all.filter((m) => m.id < 14),
    );
    await pool.query(
      `CREATE TABLE results_20261207 PARTITION OF results FOR VALUES FROM ('2026-12-07') TO ('2026-12-08')`,
    );
    // 3000 results of 7 devices × 5 targets, a minute apart, across the new partition and the default one
    await pool.query(`
      INSERT INTO results (id, device_id, ou_id, kind, target, started_at, duration_ms, ok, metrics)
      SELECT gen_random_uuid(), i % 7, 1, 'tcp', 't' || (i % 5), timestamptz '2026-12-06 12:00Z' + i * interval '1 minute',
        1, true, '{}'
      FROM generate_series(1, 3000) AS i`);
    const before = (
      await pool.query<{ p: string; n: number }>(
        'SELECT tableoid::regclass::text AS p, count(*)::int AS n FROM results GROUP BY 1 ORDER BY 1',
      )
    ).rows;
    expect(before).toEqual([
      { p: 'results_20261207', n: 1440 },
      { p: 'results_default', n: 1560 },
    ]);

    expect(await migrate(pool, all)).toEqual(all.filter((m) => m.id >= 14).map((m) => m.id));
    const after = (
      await pool.query<{ p: string; n: number }>(
        'SELECT tableoid::regclass::text AS p, count(*)::int AS n FROM results GROUP BY 1 ORDER BY 1',
      )
    ).rows;
    expect(after).toEqual(before);
    const indexes = (
      await pool.query<{ t: string; def: string }>(`
        SELECT indrelid::regclass::text AS t, regexp_replace(pg_get_indexdef(indexrelid), '^.* USING ', '') AS def
        FROM pg_index WHERE indrelid IN ('results'::regclass, 'results_default'::regclass, 'results_20261207'::regclass)
        ORDER BY 1, 2`)
    ).rows;
    expect(indexes).toEqual(
      ['results', 'results_20261207', 'results_default'].flatMap((t) => [
        { t, def: 'btree (device_id, started_at, id)' },
        { t, def: 'btree (started_at)' },
      ]),
    );

    // a stored result again (same device, start and id) is a unique violation; on another device it is not
    const { rows } = await pool.query<{ id: string; started_at: Date }>(
      'SELECT id, started_at FROM results WHERE device_id = 3 LIMIT 1',
    );
    const again = `INSERT INTO results (id, device_id, ou_id, kind, target, started_at, duration_ms, ok, metrics)
      VALUES ($1, $2, 1, 'tcp', 't0', $3, 1, true, '{}')`;
    await expect(pool.query(again, [rows[0]?.id, 3, rows[0]?.started_at])).rejects.toMatchObject({ code: '23505' });
    await pool.query(again, [rows[0]?.id, 4, rows[0]?.started_at]);
  });
});
