// B1: result ingest + heartbeat + config mix with per-device credentials under open-loop load, beside a bare
// node:http JSON server at the same offered loads, and PostgreSQL COPY of the same result rows, in one run.
import { availableParallelism } from 'node:os';
import type pg from 'pg';
import { newResultId } from '../../apps/agent/src/tasks/result-id.js';
import { ROLLUP_GRACE_MS, ROLLUP_SLICE_MS } from '../../apps/manager/src/jobs/rollup-fold.js';
import { DEFAULT_INGEST_QUEUE } from '../../apps/manager/src/services/ingest-queue.js';
import { createBenchDb, startBareServerChild, startManagerChild } from './lib/bench-db.js';
import { writeBackDirtyPages } from './lib/exec.js';
import { copyReference, copyText } from './lib/copy-ref.js';
import { type BenchDevice, makeFleet } from './lib/fleet.js';
import { commandCpu, machineCpu, machineShare, nodeTreeCpu, processCpu } from './lib/proc-cpu.js';
import {
  keepAliveAgent,
  type LoadRequest,
  openLoopStep,
  runLadder,
  send,
  stepCell,
  type StepResult,
  stepPasses,
  sustainedRate,
} from './lib/open-loop.js';
import { parsePromText, type Sample, sampleValue } from './lib/prom-text.js';
import { machineLine, progress, publish } from './lib/results.js';
import { median, ms, summarize } from './lib/stats.js';

// finer steps where either server tops out, so neither sustained rate is rounded down far (a bare server
// that failed 12 800 three times once counted as 9600, making the ratio 0.66: 2026-12-06); up to 20 800, as the
// bare server passed 16 000 on a fast machine (2026-12-07), when the ratio was only an upper bound
const RATES = [
  50, 100, 200, 400, 600, 800, 1000, 1200, 1400, 1600, 2000, 2400, 2800, 3200, 3600, 4000, 4400, 4800, 5600, 6400, 7200,
  8000, 9600, 11200, 12800, 14400, 16000, 17600, 19200, 20800,
];
const STEP_MS = 3000;
const ATTEMPTS = 3; // per ladder step, until one passes
// why: the ladder's top steps are 12–20 % apart, so each sustained rate was rounded down by up to that much,
// the two independently; two halvings after the ladder stops narrow that to a quarter (from 2026-12-06)
const REFINE = 2;
const BATCH = 10; // results per upload in the mix
const INGEST_ROWS = 100_000;
const INGEST_BATCH = 500;
const INGEST_WORKERS = 8; // uploads in flight at once (agents uploading together)
// row ingest and COPY alternated; the verdict is the median round's ratio. 5 from 2026-12-07 (3 before): the
// rounds of one run spread from 0.38 to 0.58, so the median of 3 moved with one slow round
const ROW_ROUNDS = 5;
/** uploads (of INGEST_BATCH results) in the unmeasured warm-up round before the row rounds (from 2026-12-07) */
const ROW_WARMUP_UPLOADS = 40;

function result(n: number, at: string) {
  return {
    id: newResultId(),
    result: {
      kind: 'tcp',
      target: `10.20.0.${n % 50}:443`,
      ok: true,
      startedAt: at,
      durationMs: 1.734,
      // what the agent's tcp probe reports (TcpMetrics): connectMs is the headline latency
      metrics: {
        connectMs: 1.734,
        totalMs: 1.734,
        remoteAddress: '10.20.1.1',
        remotePort: 443,
        localAddress: '10.0.0.5',
        localPort: 40000 + (n % 20000),
      },
    },
  };
}

/** An upload of `results` by device `d`. */
function uploadOf(d: BenchDevice, results: ReturnType<typeof result>[]): LoadRequest {
  return {
    method: 'POST',
    path: '/api/v1/results/upload',
    headers: { authorization: `Bearer ${d.credential}`, 'x-api-version': '1' },
    body: JSON.stringify({ results }),
  };
}

/** `size` results of one start time (now), numbered from `n * size`, as device `d` uploads them. */
const batchOf = (n: number, size: number) => {
  const at = new Date().toISOString();
  return Array.from({ length: size }, (_, k) => result(n * size + k, at));
};

function upload(d: BenchDevice, n: number, size: number): LoadRequest {
  return uploadOf(d, batchOf(n, size));
}

type Kind = 'upload' | 'heartbeat' | 'config';
const KINDS: readonly Kind[] = ['upload', 'heartbeat', 'config'];

/** One request of `kind` by device `d` (`n` numbers the upload's results). */
function request(kind: Kind, d: BenchDevice, n: number): LoadRequest {
  const auth = { authorization: `Bearer ${d.credential}`, 'x-api-version': '1' };
  if (kind === 'upload') return { ...upload(d, n, BATCH), kind };
  if (kind === 'heartbeat')
    return {
      kind,
      method: 'POST',
      path: `/api/v1/enrollment/devices/${d.id}/heartbeat`,
      headers: auth,
      body: JSON.stringify({ agent_state: 'enrolled', config_version: 1, spool_backlog: 0 }),
    };
  return {
    kind,
    method: 'GET',
    path: `/api/v1/enrollment/config?device_serial=${encodeURIComponent(d.serial)}`,
    headers: auth,
  };
}

/** Uploads per 10 requests of the mix. */
const UPLOADS_PER_10 = 4;

/** The mix: 40 % uploads of 10 results, 50 % heartbeats, 10 % config check-ins, round-robin over devices. */
export function mix(devices: BenchDevice[]) {
  return (i: number): LoadRequest => {
    const slot = i % 10;
    return request(
      slot < UPLOADS_PER_10 ? 'upload' : slot < 9 ? 'heartbeat' : 'config',
      devices[i % devices.length] as BenchDevice,
      i,
    );
  };
}

/** Requests of one kind only, round-robin over devices. */
export const onlyKind = (kind: Kind, devices: BenchDevice[]) => (i: number) =>
  request(kind, devices[i % devices.length] as BenchDevice, 3_000_000 + i);

/** A ladder step with its attempt number and the CPU µs per answered request of each process. */
export interface MixStep extends StepResult {
  attempt: number;
  cpu: Omit<RequestCost, 'kind'>;
  /**
   * The manager's ingest transactions during the step (its `rookery_ingest_transaction_seconds`, runs from
   * 2026-12-07 19:13 on; none for the bare server): how many, how many took over 100 ms, and the smallest of the
   * histogram's bounds that held them all, seconds (null: over its largest, or none ended).
   */
  ingest?: IngestStep;
  /**
   * The whole machine during the step, % of all its cores' time (/proc/stat; runs from 2026-12-08 on): busy (every
   * process and the kernel, so anything besides the three shows as busy above theirs) and stolen by the hypervisor.
   */
  machine?: { busy: number; steal: number };
}

export interface IngestStep {
  transactions: number;
  over100ms: number;
  slowestWithin: number | null;
}

const TRANSACTION_SECONDS = 'rookery_ingest_transaction_seconds';

/** The manager's ingest transaction histogram now: its finite buckets' counts by bound (`le`), and the count. */
async function transactionHistogram(base: string): Promise<{ buckets: Map<number, number>; count: number }> {
  const samples = await scrapeMetrics(base);
  const buckets = new Map<number, number>();
  for (const x of samples)
    if (x.name === `${TRANSACTION_SECONDS}_bucket` && x.labels.le !== '+Inf') buckets.set(Number(x.labels.le), x.value);
  return { buckets, count: sampleValue(samples, `${TRANSACTION_SECONDS}_count`) ?? Number.NaN };
}

/** What ended between two readings of the histogram. */
export function ingestStep(
  a: Awaited<ReturnType<typeof transactionHistogram>>,
  b: Awaited<ReturnType<typeof transactionHistogram>>,
): IngestStep {
  const n = b.count - a.count;
  const within = (le: number) => (b.buckets.get(le) ?? Number.NaN) - (a.buckets.get(le) ?? Number.NaN);
  const bounds = [...b.buckets.keys()].sort((x, y) => x - y);
  return {
    transactions: n,
    over100ms: n - within(0.1),
    slowestWithin: n > 0 ? (bounds.find((le) => within(le) === n) ?? null) : null,
  };
}

/** CPU ms so far of the server, of every postgres process and of this process. */
export const cpuNow = (serverPid: number) => ({
  server: nodeTreeCpu(serverPid),
  postgres: commandCpu('postgres'),
  generator: processCpu('self').ownMs,
});

/** CPU µs per request between two `cpuNow` readings. */
export function cpuPer(a: ReturnType<typeof cpuNow>, b: ReturnType<typeof cpuNow>, requests: number) {
  const per = (x: number, y: number) => ((y - x) * 1000) / Math.max(1, requests);
  return {
    server: per(a.server, b.server),
    postgres: per(a.postgres, b.postgres),
    generator: per(a.generator, b.generator),
  };
}

/** A ladder step as one progress line: `name` the ladder's server and run, as the table names them. */
export const stepLine = (name: string, s: MixStep) =>
  `${name}, ${s.offered} req/s${s.attempt > 1 ? ` (attempt ${s.attempt})` : ''}: achieved ${s.achieved.toFixed(0)}, ` +
  `p99 ${f1(s.latency.p99)} ms (upload / heartbeat / config ${byKind(s)}), busy ${busy(s).toFixed(0)} %` +
  `${s.machine ? ` (machine ${machineCell(s)} %)` : ''}` +
  `${s.ingest ? `, ingest transactions ${ingestCell(s.ingest)}` : ''}, ${passFail(stepPasses(s))}`;

async function ladder(
  name: string,
  base: string,
  devices: BenchDevice[],
  serverPid: number,
  /** the manager: read its ingest transactions around each step (outside the CPU readings) */
  manager = false,
): Promise<MixStep[]> {
  // the rows written before the ladder (the row rounds' uploads and their COPY reference: 10⁶ rows)
  progress('b1', `${name}: dirty pages written back (${writeBackDirtyPages().toFixed(1)} s)`);
  const agent = keepAliveAgent();
  const make = mix(devices);
  await openLoopStep(base, agent, 100, 3000, make); // warm-up: JIT, pools, caches
  const steps = await runLadder(
    RATES,
    ATTEMPTS,
    async (rate, attempt) => {
      const h0 = manager ? await transactionHistogram(base) : undefined;
      const c0 = cpuNow(serverPid);
      const m0 = machineCpu();
      const s = await openLoopStep(base, agent, rate, STEP_MS, make);
      const machine = machineShare(m0, machineCpu());
      const cpu = cpuPer(c0, cpuNow(serverPid), s.ok);
      const step = {
        ...s,
        cpu,
        machine,
        ...(h0 ? { ingest: ingestStep(h0, await transactionHistogram(base)) } : {}),
      };
      progress('b1', stepLine(name, { ...step, attempt }));
      return step;
    },
    { refine: REFINE, grain: 100 },
  );
  agent.destroy();
  progress('b1', `${name}: sustained ${sustainedRate(steps).toFixed(0)} req/s`);
  return steps;
}

/** CPU µs per stored row during the row-ingest phase, by process. */
export interface RowCpu {
  manager: number;
  postgres: number;
  generator: number;
}

/** The row-ingest phase's uploads: batch n by device n mod the fleet's size. */
export interface IngestBatch {
  device: BenchDevice;
  results: ReturnType<typeof result>[];
}

/** INGEST_ROWS results in uploads of INGEST_BATCH, for `ingestRate` and then the COPY reference (`copyRate`). */
export const ingestBatches = (devices: BenchDevice[]): IngestBatch[] =>
  Array.from({ length: INGEST_ROWS / INGEST_BATCH }, (_, n) => ({
    device: devices[n % devices.length] as BenchDevice,
    results: batchOf(n + 1_000_000, INGEST_BATCH),
  }));

export async function ingestRate(
  base: string,
  devices: BenchDevice[],
  managerPid: number,
  /** the uploads; default fresh ones (`ingestBatches`) */
  uploads: IngestBatch[] = ingestBatches(devices),
): Promise<{ rows: number; ms: number; rejected429: number; cpu: RowCpu }> {
  const batches = uploads.length;
  // built before the clock starts, as the COPY reference's lines are
  const bodies = uploads.map((u) => uploadOf(u.device, u.results));
  let next = 0;
  let rows = 0;
  let rejected429 = 0;
  const deadline = performance.now() + 60_000;
  const t0 = performance.now();
  // node:http on keep-alive sockets, as the ladders: fetch (undici) cost this process about 9 µs per row
  const url = new URL(base);
  const agent = keepAliveAgent(INGEST_WORKERS);
  const worker = async () => {
    while (next < batches && performance.now() < deadline) {
      const n = next++;
      const r = await send(url, agent, bodies[n] as LoadRequest, 30_000);
      if (r.status === 429) {
        rejected429++;
        next--; // retry this batch number later
        continue;
      }
      if (r.status !== 200) throw new Error(`upload → ${r.status} ${r.body.slice(0, 200)}`);
      rows += (JSON.parse(r.body) as { stored?: number }).stored ?? 0;
    }
  };
  const c0 = cpuNow(managerPid);
  await Promise.all(Array.from({ length: INGEST_WORKERS }, worker));
  const ms = performance.now() - t0;
  const { server, postgres, generator } = cpuPer(c0, cpuNow(managerPid), rows);
  agent.destroy();
  return { rows, ms, rejected429, cpu: { manager: server, postgres, generator } };
}

const COST_RATE = 2000; // req/s while measuring CPU per request: below every ladder's limit
const COST_MS = 4000;

/** CPU µs per request of one kind (or the mix), by process, at COST_RATE req/s. */
export interface RequestCost {
  kind: Kind | 'mix';
  server: number;
  postgres: number;
  generator: number;
}

/**
 * CPU of the server, of PostgreSQL and of this process per answered request, for each kind and the mix.
 * With `settle` (the manager: until the rollups have every stored result), each kind's window runs on
 * until it resolves, so the fold of a kind's results is charged to that kind and not to the next one
 * (the fold lags ingest by a slice and its grace, about 15 s).
 */
async function requestCosts(
  base: string,
  devices: BenchDevice[],
  serverPid: number,
  settle: () => Promise<unknown> = async () => {},
): Promise<RequestCost[]> {
  const agent = keepAliveAgent();
  const out: RequestCost[] = [];
  try {
    await settle(); // the ladder's leftovers
    for (const kind of [...KINDS, 'mix'] as const) {
      const make = kind === 'mix' ? mix(devices) : onlyKind(kind, devices);
      const c0 = cpuNow(serverPid);
      const step = await openLoopStep(base, agent, COST_RATE, COST_MS, make);
      await settle();
      out.push({ kind, ...cpuPer(c0, cpuNow(serverPid), step.ok) });
    }
  } finally {
    agent.destroy();
  }
  return out;
}

export interface UploadCost {
  size: number;
  p50: number;
  p90: number;
  xactsPerUpload: number;
}

/**
 * Milliseconds from now until the rollup fold job has every stored result in the rollups (its folded
 * watermark past the newest start time and nothing queued; polled every 100 ms; null after 60 s), and
 * the CPU µs of every postgres process meanwhile per row stored (`rows`).
 */
async function rollupsCaughtUp(pool: pg.Pool, rows: number): Promise<{ ms: number; postgresPerRow: number } | null> {
  const t0 = performance.now();
  const pg0 = commandCpu('postgres');
  while (performance.now() - t0 < 60_000) {
    const r = await pool.query<{ done: boolean }>(`SELECT NOT EXISTS (SELECT FROM rollup_pending)
      AND (SELECT at FROM rollup_watermarks WHERE name = 'folded') > (SELECT max(started_at) FROM results) AS done`);
    if (r.rows[0]?.done) {
      return { ms: performance.now() - t0, postgresPerRow: ((commandCpu('postgres') - pg0) * 1000) / rows };
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  return null;
}

/**
 * Closed loop, one at a time: wall time of one upload of `size` results and the manager's ingest transactions
 * per upload (its own counter: PostgreSQL's transaction counts reach its statistics up to seconds late, and a
 * hundred uploads now take about a tenth of a second).
 */
async function uploadCosts(base: string, devices: BenchDevice[]): Promise<UploadCost[]> {
  const out: UploadCost[] = [];
  for (const size of [1, 10, 100]) {
    const x0 = await ingestTransactions(base);
    const t: number[] = [];
    for (let i = 0; i < 100; i++) {
      const r = upload(devices[i % devices.length] as BenchDevice, 2_000_000 + size * 1000 + i, size);
      const t0 = performance.now();
      const res = await fetch(`${base}${r.path}`, {
        method: 'POST',
        headers: { ...r.headers, 'content-type': 'application/json' },
        body: r.body,
        signal: AbortSignal.timeout(30_000),
      });
      await res.text();
      if (res.status !== 200) throw new Error(`upload → ${res.status}`);
      t.push(performance.now() - t0);
    }
    const x1 = await ingestTransactions(base);
    const sm = summarize(t);
    out.push({ size, p50: sm.p50, p90: sm.p90, xactsPerUpload: (x1 - x0) / t.length });
  }
  return out;
}

/**
 * The group commit's collection window (ROOKERY_INGEST_LINGER_MS) off, at 5 ms (the default until 2026-12-06) and at
 * its default, alternated.
 */
const WINDOWS = [...new Set([0, 5, DEFAULT_INGEST_QUEUE.lingerMs ?? 0])];
const WINDOW_RATES = [4000, 5600];
const WINDOW_ROUNDS = 3;

/** One fixed-rate mix step of the collection-window comparison. */
export interface WindowStep {
  lingerMs: number;
  round: number;
  offered: number;
  achieved: number;
  p99: number;
  cpu: Omit<RequestCost, 'kind'>;
  /** upload transactions per upload (the manager's rookery_ingest_transactions_total) */
  xactsPerUpload: number;
}

/** The manager's /metrics, parsed. */
export async function scrapeMetrics(base: string): Promise<Sample[]> {
  return parsePromText(await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(10_000) })).text());
}

async function ingestTransactions(base: string): Promise<number> {
  return sampleValue(await scrapeMetrics(base), 'rookery_ingest_transactions_total') ?? Number.NaN;
}

/**
 * The mix at fixed rates on a manager started with the collection window off and at its default, in
 * alternated rounds (a fresh manager each time, same database and fleet): CPU per request by process and
 * transactions per upload. The machine's noise moves both alike within a round.
 */
async function windowComparison(dbUrl: string, devices: BenchDevice[]): Promise<WindowStep[]> {
  const out: WindowStep[] = [];
  for (let round = 1; round <= WINDOW_ROUNDS; round++) {
    for (const lingerMs of WINDOWS) {
      const m = await startManagerChild(dbUrl, {
        ROOKERY_INGEST_LINGER_MS: String(lingerMs),
        ROOKERY_WORKERS: String(B1_WORKERS()),
      });
      const agent = keepAliveAgent();
      try {
        const make = mix(devices);
        await openLoopStep(m.url, agent, 1000, 2000, make); // warm-up: JIT, pools, caches
        for (const rate of WINDOW_RATES) {
          const c0 = cpuNow(m.pid);
          const x0 = await ingestTransactions(m.url);
          const s = await openLoopStep(m.url, agent, rate, STEP_MS, make);
          const x1 = await ingestTransactions(m.url);
          out.push({
            lingerMs,
            round,
            offered: rate,
            achieved: s.achieved,
            p99: s.latency.p99,
            cpu: cpuPer(c0, cpuNow(m.pid), s.ok),
            xactsPerUpload: (x1 - x0) / Math.max(1, (s.ok * UPLOADS_PER_10) / 10),
          });
        }
      } finally {
        agent.destroy();
        await m.stop();
      }
    }
  }
  return out;
}

/**
 * COPY of the rows the row-ingest phase uploaded (`uploads`: same ids, devices and start times) into a
 * table shaped like `results`. Until 2026-12-06 every line was one device's: with results keyed by device
 * (ADR 10) that made COPY a single append and no longer the same rows.
 */
export function copyRate(
  pool: pg.Pool,
  uploads: IngestBatch[],
  ouId: string,
): Promise<{ rows: number; ms: number; postgresUsPerRow: number }> {
  const lines: string[] = [];
  for (const u of uploads) {
    for (const r of u.results) {
      const metrics = copyText(JSON.stringify(r.result.metrics));
      lines.push(
        [
          r.id,
          u.device.id,
          ouId,
          'tcp',
          r.result.target,
          r.result.startedAt,
          '1.734',
          't',
          '\\N',
          '1.734',
          '\\N',
          '\\N',
          metrics,
        ].join('\t'),
      );
    }
  }
  return copyReference(pool, lines);
}

/** One round of row ingest followed by COPY of the same number of rows. */
export type RowRound = Pick<B1Data, 'ingest' | 'copy' | 'rowsRatio'> & { round: number };

export interface B1Data {
  /** the manager's ladder (its first, in runs with `oursAgain`) */
  ours: MixStep[];
  /**
   * the manager's second ladder, after its row rounds (runs from 2026-12-07 09:40 on); the faster of the two
   * counts, as the reference's faster ladder does
   */
  oursAgain?: MixStep[];
  /** the bare server's ladder after the manager's (its CPU per kind is measured then too) */
  bare: MixStep[];
  /** the same ladder before the manager's (runs from 2026-12-06 on); the faster of the two is the reference */
  bareBefore?: MixStep[];
  oursSustained: number;
  bareSustained: number;
  reqRatio: number;
  ingest: {
    rows: number;
    ms: number;
    rejected429: number;
    rowsPerSecond: number;
    foldedAfterMs: number | null;
    /** CPU µs of every postgres process per row from the end of the phase until the rollups caught up */
    foldPostgresPerRow?: number | null;
    cpu: RowCpu;
  };
  copy: { rows: number; ms: number; rowsPerSecond: number; postgresUsPerRow: number };
  rowsRatio: number;
  /** row ingest and COPY alternated (runs before 2026-12-06 had one of each); the fields above are the median round's */
  rowRounds?: RowRound[];
  /** rows of the unmeasured round of each before the row rounds (runs from 2026-12-07 on) */
  rowWarmupRows?: number;
  uploadCosts: UploadCost[];
  /** CPU per request by kind, manager and bare server */
  costs: { manager: RequestCost[]; bare: RequestCost[] };
  /** the mix with the collection window off and on */
  windows: WindowStep[];
}

/** Manager (and bare server) worker processes for B1: B1_WORKERS, default 1. */
const B1_WORKERS = () => Number(process.env.B1_WORKERS ?? 1);

/** Runs B1: fleet of 200 devices (100 enrolled over HTTP), ladders on both servers, ingest vs COPY. */
export async function runB1(): Promise<B1Data> {
  const workers = B1_WORKERS();
  const db = await createBenchDb();
  try {
    // why: these shared cores slow down and speed up over a run; the reference runs before and after the
    // manager and the faster run counts, so a slow spell late in the run cannot flatter the manager. The
    // manager's ladder runs twice too (after the mix's costs, and again after the row rounds) and its faster
    // run counts, so a slow spell during the manager's one ladder cannot flatter the reference (until
    // 2026-12-07 it ran once against the reference's best of two)
    const bareLadder = async (devices: BenchDevice[]) => {
      const bareServer = await startBareServerChild(workers);
      try {
        return await ladder('bare node:http, before', bareServer.url, devices, bareServer.pid);
      } finally {
        await bareServer.stop();
      }
    };
    const manager = await startManagerChild(db.url, { ROOKERY_WORKERS: String(workers) });
    let ours: MixStep[];
    let oursAgain: MixStep[];
    let fleet: Awaited<ReturnType<typeof makeFleet>>;
    let costs: UploadCost[];
    let managerCosts: RequestCost[];
    let bareBefore: MixStep[];
    const rowRounds: RowRound[] = [];
    let warmupRows = 0;
    try {
      fleet = await makeFleet(manager.url, db.pool, { name: 'b1', viaHttp: 100, viaSql: 100 });
      progress('b1', `fleet of ${fleet.devices.length} devices ready; ladders of ${STEP_MS / 1000}-s steps`);
      bareBefore = await bareLadder(fleet.devices);
      ours = await ladder('manager, first', manager.url, fleet.devices, manager.pid, true);
      progress('b1', `CPU per request of each kind at ${COST_RATE} req/s (manager)`);
      managerCosts = await requestCosts(manager.url, fleet.devices, manager.pid, () => rollupsCaughtUp(db.pool, 1));
      progress('b1', `row ingest against COPY: ${ROW_ROUNDS} rounds of ${INGEST_ROWS} rows after a warm-up`);
      // why: in two of the three runs of 2026-12-07 the first round of 500-result uploads ran at 0.6–0.7× the
      // later rounds' rate with 1.5–2.0× their manager CPU per row (the mix's uploads hold 10 results: JIT and
      // heap warm-up of the large-batch path); so one unmeasured round of each side first, as the ladder has
      // its warm-up step. In the first run with it the first measured round was still among the slowest (0.317
      // against 0.314–0.400): the spread of the rounds is this machine's, not only the warm-up's
      const warm = ingestBatches(fleet.devices).slice(0, ROW_WARMUP_UPLOADS);
      warmupRows = (await ingestRate(manager.url, fleet.devices, manager.pid, warm)).rows;
      await rollupsCaughtUp(db.pool, warmupRows);
      await copyRate(db.pool, warm, fleet.ouId);
      // alternated with COPY, each round after the rollups caught up with the previous one
      for (let round = 1; round <= ROW_ROUNDS; round++) {
        const uploads = ingestBatches(fleet.devices);
        const ingest = await ingestRate(manager.url, fleet.devices, manager.pid, uploads);
        const folded = await rollupsCaughtUp(db.pool, ingest.rows);
        const copy = await copyRate(db.pool, uploads, fleet.ouId);
        const ingestRps = (ingest.rows / ingest.ms) * 1000;
        const copyRps = (copy.rows / copy.ms) * 1000;
        rowRounds.push({
          round,
          ingest: {
            ...ingest,
            rowsPerSecond: ingestRps,
            foldedAfterMs: folded?.ms ?? null,
            foldPostgresPerRow: folded?.postgresPerRow ?? null,
          },
          copy: { ...copy, rowsPerSecond: copyRps },
          rowsRatio: ingestRps / copyRps,
        });
        progress(
          'b1',
          `row round ${round}/${ROW_ROUNDS}: ingest ${ingestRps.toFixed(0)} rows/s, COPY ${copyRps.toFixed(0)} rows/s, ` +
            `ratio ${(ingestRps / copyRps).toFixed(3)}`,
        );
      }
      progress('b1', 'closed-loop uploads of 1, 10 and 100 results');
      costs = await uploadCosts(manager.url, fleet.devices);
      oursAgain = await ladder('manager, second', manager.url, fleet.devices, manager.pid, true);
    } finally {
      await manager.stop();
    }
    progress(
      'b1',
      `collection window ${WINDOWS.join(' / ')} ms at ${WINDOW_RATES.join(' and ')} req/s, ${WINDOW_ROUNDS} rounds`,
    );
    const windows = await windowComparison(db.url, fleet.devices);
    const bareServer = await startBareServerChild(workers);
    let bare: MixStep[];
    let bareCosts: RequestCost[];
    try {
      bare = await ladder('bare node:http, after', bareServer.url, fleet.devices, bareServer.pid);
      bareCosts = await requestCosts(bareServer.url, fleet.devices, bareServer.pid);
    } finally {
      await bareServer.stop();
    }
    const oursSustained = Math.max(sustainedRate(ours), sustainedRate(oursAgain));
    const bareSustained = Math.max(sustainedRate(bareBefore), sustainedRate(bare));
    // the round with the median ratio (an odd number of rounds)
    const mid = [...rowRounds].sort((a, b) => a.rowsRatio - b.rowsRatio)[(rowRounds.length - 1) / 2] as RowRound;
    return {
      ours,
      oursAgain,
      bare,
      bareBefore,
      oursSustained,
      bareSustained,
      reqRatio: oursSustained / bareSustained,
      ingest: mid.ingest,
      copy: mid.copy,
      rowsRatio: mid.rowsRatio,
      rowRounds,
      rowWarmupRows: warmupRows,
      uploadCosts: costs,
      costs: { manager: managerCosts, bare: bareCosts },
      windows,
    };
  } finally {
    await db.drop();
  }
}

const passFail = (ok: boolean) => (ok ? 'pass' : 'FAIL');

/**
 * The request target's verdict: a ratio at or above 0.6 against a reference that passed the ladder's top step is
 * only an upper bound (the reference's limit lies higher), not a pass; below 0.6 it fails either way.
 */
export const requestVerdict = (ratio: number, referenceAtLadderTop: boolean) =>
  ratio < 0.6 ? passFail(false) : referenceAtLadderTop ? 'upper bound only: not a pass' : passFail(true);
/** CPU of server, PostgreSQL and generator during a step, % of the machine. */
const busy = (s: MixStep) =>
  ((s.cpu.server + s.cpu.postgres + s.cpu.generator) * s.achieved) / (availableParallelism() * 1e4);
const f1 = (n: number) => n.toFixed(1);
/** A step's p99 per request kind, upload / heartbeat / config ("–" in runs before 2026-12-06, which did not keep it). */
const byKind = (s: MixStep) =>
  KINDS.map((k) => (s.p99ByKind?.[k] === undefined ? '–' : f1(s.p99ByKind[k]))).join(' / ');

/** The whole machine during a step, "busy / steal" in % ("–" in runs before 2026-12-08, which did not read it). */
const machineCell = (s: MixStep) => (s.machine ? `${s.machine.busy.toFixed(0)} / ${s.machine.steal.toFixed(0)}` : '–');

/** A step's ingest transactions as "all, over 100 ms, slowest ≤ bound" (+Inf: over the largest); "–" for the bare server and older runs. */
const ingestCell = (i: IngestStep | undefined) =>
  i ? `${i.transactions}, ${i.over100ms}, ${i.slowestWithin ?? (i.transactions ? '+Inf' : '–')}` : '–';

/** The B1 section; `machine` as `machineLine()` printed it (re-rendering a stored run passes its own). */
export function b1Markdown(d: B1Data, command: string, machine = machineLine()): string {
  const withIngest = [...d.ours, ...(d.oursAgain ?? [])].some((s) => s.ingest);
  const withMachine = [...d.ours, ...d.bare].some((s) => s.machine);
  const lines = [
    '## B1 — ingest + heartbeat + config mix (open loop)',
    '',
    `Command: \`${command}\` · ${machine}`,
    '',
    'Manager in its own process on a fresh PostgreSQL database (local server), 200 devices with their own',
    'credentials (100 enrolled over HTTP, 100 inserted with SQL: enrollment allows 120/min per IP). Mix per',
    '10 requests: 4 uploads of 10 results, 5 heartbeats, 1 config check-in; open loop at a fixed rate for',
    `${STEP_MS / 1000} s per step, latency from the scheduled send time; node:http keep-alive client in the bench`,
    'process. Reference: a bare node:http server (separate process) that parses the same JSON bodies and',
    "answers 200, same offered loads, its ladder run before the manager's and again after the rest; the faster",
    `of the two is the reference${d.oursAgain ? ". The manager's ladder runs twice as well (after the mix's costs per kind, and again after the row rounds), and its faster run counts" : ''}. A step passes with p99 < 100 ms and ≤ 1 % errors; a failing step runs again (≤ ${ATTEMPTS}`,
    `attempts, each shown) and the ladder stops at a step that failed every attempt; then, ${REFINE} times, the rate`,
    'halfway between the highest passing and the lowest failing rate runs the same way (runs from 2026-12-06 on).',
    'Each ladder starts after a `sync` (runs from 2026-12-07 21:45 on): rows written before it, as the row rounds and',
    'their COPY reference, are not written back by the kernel during its steps; each ladder pays for its own writes.',
    '',
    'CPU columns: µs per answered request of the server, of every postgres process and of this generator',
    `during the step; "busy" = their sum × achieved req/s as % of the machine's ${availableParallelism()} cores.`,
    'The p99 of each kind of request is kept from 2026-12-06 on: an upload is answered after its transaction',
    "commits, and on a busy manager it first waits up to the group commit's collection window (ADR 6).",
    ...(withIngest
      ? [
          '"Ingest transactions": the manager\'s that ended during the step, how many took over 100 ms, and the',
          "bound of its `rookery_ingest_transaction_seconds` histogram that held the slowest (a stall in PostgreSQL's",
          'WAL flush shows here, ADR 13; runs from 2026-12-07 19:13 on).',
        ]
      : []),
    ...(withMachine
      ? [
          '"Machine busy / steal": the whole machine during the step from /proc/stat, % of all its cores\' time: busy',
          '(every process and the kernel: above "busy", something besides the three ran) and stolen by the hypervisor',
          '(runs from 2026-12-08 on).',
        ]
      : []),
    '',
    `| server | offered req/s | sent | ok | errors (status: count) | achieved req/s | p50 ms | p99 ms | max ms | p99 ms upload / heartbeat / config | server µs | PostgreSQL µs | generator µs | busy % |${withMachine ? ' machine busy / steal % |' : ''}${withIngest ? ' ingest transactions: all, > 100 ms, slowest ≤ s |' : ''} step |`,
    `|---|---|---|---|---|---|---|---|---|---|---|---|---|---|${withMachine ? '---|' : ''}${withIngest ? '---|' : ''}---|`,
  ];
  for (const [name, steps] of [
    ...(d.bareBefore ? ([['bare node:http, before', d.bareBefore]] as const) : []),
    [d.oursAgain ? 'manager, first' : 'manager', d.ours],
    ...(d.oursAgain ? ([['manager, second', d.oursAgain]] as const) : []),
    [d.bareBefore ? 'bare node:http, after' : 'bare node:http', d.bare],
  ] as const) {
    for (const s of steps) {
      const errs = Object.entries(s.statuses)
        .filter(([k]) => !k.startsWith('2'))
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ');
      lines.push(
        `| ${name} | ${s.offered} | ${s.sent} | ${s.ok} | ${s.errors}${errs ? ` (${errs})` : ''} | ${s.achieved.toFixed(0)} | ${ms(s.latency.p50)} | ${ms(s.latency.p99)} | ${ms(s.latency.max)} | ${byKind(s)} | ${s.cpu.server.toFixed(0)} | ${s.cpu.postgres.toFixed(0)} | ${s.cpu.generator.toFixed(0)} | ${busy(s).toFixed(0)} |${withMachine ? ` ${machineCell(s)} |` : ''}${withIngest ? ` ${ingestCell(s.ingest)} |` : ''} ${stepCell(s)} |`,
      );
    }
  }
  const bareTop = [...d.bare, ...(d.bareBefore ?? [])].some(
    (s) => s.offered === RATES[RATES.length - 1] && stepPasses(s),
  );
  const bareRuns = d.bareBefore
    ? ` (before ${sustainedRate(d.bareBefore).toFixed(0)}, after ${sustainedRate(d.bare).toFixed(0)})`
    : '';
  const first = sustainedRate(d.ours);
  const ourRuns = d.oursAgain ? ` (first ${first.toFixed(0)}, second ${sustainedRate(d.oursAgain).toFixed(0)})` : '';
  lines.push(
    '',
    '| measure | manager | reference | ratio | target | verdict |',
    '|---|---|---|---|---|---|',
    `| sustained req/s at p99 < 100 ms | ${d.oursSustained.toFixed(0)}${ourRuns} | ${d.bareSustained.toFixed(0)}${bareRuns}${bareTop ? ' (ladder top: passed every step)' : ''} | ${d.reqRatio.toFixed(3)} | ≥ 0.6 | ${requestVerdict(d.reqRatio, bareTop)} |`,
    `| result rows/s (${INGEST_ROWS} rows, ${INGEST_BATCH}/upload, ${INGEST_WORKERS} uploaders) vs COPY of the same rows${d.rowRounds ? `, median of ${d.rowRounds.length} alternated rounds` : ''} | ${d.ingest.rowsPerSecond.toFixed(0)} | ${d.copy.rowsPerSecond.toFixed(0)} | ${d.rowsRatio.toFixed(3)} | ≥ 0.4 | ${passFail(d.rowsRatio >= 0.4)} |`,
    '',
    ...(d.oursAgain
      ? [
          `With the manager's first ladder alone, as runs before 2026-12-07 09:40 counted it: ${first.toFixed(0)} against ${d.bareSustained.toFixed(0)} = ${(first / d.bareSustained).toFixed(3)}.`,
          '',
        ]
      : []),
    ...(d.rowRounds
      ? [
          `Row ingest and COPY, alternated (each round: the uploads, then waiting until the rollups have every row, then COPY${d.rowWarmupRows ? `; first an unmeasured round of each with ${d.rowWarmupRows} rows` : ''}):`,
          '',
          '| round | ingest rows/s | manager µs/row | PostgreSQL µs/row | rollups caught up after s | COPY rows/s | COPY PostgreSQL µs/row | ratio |',
          '|---|---|---|---|---|---|---|---|',
          ...d.rowRounds.map(
            (r) =>
              `| ${r.round} | ${r.ingest.rowsPerSecond.toFixed(0)} | ${r.ingest.cpu.manager.toFixed(1)} | ${r.ingest.cpu.postgres.toFixed(1)} | ${r.ingest.foldedAfterMs === null ? '> 60' : (r.ingest.foldedAfterMs / 1000).toFixed(1)} | ${r.copy.rowsPerSecond.toFixed(0)} | ${r.copy.postgresUsPerRow.toFixed(1)} | ${r.rowsRatio.toFixed(3)} |`,
          ),
          '',
          'The median round:',
          '',
        ]
      : []),
    `Ingest: ${d.ingest.rows} rows stored in ${(d.ingest.ms / 1000).toFixed(1)} s (${d.ingest.rejected429} uploads answered 429 and were retried). ` +
      (d.ingest.foldedAfterMs === null
        ? 'The rollup fold had not caught up 60 s later.'
        : d.ingest.foldPostgresPerRow === undefined
          ? `The rollup fold (leader job, every 0.5 s) had every stored result in the minute/hour/day rollups ${(d.ingest.foldedAfterMs / 1000).toFixed(1)} s after the last upload was answered: ${((d.ingest.rows / (d.ingest.ms + d.ingest.foldedAfterMs)) * 1000).toFixed(0)} rows/s counting that (${(((d.ingest.rows / (d.ingest.ms + d.ingest.foldedAfterMs)) * 1000) / d.copy.rowsPerSecond).toFixed(2)}× COPY).`
          : `The rollup fold (leader job every 0.5 s; slices of ${ROLLUP_SLICE_MS / 1000} s of start times close ${ROLLUP_GRACE_MS / 1000} s after their end, ADR 6) had every stored result in the minute/hour/day rollups ${(d.ingest.foldedAfterMs / 1000).toFixed(1)} s after the last upload was answered; PostgreSQL used ${(d.ingest.foldPostgresPerRow ?? 0).toFixed(1)} µs of CPU per row meanwhile (the fold and whatever else ran).`),
    'COPY: text-format `COPY … FROM STDIN` (pg-copy-streams) of the rows the round uploaded (same ids, devices and',
    "start times; until 2026-12-06 every row was one device's) into a plain table with the same columns, primary",
    'key and start-time index as `results`; our path additionally updates `result_latest`, marks the rows for the',
    'rollups and locks and writes the alert machines in the same transaction, and validates, authenticates and',
    'answers over HTTP. Uploads arriving together share one transaction (group commit, ADR 6).',
  );
  lines.push(
    '',
    "One upload at a time (closed loop, after the load): wall time and the manager's ingest transactions per upload (from 2026-12-07 07:00; before, PostgreSQL's transaction count).",
    '',
    '| results per upload | p50 ms | p90 ms | ingest transactions/upload |',
    '|---|---|---|---|',
    ...d.uploadCosts.map((c) => `| ${c.size} | ${ms(c.p50)} | ${ms(c.p90)} | ${c.xactsPerUpload.toFixed(1)} |`),
  );
  const cores = availableParallelism();
  const total = (c: Omit<RequestCost, 'kind'>) => c.server + c.postgres + c.generator;
  const us = (n: number) => n.toFixed(0);
  // the manager's last passing step and the bare server's step at the same offered rate
  const top = d.ours.filter((s) => stepPasses(s)).at(-1);
  const same = top && d.bare.find((s) => s.offered === top.offered && stepPasses(s));
  lines.push(
    '',
    `Each kind alone and the mix, CPU µs per answered request by process, open loop at ${COST_RATE} req/s for`,
    `${COST_MS / 1000} s after the ladder (same fleet). On the manager each window runs on until the rollups hold every stored`,
    "result, so PostgreSQL includes the fold of that kind's own results (the fold lags ingest by about 15 s). Costs",
    'per request fall as the rate rises (larger shared transactions, coalesced heartbeats), so compare steps of',
    'the ladder at the same rate for the limit.',
    '',
    '| request | manager | PostgreSQL | generator | total | bare server | PostgreSQL | generator | total |',
    '|---|---|---|---|---|---|---|---|---|',
    ...d.costs.manager.map((m, i) => {
      const b = d.costs.bare[i] as RequestCost;
      const name = m.kind === 'upload' ? `upload of ${BATCH} results` : m.kind;
      return `| ${name} | ${us(m.server)} | ${us(m.postgres)} | ${us(m.generator)} | ${us(total(m))} | ${us(b.server)} | ${us(b.postgres)} | ${us(b.generator)} | ${us(total(b))} |`;
    }),
  );
  if (top && same)
    lines.push(
      '',
      `Reading it: the manager, PostgreSQL and the generator share ${cores} cores. At the manager's last passing step`,
      `(${top.offered} req/s) the three used ${us(total(top.cpu))} µs of CPU per request (${busy(top).toFixed(0)} % of the machine); the bare server`,
      `and the generator at the same rate ${us(total(same.cpu))} µs (${busy(same).toFixed(0)} %). The manager's own share was ${us(top.cpu.server)} µs`,
      `and PostgreSQL's ${us(top.cpu.postgres)} µs, against the bare server's ${us(same.cpu.server)} µs.`,
    );
  const need = 0.6 * d.bareSustained;
  const passedBare = d.bare.filter((s) => stepPasses(s));
  const near = passedBare.reduce<MixStep | undefined>(
    (best, s) => (!best || Math.abs(s.offered - need) < Math.abs(best.offered - need) ? s : best),
    undefined,
  );
  if (top && near) {
    const budget = (cores * 1e6) / need;
    lines.push(
      '',
      `The budget for the target: 0.6× is ${need.toFixed(0)} req/s, where all ${cores} cores give ${us(budget)} µs of CPU per request`,
      `with nothing idle. The generator itself used ${us(near.cpu.generator)} µs per request at the bare server's ${near.offered} req/s step,`,
      `which leaves at most ${us(budget - near.cpu.generator)} µs for the manager and PostgreSQL together — at 100 % CPU, where no p99 stays`,
      `under 100 ms. At the manager's last passing step they used ${us(top.cpu.server + top.cpu.postgres)} µs (${us(top.cpu.server)} + ${us(top.cpu.postgres)}).`,
      'ADR 13 (docs/adr/0013-b1-request-budget.md) sets this against what the bare server itself costs.',
    );
  }
  // why: the generator is one Node process; when it fills its core the reference measures the generator, not the server
  const bareBest = [...(d.bareBefore ?? []), ...d.bare]
    .filter((s) => stepPasses(s))
    .reduce<MixStep | undefined>((best, s) => (!best || s.achieved > best.achieved ? s : best), undefined);
  if (bareBest) {
    const genCore = (bareBest.cpu.generator * bareBest.achieved) / 1e4;
    lines.push(
      '',
      `The reference's own limit: at the bare server's best passing step (${bareBest.achieved.toFixed(0)} req/s) the generator, one Node`,
      `process, used ${genCore.toFixed(0)} % of a core and the bare server ${((bareBest.cpu.server * bareBest.achieved) / 1e4).toFixed(0)} %.` +
        (genCore >= 70
          ? " So the reference is bounded by this generator rather than by the server; a leaner or multi-process generator would raise the bare server far more than the manager (which is bounded by its own and PostgreSQL's CPU) and lower this ratio."
          : ''),
    );
  }
  if (d.windows.length) {
    lines.push(
      '',
      `The group commit's collection window (ROOKERY_INGEST_LINGER_MS, ADR 6): the mix at fixed rates on a fresh manager with the`,
      `window off (0), at 5 ms and at its default (${DEFAULT_INGEST_QUEUE.lingerMs} ms), ${WINDOW_ROUNDS} alternated rounds (${STEP_MS / 1000} s per rate after a 2 s warm-up); CPU µs per`,
      'request by process; "xacts/upload" = upload transactions (rookery_ingest_transactions_total) ÷ uploads.',
      '',
      '| window ms | round | offered req/s | achieved req/s | p99 ms | manager µs | PostgreSQL µs | generator µs | xacts/upload |',
      '|---|---|---|---|---|---|---|---|---|',
      ...d.windows.map(
        (w) =>
          `| ${w.lingerMs} | ${w.round} | ${w.offered} | ${w.achieved.toFixed(0)} | ${ms(w.p99)} | ${us(w.cpu.server)} | ${us(w.cpu.postgres)} | ${us(w.cpu.generator)} | ${w.xactsPerUpload.toFixed(2)} |`,
      ),
      '',
      'Medians over the rounds:',
      '',
      '| window ms | offered req/s | manager µs | PostgreSQL µs | manager + PostgreSQL µs | xacts/upload | p99 ms |',
      '|---|---|---|---|---|---|---|',
    );
    for (const rate of WINDOW_RATES)
      for (const lingerMs of WINDOWS) {
        const ws = d.windows.filter((w) => w.offered === rate && w.lingerMs === lingerMs);
        lines.push(
          `| ${lingerMs} | ${rate} | ${us(median(ws.map((w) => w.cpu.server)))} | ${us(median(ws.map((w) => w.cpu.postgres)))} | ${us(median(ws.map((w) => w.cpu.server + w.cpu.postgres)))} | ${median(ws.map((w) => w.xactsPerUpload)).toFixed(2)} | ${ms(median(ws.map((w) => w.p99)))} |`,
        );
      }
  }
  lines.push(
    '',
    'Before the group commit (2026-11-23: one transaction of five round trips per upload, three rollup upserts',
    'per result, 8 uploads in flight then 429) the last passing manager step was 200 req/s.',
    '',
    '',
    `Row ingest, where the time goes (CPU of each process over the phase ÷ rows stored): the manager ${f1(d.ingest.cpu.manager)} µs per`,
    `row (JSON parse and schema check of the body, building the rows, alert evaluation, encoding the statement), PostgreSQL`,
    `${f1(d.ingest.cpu.postgres)} µs (every postgres process: the ingest statement and, when the leader's fold job ran during the`,
    `phase, the fold), this generator ${f1(d.ingest.cpu.generator)} µs; COPY needed ${f1(d.copy.postgresUsPerRow)} µs of PostgreSQL per row and nothing`,
    'else. What moved it on 2026-12-03 (ADR 6): binary array parameters, the optimistic insert, `json` metrics',
    '(about half the PostgreSQL CPU of the ingest statement) and a cheaper fold (`./rookery bench fold`); later',
    'that day the ingest statement prepared once per connection and no live-feed messages while nobody watches.',
  );
  if (bareTop)
    lines.push(
      'The bare server passed every step, so its limit lies above the ladder: the req/s ratio is an upper bound.',
    );
  return lines.join('\n');
}

/** `./rookery bench b1` */
export async function b1(command: string): Promise<void> {
  const d = await runB1();
  progress(
    'b1',
    `requests ${d.reqRatio.toFixed(3)}× (${d.oursSustained.toFixed(0)} against ${d.bareSustained.toFixed(0)} req/s), ` +
      `rows ${d.rowsRatio.toFixed(3)}× COPY`,
  );
  const md = b1Markdown(d, command);
  process.stdout.write(`${md}\n`);
  await publish('B1', md, { command, machine: machineLine(), ...d });
}
