// The rollup fold sums queued results in SQL: its counters, extremes and histogram buckets must be what
// the domain's definitions say (histBucket), per minute, hour and day, and add up across folds.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findDeviceByCredential } from '../db/queries/devices.js';
import type { RollupRow } from '../db/queries/results.js';
import { HIST_BUCKETS, histBucket } from '../domain/result-headline.js';
import { sha256 } from '../services/crypto.js';
import { createHarness, type Harness } from '../testing/harness.js';
import { foldPendingRollups } from './rollup-fold.js';

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
