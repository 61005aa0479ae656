// Result upload (idempotent by id, per-record verdicts, 422/429/401) and the query API.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureResultPartitions, applyRetention } from '../../db/queries/results.js';
import { foldRollups } from '../../jobs/rollup-fold.js';
import { createHarness, type Harness } from '../../testing/harness.js';

let h: Harness;
let dev: { id: number; credential: string };
let dev2: { id: number; credential: string };
let ouB = 0;

const icmp = (startedAt: string, avgMs: number, lossPct = 0, ok = true, target = '127.0.0.1') => ({
  id: randomUUID(),
  result: {
    kind: 'icmp',
    target,
    ok,
    startedAt,
    durationMs: 1000,
    metrics: { rtt: { avgMs }, jitterMs: 0.1, lossPct },
  },
});
const upload = (credential: string | undefined, results: unknown[]) =>
  h.req('POST', '/api/v1/results/upload', {
    headers: credential ? { authorization: `Bearer ${credential}` } : {},
    body: { results },
  });
const rowCount = async () =>
  Number((await sql<{ n: string }>`SELECT count(*) AS n FROM results`.execute(h.tdb.db)).rows[0]?.n);

beforeAll(async () => {
  h = await createHarness();
  const ouA = await h.createOu('A');
  ouB = await h.createOu('B');
  const a = await h.enroll((await h.createSecret(ouA)).secret, 'res-a');
  const b = await h.enroll((await h.createSecret(ouB)).secret, 'res-b');
  dev = { id: a.body.device_id, credential: a.body.device_credential };
  dev2 = { id: b.body.device_id, credential: b.body.device_credential };
});
afterAll(() => h.close());

describe('upload', () => {
  it('stores a batch once, however often it is retried', async () => {
    const now = new Date().toISOString();
    const batch = [icmp(now, 1), icmp(now, 2), icmp(now, 3)];
    const before = await rowCount();
    const first = await upload(dev.credential, batch);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ stored: 3, rejected: [] });
    expect(first.body.accepted).toEqual(batch.map((b) => b.id));
    const again = await upload(dev.credential, [...batch, batch[0]]);
    expect(again.status).toBe(200);
    expect(again.body.stored).toBe(0);
    expect(await rowCount()).toBe(before + 3);
  });

  it('a result id another device used is that device’s own result: stored for each, neither swallowed', async () => {
    const r = icmp(new Date().toISOString(), 1);
    const before = await rowCount();
    expect((await upload(dev.credential, [r])).body).toMatchObject({ stored: 1 });
    expect((await upload(dev2.credential, [r])).body).toMatchObject({ stored: 1 });
    expect((await upload(dev2.credential, [r])).body).toMatchObject({ stored: 0 });
    expect(await rowCount()).toBe(before + 2);
  });

  it('an upload mixing stored and new results stores only the new ones, once, in latest and the rollups too', async () => {
    const t0 = Date.now() - 5000;
    const [a, b, c] = [1, 2, 3].map((ms, i) => icmp(new Date(t0 + i).toISOString(), ms, 0, true, '10.9.9.9')) as [
      ReturnType<typeof icmp>,
      ReturnType<typeof icmp>,
      ReturnType<typeof icmp>,
    ];
    const before = await rowCount();
    expect((await upload(dev.credential, [a, b])).body).toMatchObject({ stored: 2 });
    // no repeat inside the batch: the optimistic insert meets a and b and the transaction runs again
    const second = await upload(dev.credential, [b, c, a]);
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ stored: 1, rejected: [], accepted: [b.id, c.id, a.id] });
    expect(await rowCount()).toBe(before + 3);
    await foldRollups(h.tdb.db, { until: new Date() });
    const folded = await sql<{ n: string }>`
      SELECT sum(count) AS n FROM result_rollups WHERE target = '10.9.9.9' AND granularity = 'minute'`.execute(
      h.tdb.db,
    );
    expect(Number(folded.rows[0]?.n)).toBe(3);
  });

  it('latest holds each series’ newest result, whatever order a batch brings them in', async () => {
    const t0 = Date.now() - 10_000;
    const at = (ms: number) => new Date(t0 + ms).toISOString();
    const latestOf = async (target: string) =>
      (
        await sql<{ result_id: string; started_at: Date }>`
          SELECT result_id, started_at FROM result_latest WHERE device_id = ${dev.id} AND target = ${target}`.execute(
          h.tdb.db,
        )
      ).rows;
    // one series newest in the middle of the batch, another newest first
    const mid = [icmp(at(1), 1, 0, true, 'nl-a'), icmp(at(3), 1, 0, true, 'nl-a'), icmp(at(2), 1, 0, true, 'nl-a')];
    const first = [icmp(at(5), 1, 0, true, 'nl-b'), icmp(at(4), 1, 0, true, 'nl-b')];
    expect((await upload(dev.credential, [mid[0], first[0], mid[1], first[1], mid[2]])).body).toMatchObject({
      stored: 5,
    });
    expect(await latestOf('nl-a')).toEqual([{ result_id: mid[1]?.id, started_at: new Date(at(3)) }]);
    expect(await latestOf('nl-b')).toEqual([{ result_id: first[0]?.id, started_at: new Date(at(5)) }]);
    // an older result later leaves latest alone; a newer one of the same start replaces it
    expect((await upload(dev.credential, [icmp(at(0), 1, 0, true, 'nl-a')])).body).toMatchObject({ stored: 1 });
    expect((await latestOf('nl-a'))[0]?.result_id).toBe(mid[1]?.id);
    const same = icmp(at(3), 1, 0, true, 'nl-a');
    expect((await upload(dev.credential, [same])).body).toMatchObject({ stored: 1 });
    expect((await latestOf('nl-a'))[0]?.result_id).toBe(same.id);
  });

  it('a retried batch leaves latest at the series’ newest result, stored before or in the retry', async () => {
    const t0 = Date.now() - 20_000;
    const at = (ms: number) => new Date(t0 + ms).toISOString();
    const latestOf = async () =>
      (
        await sql<{ result_id: string; started_at: Date }>`
          SELECT result_id, started_at FROM result_latest WHERE device_id = ${dev.id} AND target = 'nl-r'`.execute(
          h.tdb.db,
        )
      ).rows;
    const newest = icmp(at(9), 1, 0, true, 'nl-r');
    expect((await upload(dev.credential, [newest])).body).toMatchObject({ stored: 1 });
    // again with an older new result: the optimistic insert meets `newest` and the transaction runs again
    const older = icmp(at(5), 1, 0, true, 'nl-r');
    expect((await upload(dev.credential, [older, newest])).body).toMatchObject({ stored: 1 });
    expect(await latestOf()).toEqual([{ result_id: newest.id, started_at: new Date(at(9)) }]);
    const newer = icmp(at(12), 1, 0, true, 'nl-r');
    expect((await upload(dev.credential, [newest, newer, older])).body).toMatchObject({ stored: 1 });
    expect(await latestOf()).toEqual([{ result_id: newer.id, started_at: new Date(at(12)) }]);
  });

  it('takes ids in any form the schema allows (upper case, urn:uuid:) and answers with them as sent', async () => {
    const now = new Date().toISOString();
    const upper = { ...icmp(now, 1), id: randomUUID().toUpperCase() };
    const urn = { ...icmp(now, 1), id: `urn:uuid:${randomUUID()}` };
    const r = await upload(dev.credential, [upper, urn]);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ stored: 2, accepted: [upper.id, urn.id] });
    const again = await upload(dev.credential, [{ ...urn, id: urn.id.slice('urn:uuid:'.length).toUpperCase() }]);
    expect(again.body).toMatchObject({ stored: 0 });
    const ids = await sql<{
      id: string;
    }>`SELECT id::text FROM results WHERE id IN (${upper.id.toLowerCase()}::uuid, ${urn.id.slice(9)}::uuid)`.execute(
      h.tdb.db,
    );
    expect(ids.rows).toHaveLength(2);
  });

  it('stores targets, error codes and metrics with quotes, backslashes, braces and commas as sent', async () => {
    const odd = 'a"b\\c,{d} NULL é\t"';
    const r = icmp(new Date().toISOString(), 3, 0, false, odd);
    const rec = {
      ...r,
      result: {
        ...r.result,
        error: { code: 'x",\\{}', message: 'm' },
        metrics: { ...r.result.metrics, note: 'q"\\n{,}', nested: { s: '\\"' } },
      },
    };
    const up = await upload(dev.credential, [rec, icmp(new Date().toISOString(), 1, 0, true, 'NULL')]);
    expect(up.body).toMatchObject({ stored: 2, rejected: [] });
    const row = (
      await sql<{ target: string; error_code: string; metrics: Record<string, unknown> }>`
        SELECT target, error_code, metrics FROM results WHERE id = ${rec.id}::uuid`.execute(h.tdb.db)
    ).rows[0];
    expect(row).toEqual({ target: odd, error_code: 'x",\\{}', metrics: rec.result.metrics });
    const latest = await sql<{ target: string }>`
      SELECT target FROM result_latest WHERE device_id = ${dev.id} AND target IN (${odd}, 'NULL')`.execute(h.tdb.db);
    expect(latest.rows.map((x) => x.target).sort()).toEqual(['NULL', odd].sort());
  });

  it('a target over 2048 bytes (2048 characters of a 3-byte script that do not compress) is rejected alone', async () => {
    // 2048 characters (the schema's limit) of CJK ideographs in a pseudo-random order: about 6 KB of UTF-8
    let x = 7;
    const long = Array.from({ length: 2048 }, () =>
      String.fromCharCode(0x4e00 + ((x = (x * 1103515245 + 12345) % 2 ** 31) % 20000)),
    ).join('');
    const r = await upload(dev.credential, [
      icmp(new Date().toISOString(), 1, 0, true, long),
      icmp(new Date().toISOString(), 2),
    ]);
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(200);
    expect(r.body).toMatchObject({ stored: 1, rejected: [{ error: 'target_too_long' }] });
    // 2048 bytes is still stored
    const fits = 'x'.repeat(2048 - 3) + '\u4e00';
    // two days old: late, in an hour and a day summed already, so each granularity takes it at once
    const ok = await upload(dev.credential, [
      icmp(new Date(Date.now() - 2 * 86_400_000).toISOString(), 1, 0, true, fits),
    ]);
    expect(ok.body).toMatchObject({ stored: 1, rejected: [] });
    // and the rollups take it too (their key holds the target)
    await foldRollups(h.tdb.db, { until: new Date(Date.now() + 1000) });
    const rolled = await sql<{ n: string }>`
      SELECT count(*) AS n FROM result_rollups WHERE target = ${fits}`.execute(h.tdb.db);
    expect(Number(rolled.rows[0]?.n)).toBe(3);
  });

  it('metrics nested deeper than 32 levels are rejected alone (100 000 deep overflowed the stack: 500)', async () => {
    const nest = (n: number) => '['.repeat(n) + ']'.repeat(n);
    const [deep, edge, fine] = [
      icmp(new Date().toISOString(), 1),
      icmp(new Date().toISOString(), 2),
      icmp(new Date().toISOString(), 3),
    ];
    // {"deep": 31 arrays} is 32 levels with the metrics object itself
    const raw = JSON.stringify({ results: [deep, edge, fine] })
      .replace('"metrics":{', `"metrics":{"deep":${nest(100_000)},`)
      .replace(/("metrics":\{)(?!"deep")/, `$1"edge":${nest(31)},`);
    const res = await h.req('POST', '/api/v1/results/upload', {
      rawBody: raw,
      headers: { authorization: `Bearer ${dev.credential}`, 'content-type': 'application/json', 'x-api-version': '1' },
    });
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
    expect(res.body).toMatchObject({ stored: 2, rejected: [{ id: deep.id, error: 'invalid_metrics' }] });
  });

  it('a traceroute hop with 300 000 probes and latencies near the float limit are stored, and their series read back', async () => {
    const at = new Date(Date.now() + 3000).toISOString();
    const trace = {
      id: randomUUID(),
      result: {
        kind: 'traceroute',
        target: '10.6.6.6',
        ok: true,
        startedAt: at,
        durationMs: 1,
        metrics: { hops: [{ probes: Array.from({ length: 300_000 }, () => ({ rttMs: 1 })) }] },
      },
    };
    const huge = [icmp(at, 1e308, 0, true, '10.6.6.7'), icmp(at, 1e308, 0, true, '10.6.6.7')];
    const r = await upload(dev.credential, [trace, ...huge]);
    expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(200);
    expect(r.body.stored).toBe(3);
    const since = new Date(Date.now() - 600_000).toISOString();
    const until = new Date(Date.now() + 600_000).toISOString();
    for (const target of ['10.6.6.6', '10.6.6.7']) {
      const q = `/api/v1/results/series?device_id=${dev.id}&kind=${target === '10.6.6.6' ? 'traceroute' : 'icmp'}&target=${target}&since=${since}&until=${until}`;
      const s = await h.req('GET', q, { token: await h.adminToken() });
      expect(s.status, JSON.stringify(s.body).slice(0, 300)).toBe(200);
    }
  });

  it('rejects records that can never be stored, and stores the rest', async () => {
    const ok = icmp(new Date().toISOString(), 1);
    const future = icmp(new Date(Date.now() + 3 * 86_400_000).toISOString(), 1);
    const old = icmp(new Date(Date.now() - 90 * 86_400_000).toISOString(), 1);
    const weird = { id: randomUUID(), result: { ...ok.result, kind: 'carrier-pigeon' } };
    // a leap second passes the date-time format but is no time JavaScript (or the rollups) can place
    const leap = icmp('2026-06-30T23:59:60Z', 1);
    const r = await upload(dev.credential, [ok, future, old, weird, leap]);
    expect(r.status).toBe(200);
    expect(r.body.stored).toBe(1);
    expect(r.body.rejected.map((x: { error: string }) => x.error).sort()).toEqual([
      'clock_skew',
      'invalid_time',
      'too_old',
      'unknown_kind',
    ]);
  });

  it('answers 422 for a batch that fails the schema, 401 without a credential', async () => {
    expect((await upload(dev.credential, [{ id: 'not-a-uuid', result: {} }])).status).toBe(422);
    expect(
      (
        await h.req('POST', '/api/v1/results/upload', {
          headers: { authorization: `Bearer ${dev.credential}` },
          body: { results: [] },
        })
      ).status,
    ).toBe(422);
    expect((await upload(undefined, [icmp(new Date().toISOString(), 1)])).status).toBe(401);
    expect((await upload('rkd_forged', [icmp(new Date().toISOString(), 1)])).status).toBe(401);
  });

  it('answers 429 with Retry-After when saturated', async () => {
    const t = await createHarness(
      {},
      { ingestLimits: { maxBacklogRows: 0, retryAfter: 3, maxAgeDays: 30, maxFutureSeconds: 86_400 } },
    );
    try {
      const e = await t.enroll((await t.createSecret(await t.createOu('X'))).secret, 'busy');
      const r = await t.req('POST', '/api/v1/results/upload', {
        headers: { authorization: `Bearer ${e.body.device_credential}` },
        body: { results: [icmp(new Date().toISOString(), 1)] },
      });
      expect(r.status).toBe(429);
      expect(r.headers['retry-after']).toBe('3');
    } finally {
      await t.close();
    }
  });
});

describe('user-run clients (seed 003)', () => {
  it('upload with a JWT or an API key for a device the user administers', async () => {
    const admin = await h.adminToken();
    const r = await h.req('POST', `/api/v1/results/upload?device_id=${dev.id}`, {
      token: admin,
      body: { results: [icmp(new Date().toISOString(), 2)] },
    });
    expect(r.status).toBe(200);
    expect(r.body.stored).toBe(1);
    const key = (await h.req('POST', '/api/v1/api-keys', { token: admin, body: { name: 'client' } })).body.key;
    const k = await h.req('POST', `/api/v1/results/upload?device_id=${dev.id}`, {
      headers: { 'x-api-key': key },
      body: { results: [icmp(new Date().toISOString(), 2)] },
    });
    expect(k.status).toBe(200);
    expect(
      (
        await h.req('POST', '/api/v1/results/upload', {
          token: admin,
          body: { results: [icmp(new Date().toISOString(), 2)] },
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await h.req('POST', '/api/v1/results/upload?device_id=abc', {
          token: admin,
          body: { results: [icmp(new Date().toISOString(), 2)] },
        })
      ).status,
    ).toBe(400);
  });

  it('refuses reporters (403) and devices outside the user’s subtree (404)', async () => {
    await h.createUser('rep6', 'ou_reporter', ouB);
    const rep = await h.login('rep6', 'rep6-password-123');
    expect(
      (
        await h.req('POST', `/api/v1/results/upload?device_id=${dev2.id}`, {
          token: rep,
          body: { results: [icmp(new Date().toISOString(), 2)] },
        })
      ).status,
    ).toBe(403);
    await h.createUser('adm6', 'ou_admin', ouB);
    const adm = await h.login('adm6', 'adm6-password-123');
    expect(
      (
        await h.req('POST', `/api/v1/results/upload?device_id=${dev.id}`, {
          token: adm,
          body: { results: [icmp(new Date().toISOString(), 2)] },
        })
      ).status,
    ).toBe(404);
    expect(
      (
        await h.req('POST', `/api/v1/results/upload?device_id=${dev2.id}`, {
          token: adm,
          body: { results: [icmp(new Date().toISOString(), 2)] },
        })
      ).status,
    ).toBe(200);
  });
});

describe('queries', () => {
  it('serves a minute series with count, latency stats, percentiles, jitter and loss', async () => {
    const base = Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000;
    const batch = [];
    for (let i = 0; i < 10; i++)
      batch.push(icmp(new Date(base + i * 1000).toISOString(), i + 1, i === 9 ? 10 : 0, i !== 9, '10.0.0.1'));
    batch.push(icmp(new Date(base + 60_000).toISOString(), 50, 0, true, '10.0.0.1'));
    const up = await upload(dev.credential, batch);
    expect(up.body, JSON.stringify(up.body)).toMatchObject({ stored: 11 });
    // rollups are folded by the leader's job; here at once
    expect(await foldRollups(h.tdb.db, { until: new Date() })).toBeGreaterThanOrEqual(11);
    const q = `/api/v1/results/series?device_id=${dev.id}&kind=icmp&target=10.0.0.1&since=${new Date(base - 60_000).toISOString()}&until=${new Date(base + 120_000).toISOString()}`;
    const r = await h.req('GET', q, { token: await h.adminToken() });
    expect(r.status).toBe(200);
    expect(r.body.granularity).toBe('minute');
    expect(r.body.points).toHaveLength(2);
    const [p0, p1] = r.body.points;
    expect(p0).toMatchObject({
      count: 10,
      ok_ratio: 0.9,
      latency_min_ms: 1,
      latency_max_ms: 10,
      latency_avg_ms: 5.5,
      loss_avg_pct: 1,
    });
    expect(p0.latency_p50_ms).toBeGreaterThan(4);
    expect(p0.latency_p50_ms).toBeLessThan(6.5);
    expect(p1).toMatchObject({ count: 1, latency_avg_ms: 50 });
    const hourly = await h.req('GET', `${q}&granularity=hour`, { token: await h.adminToken() });
    expect(hourly.body.points.reduce((a: number, p: { count: number }) => a + p.count, 0)).toBe(11);
  });

  it('series hold results the fold has not reached yet, each once before and after it', async () => {
    // results of slices not closed yet (earlier tests here closed slices up to their own "now")
    const t = Date.now() + 2000;
    const batch = [0, 1, 2, 3].map((i) =>
      icmp(new Date(t + i * 200).toISOString(), 2 + i, i * 10, i !== 3, '10.7.7.7'),
    );
    expect((await upload(dev.credential, batch)).body).toMatchObject({ stored: 4 });
    const q = `/api/v1/results/series?device_id=${dev.id}&kind=icmp&target=10.7.7.7&since=${new Date(t - 600_000).toISOString()}&until=${new Date(t + 60_000).toISOString()}`;
    const read = async () => {
      const r = await h.req('GET', q, { token: await h.adminToken() });
      expect(r.status).toBe(200);
      return r.body.points.map((p: Record<string, unknown>) => ({ ...p, t: undefined }));
    };
    const before = await read();
    expect(before.reduce((n: number, p: { count: number }) => n + p.count, 0)).toBe(4);
    expect(before.at(-1)).toMatchObject({ latency_max_ms: 5, loss_avg_pct: expect.any(Number) });
    await foldRollups(h.tdb.db, { until: new Date(t + 60_000) });
    // folded: the same points from the rollups, none counted twice
    expect(await read()).toEqual(before);
  });

  it('a leap second as since or until is a 400 naming it', async () => {
    const leap = '2026-06-30T23:59:60Z';
    const token = await h.adminToken();
    for (const [path, field] of [
      [`/api/v1/results/series?device_id=${dev.id}&kind=icmp&target=x&since=${leap}`, 'since'],
      [`/api/v1/results/series?device_id=${dev.id}&kind=icmp&target=x&until=${leap}`, 'until'],
      [`/api/v1/results?device_id=${dev.id}&since=${leap}`, 'since'],
    ] as const) {
      const r = await h.req('GET', path, { token });
      expect(r.status, path).toBe(400);
      expect(r.body.details, path).toMatchObject({ field });
    }
  });

  it('shows one target from every vantage point in scope', async () => {
    const now = new Date().toISOString();
    await upload(dev.credential, [icmp(now, 4, 0, true, '192.0.2.9')]);
    await upload(dev2.credential, [icmp(now, 7, 0, true, '192.0.2.9')]);
    const all = await h.req('GET', '/api/v1/results/latest?target=192.0.2.9', { token: await h.adminToken() });
    expect(all.body.items.map((x: { device_id: number; latency_ms: number }) => [x.device_id, x.latency_ms])).toEqual([
      [dev.id, 4],
      [dev2.id, 7],
    ]);
    await h.createUser('breporter', 'ou_reporter', ouB);
    const t = await h.login('breporter', 'breporter-password-123');
    const scoped = await h.req('GET', '/api/v1/results/latest?target=192.0.2.9', { token: t });
    expect(scoped.body.items.map((x: { device_id: number }) => x.device_id)).toEqual([dev2.id]);
  });

  it('pages the latest view', async () => {
    const now = new Date().toISOString();
    await upload(
      dev.credential,
      ['t1', 't2', 't3'].map((t) => icmp(now, 1, 0, true, t)),
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const r: { body: { items: { target: string }[]; next_cursor: string | null } } = await h.req(
        'GET',
        `/api/v1/results/latest?device_id=${dev.id}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        { token: await h.adminToken() },
      );
      seen.push(...r.body.items.map((x) => x.target));
      cursor = r.body.next_cursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expect.arrayContaining(['t1', 't2', 't3', '10.0.0.1', '127.0.0.1']));
    // the 2048-byte target stored earlier in this file: a page ending on it gives a cursor that still fits
    expect(seen.some((t) => Buffer.byteLength(t) === 2048)).toBe(true);
  });
});

describe('raw results', () => {
  type Raw = {
    id: string;
    target: string;
    started_at: string;
    ok: boolean;
    error: { code: string; message: string } | null;
    metrics: Record<string, unknown>;
  };
  const list = async (query: string, token?: string) =>
    h.req('GET', `/api/v1/results?${query}`, { token: token ?? (await h.adminToken()) });
  /** every page of a listing, by following next_cursor */
  const all = async (query: string) => {
    const seen: Raw[] = [];
    let cursor: string | null = null;
    do {
      const r: { status: number; body: { items: Raw[]; next_cursor: string | null } } = await list(
        `${query}${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(r.status).toBe(200);
      seen.push(...r.body.items);
      cursor = r.body.next_cursor;
    } while (cursor);
    return seen;
  };

  it('lists a device’s results newest first with error and metrics, filtered, paged without gaps or repeats', async () => {
    const ou = await h.createOu('Raw');
    const e = await h.enroll((await h.createSecret(ou)).secret, 'raw-dev');
    const t0 = Date.now() - 60_000;
    const at = (i: number) => new Date(t0 + i * 1000).toISOString();
    // two series; equal start times across them, so the cursor must also order by id
    const sent = [0, 1, 2, 3, 3, 4, 5].map((i, k) => {
      const failed = k % 3 === 1;
      const r = icmp(at(i), 2 + k, failed ? 100 : 0, !failed, k % 2 ? 'raw-b' : 'raw-a');
      return failed ? { ...r, result: { ...r.result, error: { code: 'timeout', message: `no reply ${k}` } } } : r;
    });
    expect((await upload(e.body.device_credential, sent)).body).toMatchObject({ stored: 7 });
    const q = `device_id=${e.body.device_id}`;
    const expected = [...sent]
      .sort((a, b) =>
        a.result.startedAt === b.result.startedAt
          ? a.id < b.id
            ? 1
            : -1
          : a.result.startedAt < b.result.startedAt
            ? 1
            : -1,
      )
      .map((r) => r.id);
    for (const limit of [1, 3, 50]) expect((await all(`${q}&limit=${limit}`)).map((r) => r.id)).toEqual(expected);

    const failed = await all(`${q}&ok=false`);
    expect(failed.map((r) => r.id).sort()).toEqual(
      sent
        .filter((r) => !r.result.ok)
        .map((r) => r.id)
        .sort(),
    );
    const one = failed.find((r) => r.id === sent[1]?.id) as Raw;
    expect(one).toMatchObject({ target: 'raw-b', ok: false, error: { code: 'timeout', message: 'no reply 1' } });
    expect(one.metrics).toEqual(sent[1]?.result.metrics);
    expect((await all(`${q}&ok=true`)).every((r) => r.ok && r.error === null)).toBe(true);

    expect((await all(`${q}&target=raw-a&kind=icmp`)).map((r) => r.target)).toEqual(Array(4).fill('raw-a'));
    // one series page by page: raw-b's newest result (t0 + 4 s) is older than the device's (t0 + 5 s)
    const onlyB = expected.filter((id) => sent.find((r) => r.id === id)?.result.target === 'raw-b');
    for (const limit of [1, 2, 50])
      expect((await all(`${q}&target=raw-b&limit=${limit}`)).map((r) => r.id)).toEqual(onlyB);
    expect((await all(`${q}&kind=icmp&limit=2`)).map((r) => r.id)).toEqual(expected);
    expect(await all(`${q}&target=never-stored`)).toEqual([]);
    expect(await all(`${q}&kind=tcp`)).toEqual([]);
    // [since, until): the result at t0 + 3 s is in, the ones at t0 + 4 s are not
    const window = await all(`${q}&since=${encodeURIComponent(at(1))}&until=${encodeURIComponent(at(4))}`);
    expect(window.map((r) => r.started_at).sort()).toEqual([at(1), at(2), at(3), at(3)]);
    // the default range is the last 24 h
    const stale = icmp(new Date(Date.now() - 2 * 86_400_000).toISOString(), 1, 0, true, 'raw-a');
    expect((await upload(e.body.device_credential, [stale])).body).toMatchObject({ stored: 1 });
    expect((await all(q)).some((r) => r.id === stale.id)).toBe(false);
    const since = encodeURIComponent(new Date(Date.now() - 3 * 86_400_000).toISOString());
    expect((await all(`${q}&since=${since}`)).some((r) => r.id === stale.id)).toBe(true);
  });

  it('keeps error messages up to 1000 characters and codes up to 128', async () => {
    const r = icmp(new Date().toISOString(), 1, 100, false, 'raw-long');
    const long = { ...r, result: { ...r.result, error: { code: 'c'.repeat(100_000), message: 'é'.repeat(1500) } } };
    expect((await upload(dev.credential, [long])).body).toMatchObject({ stored: 1 });
    const [got] = await all(`device_id=${dev.id}&target=raw-long`);
    expect(got?.error).toEqual({ code: 'c'.repeat(128), message: 'é'.repeat(1000) });
  });

  it('another OU’s device is 404; bad ranges, cursors and parameters are 400 and list nothing', async () => {
    await h.createUser('raw-reporter-b', 'ou_reporter', ouB);
    const token = await h.login('raw-reporter-b', 'raw-reporter-b-password-123');
    expect((await list(`device_id=${dev.id}`, token)).status).toBe(404);
    expect((await list(`device_id=${dev2.id}`, token)).status).toBe(200);
    expect((await list('device_id=99999999')).status).toBe(404);
    const now = new Date().toISOString();
    for (const bad of [
      '',
      `device_id=${dev.id}&since=${now}&until=${now}`,
      `device_id=${dev.id}&cursor=abc`,
      `device_id=${dev.id}&cursor=1_not-a-uuid`,
      `device_id=${dev.id}&ok=maybe`,
      `device_id=${dev.id}&kind=carrier-pigeon`,
      `device_id=${dev.id}&limit=0`,
      `device_id=${dev.id}&color=red`,
    ]) {
      const r = await list(bad);
      expect(r.status, bad).toBe(400);
      expect(r.body).toMatchObject({ error: expect.any(String), message: expect.any(String) });
    }
    expect((await h.req('GET', `/api/v1/results?device_id=${dev.id}`)).status).toBe(401);
  });
});

describe('maintenance', () => {
  it('creates the coming days’ partitions and applies retention', async () => {
    await foldRollups(h.tdb.db, { until: new Date() });
    await ensureResultPartitions(h.tdb.db, 2);
    await ensureResultPartitions(h.tdb.db, 2);
    const parts = await sql<{
      n: string;
    }>`SELECT count(*) AS n FROM pg_inherits WHERE inhparent = 'results'::regclass`.execute(h.tdb.db);
    expect(Number(parts.rows[0]?.n)).toBe(3);
    await sql`UPDATE result_rollups SET bucket = bucket - interval '30 days' WHERE granularity = 'minute'`.execute(
      h.tdb.db,
    );
    await applyRetention(h.tdb.db, { rawDays: 30, minuteDays: 14, hourDays: 180, dayDays: 1825 });
    const left = await sql<{
      n: string;
    }>`SELECT count(*) AS n FROM result_rollups WHERE granularity = 'minute'`.execute(h.tdb.db);
    expect(Number(left.rows[0]?.n)).toBe(0);
    const hours = await sql<{ n: string }>`SELECT count(*) AS n FROM result_rollups WHERE granularity = 'hour'`.execute(
      h.tdb.db,
    );
    expect(Number(hours.rows[0]?.n)).toBeGreaterThan(0);
  });
});
