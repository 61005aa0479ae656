// B9 seed: OUs, 100k devices, their latest results and open alerts, and 30 days of result rollups, all
// with set-based SQL (INSERT … SELECT over generate_series), each step timed for the report.
import type pg from 'pg';

export const DEVICES = 100_000;
export const PARENTS = 10;
export const CHILDREN_PER_PARENT = 9; // 10 + 90 = 100 OUs
/** devices whose hostname number n has n % SAMPLE_MOD = 1 get hour and minute rollups (1 %) */
export const SAMPLE_MOD = 100;
export const DAY_DAYS = 30;
export const HOUR_DAYS = 30;
export const MINUTE_HOURS = 12;
/** hours of raw results (one a minute per series) for the sampled devices */
export const RAW_HOURS = 12;
/** the target every agent probes (multi-vantage) */
export const SHARED_TARGET = 'https://www.example.com/';

export interface SeedStep {
  what: string;
  rows: number;
  seconds: number;
}

export interface SeedIds {
  parent: string;
  parentPath: string;
  child: string;
  childPath: string;
  deepId: string;
  /** a device of the 1 % sample and the target of its mesh (icmp) series */
  seriesDevice: string;
  seriesTarget: string;
}

/** The three series of device n: the shared HTTP target, one of 20 TCP services, and an ICMP probe of a
 * peer in the same site (the next device of its OU, wrapping) — the agent-to-agent mesh. */
const SERIES = `CREATE TABLE bench_b9_series AS
  SELECT d.id AS device_id, d.ou_id, n.n, s.kind, s.target
  FROM devices d, LATERAL (SELECT substr(d.hostname, 6)::int AS n) AS n,
  LATERAL (VALUES ('http', '${SHARED_TARGET}'), ('tcp', 'target-' || (n.n % 20) || '.example.net:443'),
    ('icmp', 'host-' || CASE WHEN n.n + 90 <= ${DEVICES} THEN n.n + 90 ELSE (n.n - 1) % 90 + 1 END)) AS s(kind, target)`;

/** Latency histograms (64 log buckets, see 0003_results.sql) per granularity: 8 shapes each, built by
 * rk_hist over n samples (1 probe a minute: n = 1 / 60 / 1440). */
const HISTS = `CREATE TABLE bench_b9_hist AS
  SELECT g, v, n, rk_hist(array(SELECT 2 + random() * 30 + v * 3 FROM generate_series(1, n) WHERE g IS NOT NULL)) AS hist
  FROM (VALUES ('minute', 1), ('hour', 60), ('day', 1440)) AS t(g, n), generate_series(0, 7) AS v`;

/** Rollups of one granularity, inserted bucket by bucket (ORDER BY bucket) like live ingest lays them out:
 * one series' buckets end up on different heap pages, not packed together. */
function rollups(granularity: 'minute' | 'hour' | 'day', buckets: number, where: string): string {
  return `INSERT INTO result_rollups (granularity, bucket, device_id, kind, target, ou_id, count, ok_count, lat_count,
      lat_sum, lat_min, lat_max, jitter_sum, jitter_count, loss_sum, loss_count, hist)
    SELECT '${granularity}', b, s.device_id, s.kind, s.target, s.ou_id, h.n,
      h.n - CASE WHEN s.n % 50 = 0 THEN h.n / 10 ELSE 0 END, h.n, h.n * (17 + h.v * 3), 2 + h.v, 32 + h.v * 3,
      h.n * 0.4, h.n, 0, CASE WHEN s.kind = 'icmp' THEN h.n ELSE 0 END, h.hist
    FROM generate_series(date_trunc('${granularity}', now()) - ${buckets - 1} * interval '1 ${granularity}',
      date_trunc('${granularity}', now()), interval '1 ${granularity}') AS b
    CROSS JOIN bench_b9_series s JOIN bench_b9_hist h ON h.g = '${granularity}' AND h.v = s.n % 8
    WHERE ${where}
    ORDER BY b`;
}

async function timed(pool: pg.Pool, steps: SeedStep[], what: string, sql: string, params: unknown[] = []) {
  const t0 = performance.now();
  const r = await pool.query(sql, params);
  steps.push({ what, rows: r.rowCount ?? 0, seconds: (performance.now() - t0) / 1000 });
}

/** Fills the bench database; returns the ids the queries use and what each step inserted and took. */
export async function seed(pool: pg.Pool): Promise<{ ids: SeedIds; steps: SeedStep[] }> {
  const steps: SeedStep[] = [];
  const t0 = performance.now();
  const parents: { id: string; path: string }[] = [];
  const children: { id: string; path: string }[] = [];
  for (let p = 0; p < PARENTS; p++) {
    const r = await pool.query<{ id: string }>(`INSERT INTO ous (name, path) VALUES ($1, '') RETURNING id`, [
      `region-${p}`,
    ]);
    const id = String(r.rows[0]?.id);
    await pool.query(`UPDATE ous SET path = '/' || id || '/' WHERE id = $1`, [id]);
    parents.push({ id, path: `/${id}/` });
    for (let c = 0; c < CHILDREN_PER_PARENT; c++) {
      const rc = await pool.query<{ id: string }>(
        `INSERT INTO ous (parent_id, name, path) VALUES ($1, $2, '') RETURNING id`,
        [id, `site-${c}`],
      );
      const cid = String(rc.rows[0]?.id);
      await pool.query(`UPDATE ous SET path = $2 || id || '/' WHERE id = $1`, [cid, `/${id}/`]);
      children.push({ id: cid, path: `/${id}/${cid}/` });
    }
  }
  steps.push({ what: 'OUs', rows: parents.length + children.length, seconds: (performance.now() - t0) / 1000 });
  await timed(
    pool,
    steps,
    'devices (2 labels, 10 % offline)',
    `INSERT INTO devices (ou_id, serial, hostname, os, os_version, client_type, client_version, labels, credential_hash, status, last_seen_at)
     SELECT ($1::bigint[])[1 + i % $2], 'b9-' || i, 'host-' || i, 'Linux', '6', 'bench', '1',
       ARRAY['site-' || (i % 50), 'role-' || (i % 7)], md5(i::text) || md5((i * 7)::text),
       CASE WHEN i % 10 = 0 THEN 'offline' ELSE 'online' END, now() - (i % 600) * interval '1 second'
     FROM generate_series(1, $3::int) AS i`,
    [children.map((c) => c.id), children.length, DEVICES],
  );
  await pool.query(SERIES);
  await pool.query(HISTS);
  await timed(
    pool,
    steps,
    'result_latest (3 series per device, 2 % failing)',
    `INSERT INTO result_latest (device_id, kind, target, ou_id, result_id, started_at, ok, latency_ms, loss_pct)
     SELECT device_id, kind, target, ou_id, gen_random_uuid(), now() - random() * interval '60 seconds', random() > 0.02,
       random() * 50, CASE WHEN kind = 'icmp' THEN 0 END FROM bench_b9_series`,
  );
  await timed(
    pool,
    steps,
    'alert_states (latency; 1 % of devices warning, 0.3 % critical, rest ok)',
    `INSERT INTO alert_states (device_id, kind, target, metric, state, pending, pending_count, since, last_value, last_at)
     SELECT device_id, kind, target, 'latency', st, st, 1, now() - interval '1 hour', 20, now()
     FROM (SELECT *, CASE WHEN n % 100 = 7 THEN 'warning' WHEN n % 300 = 11 THEN 'critical' ELSE 'ok' END AS st
           FROM bench_b9_series) AS x`,
  );
  await timed(pool, steps, `day rollups, every series, ${DAY_DAYS} days`, rollups('day', DAY_DAYS, 'true'));
  const sample = `s.n % ${SAMPLE_MOD} = 1`;
  await timed(pool, steps, `hour rollups, 1 % of devices, ${HOUR_DAYS} days`, rollups('hour', HOUR_DAYS * 24, sample));
  await timed(
    pool,
    steps,
    `minute rollups, 1 % of devices, last ${MINUTE_HOURS} h`,
    rollups('minute', MINUTE_HOURS * 60, sample),
  );
  await timed(
    pool,
    steps,
    `raw results, 1 % of devices, every series, last ${RAW_HOURS} h (2 % failed, with an error)`,
    `INSERT INTO results (id, device_id, ou_id, kind, target, started_at, duration_ms, ok, error_code, error_message,
       latency_ms, metrics)
     SELECT gen_random_uuid(), s.device_id, s.ou_id, s.kind, s.target, now() - i * interval '1 minute', 20,
       i % 50 <> 7, CASE WHEN i % 50 = 7 THEN 'timeout' END, CASE WHEN i % 50 = 7 THEN 'no answer within 5000 ms' END,
       random() * 50, '{"connectMs": 12.5, "totalMs": 20.1, "remoteAddress": "192.0.2.10", "remotePort": 443}'
     FROM bench_b9_series s CROSS JOIN generate_series(0, ${RAW_HOURS * 60 - 1}) AS i WHERE ${sample}`,
  );
  // the manager's offline job (180 s threshold) has been running during the rollup inserts: make the fleet
  // live again right before the measurements, as heartbeating agents keep it (10 % offline, rest seen < 60 s ago)
  await timed(
    pool,
    steps,
    'devices: status and last_seen_at refreshed (10 % offline)',
    `UPDATE devices SET
       status = CASE WHEN substr(hostname, 6)::int % 10 = 0 THEN 'offline' ELSE 'online' END,
       last_seen_at = CASE WHEN substr(hostname, 6)::int % 10 = 0 THEN now() - interval '1 hour'
         ELSE now() - (substr(hostname, 6)::int % 60) * interval '1 second' END`,
  );
  await timed(
    pool,
    steps,
    'ANALYZE',
    'ANALYZE ous; ANALYZE devices; ANALYZE result_latest; ANALYZE alert_states; ANALYZE result_rollups; ANALYZE results',
  );
  const deep = await pool.query<{ id: string }>('SELECT id FROM devices ORDER BY id OFFSET $1 LIMIT 1', [
    Math.floor(DEVICES * 0.9),
  ]);
  const s = await pool.query<{ device_id: string; target: string }>(
    `SELECT device_id, target FROM bench_b9_series WHERE n = $1 AND kind = 'icmp'`,
    [Math.floor(DEVICES * 0.9) + 1],
  );
  await pool.query('DROP TABLE bench_b9_series; DROP TABLE bench_b9_hist');
  const parent = parents[3] as { id: string; path: string };
  const child = children[42] as { id: string; path: string };
  return {
    ids: {
      parent: parent.id,
      parentPath: parent.path,
      child: child.id,
      childPath: child.path,
      deepId: String(deep.rows[0]?.id),
      seriesDevice: String(s.rows[0]?.device_id),
      seriesTarget: String(s.rows[0]?.target),
    },
    steps,
  };
}
