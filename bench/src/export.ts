// Results export (`GET /api/v1/results/export`, CSV and NDJSON) from a manager process, beside PostgreSQL's own
// `COPY (SELECT … ORDER BY …) TO STDOUT (FORMAT csv, HEADER)` of the same rows, alternated round by round in one run.
import { get } from 'node:http';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { to as copyTo } from 'pg-copy-streams';
import { createBenchDb, startManagerChild } from './lib/bench-db.js';
import { adminToken, makeFleet } from './lib/fleet.js';
import { commandCpu, processCpu } from './lib/proc-cpu.js';
import { machineLine, publish } from './lib/results.js';
import { median } from './lib/stats.js';

const ROWS = Number(process.env.EXPORT_ROWS ?? 200_000);
const ROUNDS = 3;
const SIDES = ['COPY csv', 'export csv', 'export ndjson'] as const;
type Side = (typeof SIDES)[number];

interface Round {
  round: number;
  side: Side;
  rows: number;
  bytes: number;
  ms: number;
  rowsPerS: number;
  /** CPU µs per row: the manager process, every postgres process, this client */
  managerUs: number;
  postgresUs: number;
  clientUs: number;
}

export interface ExportData {
  rows: number;
  rounds: Round[];
  /** medians per side */
  medians: Record<Side, { rowsPerS: number; managerUs: number; postgresUs: number; clientUs: number; bytes: number }>;
}

/** Counts the bytes and lines of a stream. */
function counter() {
  let bytes = 0;
  let lines = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
      done();
    },
  });
  return { sink, counts: () => ({ bytes, lines }) };
}

async function measure(): Promise<ExportData> {
  const bench = await createBenchDb();
  const m = await startManagerChild(bench.url);
  try {
    const { ouId, devices } = await makeFleet(m.url, undefined, { name: 'export', viaHttp: 1, viaSql: 0 });
    const device = (devices[0] as { id: string }).id;
    const token = await adminToken(m.url);
    // what an agent's TCP probe stores, one result every 200 ms over the last 11 h, to the millisecond as ingest stores them
    const t0 = performance.now();
    await bench.pool.query(
      `INSERT INTO results (id, device_id, ou_id, kind, target, started_at, duration_ms, ok, latency_ms, metrics)
       SELECT gen_random_uuid(), $1, $2, 'tcp', '10.20.0.' || (i % 50) || ':443',
         date_trunc('milliseconds', now() - make_interval(secs => i * 0.2)), 1.734, true, 1.734,
         json_build_object('connectMs', 1.734, 'totalMs', 1.734, 'remoteAddress', '10.20.1.1', 'remotePort', 443,
           'localAddress', '10.0.0.5', 'localPort', 40000 + i % 20000)
       FROM generate_series(1, $3::int) AS i`,
      [device, ouId, ROWS],
    );
    await bench.pool.query('VACUUM ANALYZE results');
    process.stdout.write(`export: ${ROWS} results seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    const since = new Date(Date.now() - 86_400_000).toISOString();
    const until = new Date(Date.now() + 60_000).toISOString();

    const viaHttp = (format: 'csv' | 'ndjson') =>
      new Promise<{ bytes: number; lines: number }>((resolve, reject) => {
        const q = new URLSearchParams({ device_id: device, since, until, format });
        get(`${m.url}/api/v1/results/export?${q}`, { headers: { authorization: `Bearer ${token}` } }, (res) => {
          if (res.statusCode !== 200) return reject(new Error(`export ${format}: HTTP ${res.statusCode}`));
          const c = counter();
          pipeline(res, c.sink).then(
            () => (res.complete ? resolve(c.counts()) : reject(new Error('cut short'))),
            reject,
          );
        }).on('error', reject);
      });
    const viaCopy = async () => {
      const client = await bench.pool.connect();
      try {
        const c = counter();
        const stream = client.query(
          copyTo(`COPY (SELECT id, device_id, kind, target, started_at, duration_ms, ok, error_code, error_message,
              latency_ms, jitter_ms, loss_pct, metrics FROM results
            WHERE device_id = ${Number(device)} AND started_at >= '${since}' AND started_at < '${until}'
            ORDER BY started_at, id) TO STDOUT (FORMAT csv, HEADER)`),
        );
        await pipeline(stream, c.sink);
        return c.counts();
      } finally {
        client.release();
      }
    };

    const run = (side: Side) => (side === 'COPY csv' ? viaCopy() : viaHttp(side === 'export csv' ? 'csv' : 'ndjson'));
    const rounds: Round[] = [];
    // one unmeasured pass of each first: caches and plans warm for both
    for (const side of SIDES) await run(side);
    for (let round = 1; round <= ROUNDS; round++) {
      for (const side of round % 2 ? SIDES : [...SIDES].reverse()) {
        const m0 = processCpu(m.pid).ownMs;
        const p0 = commandCpu('postgres');
        const c0 = process.cpuUsage();
        const t = performance.now();
        const got = await run(side);
        const ms = performance.now() - t;
        const c = process.cpuUsage(c0);
        const rows = got.lines - (side === 'export ndjson' ? 0 : 1);
        if (rows !== ROWS) throw new Error(`${side}: ${rows} rows, expected ${ROWS}`);
        const r: Round = {
          round,
          side,
          rows,
          bytes: got.bytes,
          ms,
          rowsPerS: (rows * 1000) / ms,
          managerUs: side === 'COPY csv' ? 0 : ((processCpu(m.pid).ownMs - m0) * 1000) / rows,
          postgresUs: ((commandCpu('postgres') - p0) * 1000) / rows,
          clientUs: (c.user + c.system) / rows,
        };
        rounds.push(r);
        process.stdout.write(
          `export: round ${round} ${side}: ${r.rowsPerS.toFixed(0)} rows/s, ${(r.bytes / 1e6).toFixed(1)} MB in ${ms.toFixed(0)} ms\n`,
        );
      }
    }
    const medians = Object.fromEntries(
      SIDES.map((side) => {
        const of = rounds.filter((r) => r.side === side);
        const med = (f: (r: Round) => number) => median(of.map(f));
        return [
          side,
          {
            rowsPerS: med((r) => r.rowsPerS),
            managerUs: med((r) => r.managerUs),
            postgresUs: med((r) => r.postgresUs),
            clientUs: med((r) => r.clientUs),
            bytes: med((r) => r.bytes),
          },
        ];
      }),
    ) as ExportData['medians'];
    return { rows: ROWS, rounds, medians };
  } finally {
    await m.stop();
    await bench.drop();
  }
}

export function exportMarkdown(d: ExportData, command: string): string {
  const f1 = (n: number) => n.toFixed(1);
  const copy = d.medians['COPY csv'];
  return [
    '## Results export — streamed from the manager vs COPY TO STDOUT',
    '',
    `Command: \`${command}\` · ${machineLine()}`,
    '',
    `One device with ${d.rows} stored TCP results (the last 11 h, seeded with SQL), all exported in one request,`,
    'oldest first: `GET /api/v1/results/export` from the manager process (CSV and NDJSON, 2000 rows per statement),',
    'beside `COPY (SELECT the same columns … ORDER BY started_at, id) TO STDOUT (FORMAT csv, HEADER)` on one',
    `connection (pg-copy-streams), the client in this process counting bytes and lines. One unmeasured pass of each,`,
    `then ${ROUNDS} rounds, alternating the order. CPU µs per row of the manager process, every postgres process and this client.`,
    '',
    '| round | side | rows | MB | ms | rows/s | manager µs/row | PostgreSQL µs/row | client µs/row |',
    '|---|---|---|---|---|---|---|---|---|',
    ...d.rounds.map(
      (r) =>
        `| ${r.round} | ${r.side} | ${r.rows} | ${f1(r.bytes / 1e6)} | ${r.ms.toFixed(0)} | ${r.rowsPerS.toFixed(0)} | ${f1(r.managerUs)} | ${f1(r.postgresUs)} | ${f1(r.clientUs)} |`,
    ),
    '',
    '| side | rows/s (median) | ÷ COPY |',
    '|---|---|---|',
    ...SIDES.map(
      (s) => `| ${s} | ${d.medians[s].rowsPerS.toFixed(0)} | ${(d.medians[s].rowsPerS / copy.rowsPerS).toFixed(2)} |`,
    ),
    '',
    "No target in QUALITY.md: this records what an export costs. COPY writes PostgreSQL's own text (its timestamp",
    "format, no JSON objects) from inside the server; the export adds the round trips of its pages, the manager's",
    'formatting and HTTP.',
  ].join('\n');
}

export async function exportBench(command: string): Promise<void> {
  const d = await measure();
  const md = exportMarkdown(d, command);
  await publish('EXPORT', md, d);
  process.stdout.write(`${md}\n`);
}
