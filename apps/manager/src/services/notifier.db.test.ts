// Cross-replica notifications: what is sent within the batch window goes out in one statement, in
// order, to every listener (this replica's too); a stop still sends what was queued.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/test-db.js';
import { Notifier } from './notifier.js';

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase();
});
afterAll(() => tdb.drop());

/** Counts the statements the pool runs. */
function countQueries(pool: TestDatabase['pool']) {
  const query = pool.query.bind(pool) as (...a: unknown[]) => Promise<unknown>;
  const counter = { n: 0 };
  (pool as unknown as { query: (...a: unknown[]) => Promise<unknown> }).query = (...a: unknown[]) => {
    counter.n++;
    return query(...a);
  };
  return counter;
}

const until = async (cond: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !cond();) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('Notifier', () => {
  it('sends what is notified within the window in one statement, in order, to every listener', async () => {
    const counter = countQueries(tdb.pool);
    const a = new Notifier(tdb.url, tdb.pool, undefined, 50);
    const b = new Notifier(tdb.url, tdb.pool, undefined, 50);
    const seenA: unknown[] = [];
    const seenB: unknown[] = [];
    await a.listen('rk_test', (p) => seenA.push(p));
    await b.listen('rk_test', (p) => seenB.push(p));
    await Promise.all([a.start(), b.start()]);
    try {
      const before = counter.n;
      await Promise.all(Array.from({ length: 20 }, (_, i) => a.notify('rk_test', { i })));
      expect(counter.n - before).toBe(1);
      await until(() => seenA.length === 20 && seenB.length === 20);
      expect(seenB).toEqual(Array.from({ length: 20 }, (_, i) => ({ i })));
      expect(seenA).toEqual(seenB);

      // stopping sends what is still waiting for the window
      const last = a.notify('rk_test', { i: 'last' });
      await a.stop();
      await last;
      await until(() => seenB.length === 21);
      expect(seenB[20]).toEqual({ i: 'last' });
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('after the listening connection is lost it listens again and reports the gap once (caches to drop)', async () => {
    const n = new Notifier(tdb.url, tdb.pool, () => {}, 5);
    const seen: unknown[] = [];
    let resyncs = 0;
    n.onResync(() => resyncs++);
    await n.listen('rk_gap', (p) => seen.push(p));
    await n.start();
    try {
      expect(resyncs).toBe(0);
      await tdb.pool.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN rk_gap' AND datname = current_database()",
      );
      await until(() => resyncs === 1, 10_000);
      await n.notify('rk_gap', { after: true });
      await until(() => seen.length === 1);
      expect(seen).toEqual([{ after: true }]);
      expect(resyncs).toBe(1);
    } finally {
      await n.stop();
    }
  });
});
