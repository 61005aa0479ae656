// Statements marked PREPARED run as named statements, prepared once per connection; others are not kept.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/test-db.js';
import { autovacuumProblem, openDatabase, PREPARED, sessionOptions } from './database.js';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

describe('PREPARED statements', () => {
  it('prepares a marked statement once per connection and reuses it with other values', async () => {
    const h = openDatabase(t.url, 1);
    try {
      const q = (n: number) => sql<{ v: number }>`${sql.raw(PREPARED)}SELECT ${n}::int * 2 AS v`.execute(h.db);
      const seen: number[] = [];
      for (let i = 0; i < 8; i++) seen.push(((await q(i)).rows[0] as { v: number }).v);
      expect(seen).toEqual([0, 2, 4, 6, 8, 10, 12, 14]);
      await sql`SELECT 1`.execute(h.db);
      const r = await sql<{ statement: string; n: string }>`
        SELECT statement, (generic_plans + custom_plans)::text AS n FROM pg_prepared_statements`.execute(h.db);
      expect(r.rows).toHaveLength(1);
      expect(r.rows[0]?.statement.startsWith(PREPARED)).toBe(true);
      expect(r.rows[0]?.n).toBe('8');
    } finally {
      await h.close();
    }
  });

  it('an error in a prepared statement leaves the connection usable and the statement prepared', async () => {
    const h = openDatabase(t.url, 1);
    try {
      const q = (x: string) => sql<{ v: number }>`${sql.raw(PREPARED)}SELECT ${x}::int AS v`.execute(h.db);
      expect((await q('5')).rows[0]?.v).toBe(5);
      await expect(q('not a number')).rejects.toMatchObject({ code: '22P02' });
      expect((await q('7')).rows[0]?.v).toBe(7);
      // inside a transaction too: the transaction fails, the next one runs the statement again
      const inTx = h.db.transaction().execute((tx) => sql`${sql.raw(PREPARED)}SELECT ${'x'}::int AS v`.execute(tx));
      await expect(inTx).rejects.toMatchObject({ code: '22P02' });
      expect((await q('9')).rows[0]?.v).toBe(9);
    } finally {
      await h.close();
    }
  });
});

describe('session settings', () => {
  it("take the operator's PGOPTIONS, but the time zone stays UTC", async () => {
    const h = openDatabase(t.url, 1, ' -c work_mem=5MB -c TimeZone=Europe/Berlin ');
    try {
      const r = await sql<{ w: string; z: string }>`SELECT current_setting('work_mem') AS w,
        current_setting('TimeZone') AS z`.execute(h.db);
      expect(r.rows[0]).toEqual({ w: '5MB', z: 'UTC' });
    } finally {
      await h.close();
    }
  });
  it('are UTC alone without PGOPTIONS', () => {
    expect(sessionOptions()).toBe('-c TimeZone=UTC');
    expect(sessionOptions('  ')).toBe('-c TimeZone=UTC');
  });
});

describe('autovacuum', () => {
  it("is reported off as the server has it, and track_counts when the sessions' PGOPTIONS turn it off", async () => {
    const plain = openDatabase(t.url, 1);
    const uncounted = openDatabase(t.url, 1, '-c track_counts=off');
    try {
      const r = await plain.pool.query<{ on: boolean }>("SELECT current_setting('autovacuum') = 'on' AS on");
      const serverOn = r.rows[0]?.on;
      // the server's setting is the machine's: each branch runs where the server has it so
      if (serverOn) expect(await autovacuumProblem(plain.pool)).toBeUndefined();
      else expect(await autovacuumProblem(plain.pool)).toMatch(/^PostgreSQL's autovacuum is off: nothing vacuums /);
      expect(await autovacuumProblem(uncounted.pool)).toMatch(
        serverOn ? /^PostgreSQL's track_counts is off: / : /^PostgreSQL's autovacuum and track_counts are off: /,
      );
    } finally {
      await Promise.all([plain.close(), uncounted.close()]);
    }
  });
});

describe('statement values', () => {
  it('are let go once the statement finished, after being sent intact, whether it succeeded or failed', async () => {
    const h = openDatabase(t.url, 1);
    const client = await h.pool.connect();
    try {
      const bytes = Buffer.alloc(90_000, 7);
      const values: unknown[] = [bytes, 'x'];
      const r = await client.query<{ n: number; s: number; t: string }>(
        'SELECT length($1::bytea) AS n, get_byte($1::bytea, 89999) AS s, $2::text AS t',
        values,
      );
      expect(r.rows[0]).toEqual({ n: 90_000, s: 7, t: 'x' });
      expect(values).toEqual([null, null]);

      const failing: unknown[] = [bytes, 'not a number'];
      await expect(client.query(`${PREPARED}SELECT $1::bytea, $2::int`, failing)).rejects.toMatchObject({
        code: '22P02',
      });
      expect(failing).toEqual([null, null]);

      // the connection goes on; with a callback pg returns nothing and the values stay the caller's
      const kept: unknown[] = [3];
      const n = await new Promise<number>((resolve, reject) =>
        client.query('SELECT $1::int + 1 AS n', kept, (err: Error | undefined, res: { rows: { n: number }[] }) =>
          err ? reject(err) : resolve((res.rows[0] as { n: number }).n),
        ),
      );
      expect(n).toBe(4);
      expect(kept).toEqual([3]);
    } finally {
      client.release();
      await h.close();
    }
  });
});

describe('a connection the server ends', () => {
  it('between two statements of a transaction: the transaction fails, the process lives on, the pool recovers', async () => {
    const h = openDatabase(t.url, 2);
    const killer = openDatabase(t.url, 1);
    const unhandled: unknown[] = [];
    const onUncaught = (err: unknown) => unhandled.push(err);
    process.prependListener('uncaughtException', onUncaught);
    try {
      const tx = h.db.transaction().execute(async (trx) => {
        const pid = (await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(trx)).rows[0]?.pid;
        // the server ends this session while it sits idle in the transaction, as on a restart
        await sql`SELECT pg_terminate_backend(${pid}::int)`.execute(killer.db);
        await new Promise((r) => setTimeout(r, 200));
        await sql`SELECT 1`.execute(trx);
      });
      await expect(tx).rejects.toThrow();
      expect(unhandled).toEqual([]);
      // the broken connection left the pool: the next statements run on a new one
      for (let i = 0; i < 3; i++) expect((await sql<{ v: number }>`SELECT 1 AS v`.execute(h.db)).rows[0]?.v).toBe(1);
    } finally {
      process.off('uncaughtException', onUncaught);
      await killer.close();
      await h.close();
    }
  });
});
