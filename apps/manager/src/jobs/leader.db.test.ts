// Job leadership survives the server ending the leader's held connection between queries.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/test-db.js';
import { LeaderLoop } from './leader.js';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

const until = async (cond: () => boolean | Promise<boolean>, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('LeaderLoop', () => {
  it('a terminated leader session is an error it reports, not a crash; leadership is taken again', async () => {
    const pool = new pg.Pool({ connectionString: t.url, max: 4 });
    pool.on('error', () => {});
    const errors: string[] = [];
    let runs = 0;
    const loop = new LeaderLoop(pool, [{ name: 'count', everyMs: 10, run: async () => void runs++ }], 50, (job) =>
      errors.push(job),
    );
    // what an 'error' event nobody listens to becomes: the end of a manager process
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    loop.start();
    try {
      await until(() => runs > 0);
      // the backend that holds the advisory lock (an idle session between the loop's queries)
      const holder = await t.pool.query<{ pid: number }>(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
      );
      expect(holder.rows).toHaveLength(1);
      await t.pool.query('SELECT pg_terminate_backend($1)', [holder.rows[0]?.pid]);
      await until(() => errors.includes('leader'));
      const before = runs;
      await until(() => runs > before && loop.status().leader === true);
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      await loop.stop();
      await pool.end();
    }
  });

  it('a long job does not hold up the others, is not started twice, and stop waits for it', async () => {
    const pool = new pg.Pool({ connectionString: t.url, max: 4 });
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    let slowRuns = 0;
    let slowDone = false;
    let quick = 0;
    const loop = new LeaderLoop(
      pool,
      [
        {
          name: 'slow',
          everyMs: 10,
          run: async () => {
            slowRuns++;
            await held;
            slowDone = true;
          },
        },
        { name: 'quick', everyMs: 10, run: async () => void quick++ },
      ],
      50,
    );
    loop.start();
    try {
      await until(() => quick >= 5);
      expect(slowRuns).toBe(1);
      const stopped = loop.stop();
      release();
      await stopped;
      expect(slowDone).toBe(true);
    } finally {
      release();
      await loop.stop();
      await pool.end();
    }
  });
});
