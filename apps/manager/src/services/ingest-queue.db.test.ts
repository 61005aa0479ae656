// Group commit of uploads and the rollup fold: many uploads share transactions, every result is stored
// and rolled up exactly once, and one upload the database refuses fails alone.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DeviceRow, findDeviceByCredential } from '../db/queries/devices.js';
import type { IngestRow, ResultRowIn } from '../db/queries/results.js';
import { foldPendingRollups } from '../jobs/rollup-fold.js';
import { createHarness, type Harness } from '../testing/harness.js';
import { resultRow } from '../testing/result-rows.js';
import { sha256 } from './crypto.js';
import { IngestQueue } from './ingest-queue.js';

let h: Harness;
const devices: DeviceRow[] = [];
beforeAll(async () => {
  h = await createHarness();
  const secret = (await h.createSecret(await h.createOu('Ingest'))).secret;
  for (let i = 0; i < 3; i++) {
    const e = await h.enroll(secret, `iq-${i}`);
    devices.push((await findDeviceByCredential(h.tdb.db, sha256(e.body.device_credential))) as DeviceRow);
  }
});
afterAll(() => h.close());

// yesterday noon UTC: late for the rollups, in an hour and a day summed already, so all three granularities
// take the results at once
const base = Math.floor(Date.now() / 86_400_000) * 86_400_000 - 12 * 3_600_000;
const row = (target: string, i: number, latency: number): ResultRowIn =>
  resultRow({ target, at: base + i * 1000, latency });

const of = (d: DeviceRow | undefined, rows: ResultRowIn[]): IngestRow[] =>
  rows.map((r) => ({ ...r, device_id: (d as DeviceRow).id, ou_id: (d as DeviceRow).ou_id }));

const count = async (q: string) => Number((await sql<{ n: string }>`${sql.raw(q)}`.execute(h.tdb.db)).rows[0]?.n);

describe('IngestQueue', () => {
  it('stores concurrent uploads of several devices once each, retries included, in fewer transactions', async () => {
    const q = new IngestQueue(h.tdb.db, undefined, { writers: 1, batchRows: 1000 });
    const uploads = Array.from({ length: 30 }, (_, u) =>
      Array.from({ length: 5 }, (_, k) => row(`t${k}`, u * 5 + k, 1 + ((u + k) % 7))),
    );
    const x0 = await count('SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()');
    // every upload twice at once (a retry racing its original), spread over three devices
    const answers = await Promise.all(
      uploads.flatMap((rows, u) => [0, 1].map(() => q.submit(devices[u % 3] as DeviceRow, of(devices[u % 3], rows)))),
    );
    const x1 = await count('SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()');
    expect(answers.reduce((n, a) => n + a.fresh.length, 0)).toBe(150);
    // of each pair, exactly one stored the rows
    for (let u = 0; u < 30; u++) {
      expect([answers[2 * u]?.fresh.length, answers[2 * u + 1]?.fresh.length].sort()).toEqual([0, 5]);
    }
    expect(await count('SELECT count(*) AS n FROM results')).toBe(150);
    // 60 submissions; the statistics counter may lag a little, so only an upper bound is asserted
    expect(x1 - x0).toBeLessThan(40);

    // two folds racing each other: every queued result rolled up once
    const [a, b] = await Promise.all([foldPendingRollups(h.tdb.db, 40), foldPendingRollups(h.tdb.db, 40)]);
    expect(a + b).toBe(150);
    expect(await count('SELECT count(*) AS n FROM rollup_pending')).toBe(0);
    for (const g of ['minute', 'hour', 'day']) {
      expect(await count(`SELECT sum(count) AS n FROM result_rollups WHERE granularity = '${g}'`)).toBe(150);
      // the histogram holds every latency once
      expect(await count(`SELECT sum(x) AS n FROM result_rollups, unnest(hist) AS x WHERE granularity = '${g}'`)).toBe(
        150,
      );
    }
    const hour = await sql<{ lat_min: number; lat_max: number; n: number }>`
      SELECT min(lat_min) AS lat_min, max(lat_max) AS lat_max, sum(lat_count)::int AS n FROM result_rollups
      WHERE granularity = 'hour'`.execute(h.tdb.db);
    expect(hour.rows[0]).toEqual({ lat_min: 1, lat_max: 7, n: 150 });
    expect(await foldPendingRollups(h.tdb.db)).toBe(0);
  });

  it('an upload the database refuses fails alone; the others in its transaction are stored', async () => {
    await sql`CREATE FUNCTION rk_test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.target = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF; RETURN NEW; END $$`.execute(h.tdb.db);
    await sql`CREATE TRIGGER rk_test_poison BEFORE INSERT ON results FOR EACH ROW EXECUTE FUNCTION rk_test_poison()`.execute(
      h.tdb.db,
    );
    try {
      const q = new IngestQueue(h.tdb.db, undefined, { writers: 1, batchRows: 1000 });
      const before = await count('SELECT count(*) AS n FROM results');
      const good = [row('ok-a', 0, 1), row('ok-b', 1, 2)];
      const bad = [row('poison', 2, 3)];
      // the first write takes the first upload alone; the next three queue up and share one transaction
      const results = await Promise.allSettled([
        q.submit(devices[0] as DeviceRow, of(devices[0], [row('ok-0', 3, 1)])),
        q.submit(devices[0] as DeviceRow, of(devices[0], good.slice(0, 1))),
        q.submit(devices[1] as DeviceRow, of(devices[1], bad)),
        q.submit(devices[2] as DeviceRow, of(devices[2], good.slice(1))),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
      expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(/poisoned/);
      expect(await count('SELECT count(*) AS n FROM results')).toBe(before + 3);
    } finally {
      await sql`DROP TRIGGER rk_test_poison ON results`.execute(h.tdb.db);
      await sql`DROP FUNCTION rk_test_poison()`.execute(h.tdb.db);
    }
  });

  describe('collection window', () => {
    const settled = (p: Promise<unknown>) => {
      const s = { done: false };
      void p.finally(() => (s.done = true));
      return s;
    };
    const tick = () => new Promise((r) => setTimeout(r, 50));
    let n = 1000;
    const upload = (d: DeviceRow, rows: number) =>
      of(
        d,
        Array.from({ length: rows }, (_, k) => row(`w${k}`, n++, 2)),
      );

    it('a quiet replica writes an upload at once', async () => {
      // a linger this long would time the test out if the upload waited for it
      const q = new IngestQueue(h.tdb.db, undefined, { writers: 2, batchRows: 1000, lingerMs: 60_000 });
      const d = devices[0] as DeviceRow;
      expect((await q.submit(d, upload(d, 2))).fresh).toHaveLength(2);
      expect(q.transactions).toBe(1);
    });

    it('on a busy replica uploads wait for each other until the batch is full', async () => {
      const q = new IngestQueue(h.tdb.db, undefined, { writers: 2, batchRows: 9, lingerMs: 60_000 });
      const d = devices[1] as DeviceRow;
      await q.submit(d, upload(d, 1)); // quiet: at once; now the replica is busy for lingerMs
      const a = q.submit(d, upload(d, 3));
      const b = q.submit(devices[2] as DeviceRow, upload(devices[2] as DeviceRow, 3));
      const sa = settled(a);
      await tick();
      expect(sa.done).toBe(false);
      expect(q.transactions).toBe(1);
      expect(q.backlog).toBe(6);
      // 9 rows: the batch is full and goes at once, all three uploads in one transaction
      const c = q.submit(d, upload(d, 3));
      const out = await Promise.all([a, b, c]);
      expect(out.map((o) => o.fresh.length)).toEqual([3, 3, 3]);
      expect(q.transactions).toBe(2);
      expect(q.backlog).toBe(0);
    });

    it('on a busy replica a batch of enoughRows goes at once', async () => {
      const q = new IngestQueue(h.tdb.db, undefined, { writers: 2, batchRows: 1000, lingerMs: 60_000, enoughRows: 5 });
      const d = devices[1] as DeviceRow;
      await q.submit(d, upload(d, 1)); // quiet: at once; now the replica is busy for lingerMs
      const a = q.submit(d, upload(d, 4));
      const sa = settled(a);
      await tick();
      expect(sa.done).toBe(false);
      // 4 + 5 rows waiting: enough, though far from full
      const out = await Promise.all([a, q.submit(d, upload(d, 5))]);
      expect(out.map((o) => o.fresh.length)).toEqual([4, 5]);
      expect(q.transactions).toBe(2);
      // a single upload of enoughRows does not wait either
      expect((await q.submit(d, upload(d, 6))).fresh).toHaveLength(6);
      expect(q.transactions).toBe(3);
    });

    it('one client uploading batch after batch stops waiting once the window gathered nothing', async () => {
      const q = new IngestQueue(h.tdb.db, undefined, { writers: 2, batchRows: 1000, lingerMs: 300 });
      const d = devices[2] as DeviceRow;
      await q.submit(d, upload(d, 1)); // quiet: at once
      // 100 ms after a transaction: busy, so the next upload waits, alone. Its timer, due 400 ms after that
      // transaction, may fire a little early (timers keep whole milliseconds), when the replica is quiet already
      await tick();
      await tick();
      const second = q.submit(d, upload(d, 2));
      expect(q.backlog).toBe(2);
      await second;
      // the wait gathered nothing: the client's next uploads go at once
      for (const rows of [3, 4]) {
        const next = q.submit(d, upload(d, rows));
        expect(q.backlog).toBe(0);
        expect((await next).fresh).toHaveLength(rows);
      }
      // an upload that finds another in a transaction: the replica is busy again and it waits
      const a = q.submit(d, upload(d, 1));
      const b = q.submit(devices[1] as DeviceRow, upload(devices[1] as DeviceRow, 2));
      expect(q.backlog).toBe(2);
      expect((await Promise.all([a, b])).map((o) => o.fresh.length)).toEqual([1, 2]);
      expect(q.transactions).toBe(6);
    });

    it('on a busy replica a batch that is not full goes after lingerMs', async () => {
      const q = new IngestQueue(h.tdb.db, undefined, { writers: 2, batchRows: 1000, lingerMs: 30 });
      const waits: number[] = [];
      const writes: number[] = [];
      q.timings = { waited: (s) => waits.push(s), wrote: (s) => writes.push(s) };
      const d = devices[0] as DeviceRow;
      await q.submit(d, upload(d, 1));
      const out = await Promise.all([q.submit(d, upload(d, 2)), q.submit(d, upload(d, 2)), q.submit(d, upload(d, 2))]);
      expect(out.map((o) => o.fresh.length)).toEqual([2, 2, 2]);
      expect(q.transactions).toBe(2);
      // one wait and one duration per transaction: the first went at once, the second waited out the window
      // (a timer may fire up to a millisecond early)
      expect(waits).toHaveLength(2);
      expect(waits[0]).toBeLessThan(0.025);
      expect(waits[1]).toBeGreaterThanOrEqual(0.028);
      expect(writes).toHaveLength(2);
      for (const w of writes) expect(w).toBeGreaterThan(0);
    });
  });
});
