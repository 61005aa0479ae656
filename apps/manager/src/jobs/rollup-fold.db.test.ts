// The rollup fold sums queued results and closed slices in SQL: its counters, extremes and histogram buckets must be what
// the domain's definitions say (histBucket), per minute, hour and day, and add up across folds.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadMigrations, type Migration } from '../db/migrate.js';
import { type DeviceRow, findDeviceByCredential } from '../db/queries/devices.js';
import {
  closeRollupSlices,
  foldCoarseBatch,
  type IngestRow,
  type RollupRow,
  rollupWatermarks,
} from '../db/queries/results.js';
import { HIST_BUCKETS, histBucket } from '../domain/result-headline.js';
import { sha256 } from '../services/crypto.js';
import { createHarness, type Harness } from '../testing/harness.js';
import { resultRow } from '../testing/result-rows.js';
import { setRollupWatermarks } from '../testing/rollup-watermarks.js';
import { IngestQueue } from '../services/ingest-queue.js';
import { foldPendingRollups, foldRollups } from './rollup-fold.js';

let h: Harness;
let device = { id: '', ou_id: '' };
beforeAll(async () => {
  h = await createHarness();
  const e = await h.enroll((await h.createSecret(await h.createOu('Fold'))).secret, 'fold-0');
  const d = await findDeviceByCredential(h.tdb.db, sha256(e.body.device_credential));
  device = { id: String(d?.id), ou_id: String(d?.ou_id) };
});
afterAll(() => h.close());

interface Sample {
  at: number;
  ok: boolean;
  latency: number | null;
  jitter?: number;
  loss?: number;
}

const queue = (target: string, samples: Sample[]) =>
  sql`INSERT INTO rollup_pending (device_id, ou_id, kind, target, started_at, ok, latency_ms, jitter_ms, loss_pct)
    SELECT ${device.id}::bigint, ${device.ou_id}::bigint, 'icmp', ${target}, to_timestamp(s.at / 1000.0), s.ok, s.lat, s.jit, s.loss
    FROM unnest(${samples.map((s) => s.at)}::float8[], ${samples.map((s) => s.ok)}::bool[],
      ${samples.map((s) => s.latency)}::float8[], ${samples.map((s) => s.jitter ?? null)}::float8[],
      ${samples.map((s) => s.loss ?? null)}::float8[]) AS s(at, ok, lat, jit, loss)`.execute(h.tdb.db);

const rollups = (target: string, granularity: string) =>
  sql<RollupRow>`SELECT bucket, count, ok_count, lat_count, lat_sum, lat_min, lat_max, jitter_sum, jitter_count, loss_sum, loss_count, hist
    FROM result_rollups WHERE device_id = ${device.id}::bigint AND target = ${target} AND granularity = ${granularity}
    ORDER BY bucket`
    .execute(h.tdb.db)
    .then((r) => r.rows);

/** The histogram the domain defines for these latencies. */
const histOf = (latencies: (number | null)[]) => {
  const hist = new Array<number>(HIST_BUCKETS).fill(0);
  for (const l of latencies) if (l !== null) (hist[histBucket(l) - 1] as number)++;
  return hist;
};

describe('foldPendingRollups', () => {
  // four samples in the two minutes before an hour boundary, three in the minute after it, mid-day UTC
  const hour = Date.UTC(2026, 10, 20, 12);
  const samples: Sample[] = [
    { at: hour - 90_000, ok: true, latency: 0.01 },
    { at: hour - 61_000, ok: true, latency: 0.05 },
    { at: hour - 30_000, ok: false, latency: null, loss: 100 },
    { at: hour - 29_000, ok: true, latency: 1, jitter: 0.5, loss: 0 },
    { at: hour + 1_000, ok: true, latency: 7.3, jitter: 1.5, loss: 20 },
    { at: hour + 2_000, ok: true, latency: 7.3 },
    { at: hour + 59_999, ok: true, latency: 1e6 },
  ];

  it('sums each granularity × bucket as the domain defines it, histogram buckets included', async () => {
    await queue('t1', samples);
    expect(await foldPendingRollups(h.tdb.db)).toBe(samples.length);
    expect(await foldPendingRollups(h.tdb.db)).toBe(0);

    const minutes = await rollups('t1', 'minute');
    expect(minutes.map((m) => m.bucket.getTime())).toEqual([hour - 120_000, hour - 60_000, hour]);
    expect(minutes.map((m) => m.count)).toEqual([2, 2, 3]);
    expect(minutes[0]?.hist).toEqual(histOf([0.01, 0.05]));
    expect(minutes[0]?.lat_sum).toBeCloseTo(0.06, 12);
    expect(minutes[1]).toMatchObject({
      ok_count: 1,
      lat_count: 1,
      lat_sum: 1,
      lat_min: 1,
      lat_max: 1,
      jitter_sum: 0.5,
      jitter_count: 1,
      loss_sum: 100,
      loss_count: 2,
      hist: histOf([null, 1]),
    });
    expect(minutes[2]?.hist).toEqual(histOf([7.3, 7.3, 1e6]));

    const hours = await rollups('t1', 'hour');
    expect(hours.map((x) => [x.bucket.getTime(), x.count, x.lat_count, x.lat_min, x.lat_max])).toEqual([
      [hour - 3_600_000, 4, 3, 0.01, 1],
      [hour, 3, 3, 7.3, 1e6],
    ]);
    const [day] = await rollups('t1', 'day');
    expect(day).toMatchObject({
      count: 7,
      ok_count: 6,
      lat_count: 6,
      lat_min: 0.01,
      lat_max: 1e6,
      jitter_count: 2,
      jitter_sum: 2,
      loss_count: 3,
      loss_sum: 120,
      hist: histOf(samples.map((s) => s.latency)),
    });
  });

  it('adds later results to the rows already there', async () => {
    await queue('t2', samples.slice(0, 3));
    await foldPendingRollups(h.tdb.db);
    await queue('t2', samples.slice(3));
    await foldPendingRollups(h.tdb.db);
    const [day] = await rollups('t2', 'day');
    expect(day).toMatchObject({
      count: 7,
      lat_min: 0.01,
      lat_max: 1e6,
      loss_sum: 120,
      hist: histOf(samples.map((s) => s.latency)),
    });
    expect((await rollups('t2', 'minute')).map((m) => m.count)).toEqual([2, 2, 3]);
  });

  it('adds one result per fold, in the first, last and a middle bucket, or without latency', async () => {
    const one: Sample[] = [
      { at: hour + 1_000, ok: true, latency: 0.01 },
      { at: hour + 2_000, ok: true, latency: 1e6 },
      { at: hour + 3_000, ok: true, latency: 3 },
      { at: hour + 4_000, ok: false, latency: null },
      { at: hour + 5_000, ok: true, latency: 3 },
      { at: hour + 6_000, ok: true, latency: 0.02 },
      { at: hour + 7_000, ok: true, latency: 2e6 },
    ];
    for (const s of one) {
      await queue('t4', [s]);
      expect(await foldPendingRollups(h.tdb.db)).toBe(1);
    }
    for (const g of ['minute', 'hour', 'day']) {
      const [row] = await rollups('t4', g);
      expect(row).toMatchObject({ count: 7, ok_count: 6, lat_count: 6, lat_min: 0.01, lat_max: 2e6 });
      expect(row?.hist).toEqual(histOf(one.map((s) => s.latency)));
    }
  });

  it('folds in batches of the given size, each result once', async () => {
    const many = Array.from({ length: 250 }, (_, i) => ({
      at: hour + i * 1000,
      ok: i % 5 !== 0,
      latency: 1 + (i % 40),
    }));
    await queue('t3', many);
    expect(await foldPendingRollups(h.tdb.db, 100)).toBe(250);
    const [day] = await rollups('t3', 'day');
    expect(day).toMatchObject({ count: 250, ok_count: 200, hist: histOf(many.map((s) => s.latency)) });
    expect((await rollups('t3', 'minute')).reduce((n, m) => n + m.count, 0)).toBe(250);
  });
});

/**
 * Opens a transaction that runs `first`, then stays open until `release()` and runs `last` (if any)
 * before committing; resolves once `first` ran. `done` settles when the transaction has committed.
 */
async function hold(first: string, last?: (tx: typeof h.tdb.db) => Promise<unknown>) {
  let release: () => void = () => {};
  const held = new Promise<void>((r) => (release = r));
  let ready: () => void = () => {};
  const holding = new Promise<void>((r) => (ready = r));
  const done = h.tdb.db.transaction().execute(async (tx) => {
    await sql.raw(first).execute(tx);
    ready();
    await held;
    await last?.(tx);
  });
  await holding;
  return { release, done };
}

/** The hour and day watermarks locked as the late-result fold (share) and the period sum (update) lock them. */
const LOCK_COARSE = (mode: 'SHARE' | 'UPDATE') =>
  `SELECT name FROM rollup_watermarks WHERE name IN ('day_folded', 'hour_folded') ORDER BY name FOR ${mode}`;

/** An icmp result of the test device, as ingest stores it. */
const row = (target: string, at: number, latency: number): IngestRow => ({
  ...resultRow({ target, at, latency, kind: 'icmp' }),
  device_id: device.id,
  ou_id: device.ou_id,
});

/** Puts `closed` and `folded` at `at`, `hour_folded` and `day_folded` at the start of its hour and day. */
const setWatermarks = (at: number) => setRollupWatermarks(h.tdb.db, at);
const HOUR = 3_600_000;
const DAY = 86_400_000;

describe('slices', () => {
  // the watermarks start at a known time, two minutes before midnight UTC; results on time (at or after the
  // closed watermark when stored) are summed from `results` when their slice is folded, late ones go through
  // rollup_pending; hour and day rows follow when the hour and the day close
  const t0 = Date.UTC(2026, 10, 21, 23, 58);
  const queuedCount = async (target: string) =>
    Number(
      (
        await sql<{ n: string }>`SELECT count(*) AS n FROM results WHERE target = ${target} AND queued`.execute(
          h.tdb.db,
        )
      ).rows[0]?.n,
    );

  it('sums results on time from their closed slice and late ones from the queue, each once', async () => {
    await setWatermarks(t0);
    const q = new IngestQueue(h.tdb.db, undefined, { writers: 2, batchRows: 1000 });
    const on = Array.from({ length: 30 }, (_, i) => row('s1', t0 + i * 1000, 1 + (i % 7)));
    await Promise.all(on.map((r) => q.submit({ id: device.id, ou_id: device.ou_id } as DeviceRow, [r])));
    expect(await queuedCount('s1')).toBe(0);
    // nothing is folded before its slice closes
    expect(await foldRollups(h.tdb.db, { until: new Date(t0) })).toBe(0);
    expect(await foldRollups(h.tdb.db, { until: new Date(t0 + 20_000) })).toBe(20);
    expect(await rollupWatermarks(h.tdb.db)).toEqual({
      closed: new Date(t0 + 20_000),
      folded: new Date(t0 + 20_000),
      hour_folded: new Date(t0 - 58 * 60_000),
      day_folded: new Date(t0 - 23 * HOUR - 58 * 60_000),
    });
    // the hour and the day are not over: no rows of theirs yet
    expect(await rollups('s1', 'hour')).toEqual([]);
    // late: starts in a closed slice
    const late = [row('s1', t0 + 5_500, 2), row('s1', t0 + 19_999, 3)];
    await q.submit({ id: device.id, ou_id: device.ou_id } as DeviceRow, late);
    expect(await queuedCount('s1')).toBe(2);
    expect(await foldRollups(h.tdb.db, { until: new Date(t0 + 180_000) })).toBe(12);
    expect(await foldRollups(h.tdb.db, { until: new Date(t0 + 180_000) })).toBe(0);
    const all = [...on, ...late].map((r) => r.latency_ms);
    for (const g of ['minute', 'hour', 'day']) {
      const [r] = await rollups('s1', g);
      expect(r).toMatchObject({ count: 32, lat_count: 32, lat_min: 1, lat_max: 7, hist: histOf(all) });
    }
  });

  it('closing waits for ingest transactions that read the old watermark', async () => {
    await setWatermarks(t0);
    const tx = await hold('SELECT rk_rollup_closed_until()');
    expect(await closeRollupSlices(h.tdb.db, new Date(t0 + 10_000), 200)).toBe(false);
    tx.release();
    await tx.done;
    expect(await closeRollupSlices(h.tdb.db, new Date(t0 + 10_000), 200)).toBe(true);
    expect((await rollupWatermarks(h.tdb.db)).closed).toEqual(new Date(t0 + 10_000));
  });

  it('uploads racing closes and folds: every result rolled up exactly once', async () => {
    await setWatermarks(t0);
    const q = new IngestQueue(h.tdb.db, undefined, { writers: 2, batchRows: 50, lingerMs: 0 });
    // 60 uploads of 10 results spread over two minutes, submitted while slices close every 5 s of start
    // time and two folds run against each other
    const uploads = Array.from({ length: 60 }, (_, u) =>
      Array.from({ length: 10 }, (_, k) => row('s2', t0 + (u * 10 + k) * 200, 1 + ((u + k) % 9))),
    );
    const ingest = Promise.all(
      uploads.map(async (rows, u) => {
        await new Promise((r) => setTimeout(r, u % 20));
        return q.submit({ id: device.id, ou_id: device.ou_id } as DeviceRow, rows);
      }),
    );
    const folds = (async () => {
      for (let s = 1; s <= 24; s++) {
        await Promise.all([
          foldRollups(h.tdb.db, { until: new Date(t0 + s * 5_000) }),
          foldRollups(h.tdb.db, { until: new Date(t0 + s * 5_000) }),
        ]);
      }
    })();
    await Promise.all([ingest, folds]);
    await foldRollups(h.tdb.db, { until: new Date(t0 + 180_000) });
    const queued = await queuedCount('s2');
    const all = uploads.flat().map((r) => r.latency_ms);
    for (const g of ['minute', 'hour', 'day']) {
      const rs = await rollups('s2', g);
      expect(
        rs.reduce((n, r) => n + r.count, 0),
        `${g}: ${queued} of 600 were queued`,
      ).toBe(600);
      expect(
        rs.reduce((acc, r) => acc.map((c, i) => c + (r.hist[i] as number)), new Array<number>(HIST_BUCKETS).fill(0)),
      ).toEqual(histOf(all));
    }
    expect(await rollupWatermarks(h.tdb.db)).toEqual({
      closed: new Date(t0 + 180_000),
      folded: new Date(t0 + 180_000),
      hour_folded: new Date(t0 + 120_000),
      day_folded: new Date(t0 + 120_000),
    });
  });
});

describe('hours and days from the finer rows', () => {
  // two minutes before 23:00 UTC; the results straddle the hour, and a day ends an hour later
  const t0 = Date.UTC(2026, 10, 23, 22, 58);
  const store = (rows: IngestRow[]) =>
    new IngestQueue(h.tdb.db, undefined, { writers: 1, batchRows: 1000 }).submit(
      { id: device.id, ou_id: device.ou_id } as DeviceRow,
      rows,
    );
  /** The series' points at `granularity` around t0 (hours for minutes, days otherwise). */
  const series = async (target: string, granularity: string) => {
    const minute = granularity === 'minute';
    const since = new Date(minute ? t0 - HOUR : t0 - DAY - 22 * HOUR).toISOString();
    const until = new Date(minute ? t0 + 2 * HOUR : t0 + 2 * DAY).toISOString();
    const r = await h.req(
      'GET',
      `/api/v1/results/series?device_id=${device.id}&kind=icmp&target=${target}&granularity=${granularity}&since=${since}&until=${until}`,
      { token: await h.adminToken() },
    );
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.points as { t: string; count: number; latency_min_ms: number; latency_max_ms: number }[];
  };

  it('sums an hour when it closes and a day when its hours are summed; late results add to both; series agree at every stage', async () => {
    await setWatermarks(t0);
    const on = [row('c1', t0 + 60_000, 2), row('c1', t0 + 90_000, 4), row('c1', t0 + 150_000, 8)];
    await store(on);
    const stages: Record<string, unknown>[] = [];
    const snapshot = async () => {
      const s: Record<string, unknown> = {};
      for (const g of ['minute', 'hour', 'day']) s[g] = await series('c1', g);
      stages.push(s);
    };
    await snapshot(); // nothing folded: every point from the results themselves
    // 23:01 closed: the 22:00 hour is summed from its minute rows, 23:00 has minute rows only
    expect(await foldRollups(h.tdb.db, { until: new Date(t0 + 180_000) })).toBe(3);
    expect((await rollups('c1', 'hour')).map((x) => [x.bucket.getTime(), x.count])).toEqual([[t0 - 58 * 60_000, 2]]);
    expect(await rollups('c1', 'day')).toEqual([]);
    await snapshot();
    // a late result in the summed hour: into its minute and hour rows; the day is not summed yet
    await store([row('c1', t0 + 30_000, 1)]);
    expect(await foldRollups(h.tdb.db, { until: new Date(t0 + 180_000) })).toBe(1);
    const [hour] = await rollups('c1', 'hour');
    expect(hour).toMatchObject({ count: 3, lat_min: 1, lat_max: 4, hist: histOf([1, 2, 4]) });
    expect(await rollups('c1', 'day')).toEqual([]);
    stages.length = 0;
    await snapshot();
    // past midnight: 23:00 summed, then the day from its hour rows
    const midnight = t0 + HOUR + 2 * 60_000;
    await foldRollups(h.tdb.db, { until: new Date(midnight + 60_000) });
    expect((await rollups('c1', 'hour')).map((x) => x.count)).toEqual([3, 1]);
    const [day] = await rollups('c1', 'day');
    expect(day).toMatchObject({ count: 4, lat_min: 1, lat_max: 8, hist: histOf([1, 2, 4, 8]) });
    expect(await rollupWatermarks(h.tdb.db)).toMatchObject({
      hour_folded: new Date(midnight),
      day_folded: new Date(midnight),
    });
    await snapshot();
    // a late result in the summed day: minute, hour and day rows
    await store([row('c1', t0 + 31_000, 16)]);
    await foldRollups(h.tdb.db, { until: new Date(midnight + 60_000) });
    expect(await rollups('c1', 'day')).toMatchObject([{ count: 5, lat_max: 16, hist: histOf([1, 2, 4, 8, 16]) }]);
    expect((await series('c1', 'day')).map((p) => p.count)).toEqual([5]);
    expect((await series('c1', 'hour')).map((p) => p.count)).toEqual([4, 1]);
    // the same points whichever rows held them
    expect(stages[1]).toEqual(stages[0]);
    expect((stages[0]?.hour as unknown[]).length).toBe(2);
    expect((stages[0]?.day as { count: number }[]).map((p) => p.count)).toEqual([4]);
  });

  it('summing an hour waits for a fold of late results that holds the watermarks, and sums what it wrote', async () => {
    const t = t0 + 3 * DAY;
    // the hour before t's is closed (folded past its end) but not summed yet
    await setRollupWatermarks(h.tdb.db, t + 3 * 60_000, t - 58 * 60_000);
    // as `foldPendingBatch` does: the watermarks shared, then a minute row written
    const late = await hold(LOCK_COARSE('SHARE'), (tx) =>
      sql`INSERT INTO result_rollups (granularity, bucket, device_id, kind, target, ou_id, count, ok_count, lat_count,
          lat_sum, lat_min, lat_max, jitter_sum, jitter_count, loss_sum, loss_count, hist)
        VALUES ('minute', ${new Date(t + 60_000)}, ${device.id}::bigint, 'icmp', 'c2', ${device.ou_id}::bigint, 1, 1, 1,
          5, 5, 5, 0, 0, 0, 0, array_fill(0, ARRAY[${HIST_BUCKETS}::int]))`.execute(tx),
    );
    let summed = false;
    const coarse = foldCoarseBatch(h.tdb.db).then((x) => {
      summed = true;
      return x;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(summed).toBe(false);
    late.release();
    await late.done;
    expect(await coarse).toMatchObject({ granularity: 'hour', bucket: new Date(t - 58 * 60_000) });
    expect((await rollups('c2', 'hour')).map((x) => [x.bucket.getTime(), x.count, x.lat_sum])).toEqual([
      [t - 58 * 60_000, 1, 5],
    ]);
  });
});

describe('late results while a period is summed', () => {
  it('the queue waits, without blocking, while a sum holds the watermarks; the next run folds it', async () => {
    await queue('w1', [{ at: Date.UTC(2026, 10, 20, 12), ok: true, latency: 2 }]);
    const sum = await hold(LOCK_COARSE('UPDATE'));
    const t = performance.now();
    expect(await foldPendingRollups(h.tdb.db)).toBe(0);
    expect(performance.now() - t).toBeLessThan(1000);
    expect(await rollups('w1', 'minute')).toEqual([]);
    sum.release();
    await sum.done;
    expect(await foldPendingRollups(h.tdb.db)).toBe(1);
    expect((await rollups('w1', 'minute')).map((r) => r.count)).toEqual([1]);
  });
});

describe('migration 0013', () => {
  it('keeps the hour and day rows of periods that ended before `folded` and drops those of the open ones', async () => {
    const m = (await loadMigrations()).find((x) => x.id === 13) as Migration;
    const folded = '2026-11-10 14:25:30.123456+00';
    // the state before it: two watermarks, hour and day rows kept up to date by every fold
    await sql`DELETE FROM rollup_watermarks WHERE name IN ('hour_folded', 'day_folded')`.execute(h.tdb.db);
    await sql`UPDATE rollup_watermarks SET at = ${folded}::timestamptz`.execute(h.tdb.db);
    const put = (g: string, at: string) =>
      sql`INSERT INTO result_rollups (granularity, bucket, device_id, kind, target, ou_id, count, ok_count, lat_count,
          lat_sum, jitter_sum, jitter_count, loss_sum, loss_count, hist)
        VALUES (${g}, ${at}::timestamptz, ${device.id}::bigint, 'icmp', 'm13', ${device.ou_id}::bigint, 1, 1, 0, 0, 0, 0, 0, 0,
          array_fill(0, ARRAY[${HIST_BUCKETS}::int]))`.execute(h.tdb.db);
    for (const at of ['2026-11-10 13:00Z', '2026-11-10 14:00Z']) await put('hour', at);
    for (const at of ['2026-11-09Z', '2026-11-10Z']) await put('day', at);
    await h.tdb.db.connection().execute((c) => sql.raw(m.sql).execute(c));
    expect(await rollupWatermarks(h.tdb.db)).toMatchObject({
      hour_folded: new Date('2026-11-10T14:00Z'),
      day_folded: new Date('2026-11-10T00:00Z'),
    });
    expect((await rollups('m13', 'hour')).map((r) => r.bucket.toISOString())).toEqual(['2026-11-10T13:00:00.000Z']);
    expect((await rollups('m13', 'day')).map((r) => r.bucket.toISOString())).toEqual(['2026-11-09T00:00:00.000Z']);
  });
});
