// GET /metrics: Prometheus exposition of manager health (request counts and latency, process). With
// `--workers N` any worker answers for all: per-process series are summed across the workers (prom-client's
// cluster aggregation), and the gauges read from the database are taken once (`aggregator: 'first'`).
import { sql } from 'kysely';
import { AggregatorRegistry, collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { AppError } from '../../domain/errors.js';
import { clusterMetrics, inWorker } from '../../cluster.js';
import type { Deps } from '../deps.js';
import type { App } from '../app.js';
import { RequestDurations } from '../request-durations.js';

/** Every worker's metrics, summed by the primary; 503 when it cannot collect them (a worker hung). */
const workersMetrics = () =>
  clusterMetrics().catch((err: Error) => {
    throw new AppError(503, 'metrics_unavailable', `could not collect every worker's metrics: ${err.message}`);
  });

/** The request metrics the hooks record, for requests answered outside Fastify (`agentPath`). */
export interface HttpMetrics {
  /** records a request the agent path answered: the duration histogram, and the path's own counter */
  observeAgentPath(method: string, route: string, status: number, seconds: number): void;
  countUpload(received: number, stored: number): void;
}

export function metricsRoutes(app: App, d: Deps): HttpMetrics {
  const registry = new Registry();
  if (inWorker()) AggregatorRegistry.setRegistries([registry]);
  collectDefaultMetrics({ register: registry, prefix: 'rookery_manager_' });
  const duration = new RequestDurations(
    'rookery_http_request_duration_seconds',
    'HTTP request duration by route and status class',
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  );
  registry.registerMetric(duration.asMetric());
  // fleet gauges: one aggregate query per scrape, labels bounded (status, level)
  new Gauge({
    name: 'rookery_devices',
    aggregator: 'first',
    help: 'Enrolled devices by status',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      const r = await sql<{
        status: string;
        n: string;
      }>`SELECT status, count(*) AS n FROM devices GROUP BY status`.execute(d.ctx.db);
      this.reset();
      for (const s of ['online', 'offline']) this.labels(s).set(Number(r.rows.find((x) => x.status === s)?.n ?? 0));
    },
  });
  new Gauge({
    name: 'rookery_agent_spool_backlog',
    aggregator: 'first',
    help: 'Results waiting in agent spools, as last reported by heartbeats',
    registers: [registry],
    async collect() {
      const r = await sql<{ n: string | null }>`SELECT sum(spool_backlog) AS n FROM devices`.execute(d.ctx.db);
      this.set(Number(r.rows[0]?.n ?? 0));
    },
  });
  new Gauge({
    name: 'rookery_alerts_open',
    aggregator: 'first',
    help: 'Open alerts by level',
    labelNames: ['level'] as const,
    registers: [registry],
    async collect() {
      const r = await sql<{
        state: string;
        n: string;
      }>`SELECT state, count(*) AS n FROM alert_states WHERE state <> 'ok' GROUP BY state`.execute(d.ctx.db);
      this.reset();
      for (const s of ['warning', 'critical']) this.labels(s).set(Number(r.rows.find((x) => x.state === s)?.n ?? 0));
    },
  });
  new Gauge({
    name: 'rookery_result_exports_running',
    help: 'Result exports streaming from this replica (429 past 4)',
    registers: [registry],
    collect() {
      this.set(d.results.exportsRunning);
    },
  });
  new Gauge({
    name: 'rookery_ingest_queue_results',
    help: 'Results accepted by this replica and waiting for a transaction (429 past 20000)',
    registers: [registry],
    collect() {
      this.set(d.results.backlog);
    },
  });
  /** A counter that follows a running total of this process (read at each scrape). */
  const totalOf = (name: string, help: string, read: () => number) => {
    let counted = 0;
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        const n = read();
        this.inc(n - counted);
        counted = n;
      },
    });
  };
  /** The same per value of one label: `read` gives each value's running total. */
  const totalsBy = (name: string, help: string, label: string, read: () => ReadonlyMap<string, number>) => {
    const counted = new Map<string, number>();
    new Counter({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        for (const [value, n] of read()) {
          this.labels(value).inc(n - (counted.get(value) ?? 0));
          counted.set(value, n);
        }
      },
    });
  };
  totalOf(
    'rookery_ingest_transactions_total',
    'Transactions this replica ran to store uploads (group commit: several uploads share one)',
    () => d.results.transactions,
  );
  // per transaction, not per upload: tens to hundreds a second on a busy replica
  const ingestSeconds = (name: string, help: string) =>
    new Histogram({
      name,
      help,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    });
  const waited = ingestSeconds(
    'rookery_ingest_wait_seconds',
    "How long each ingest transaction's oldest upload waited for it (the group commit's window, busy writers)",
  );
  const wrote = ingestSeconds(
    'rookery_ingest_transaction_seconds',
    'How long each ingest transaction took until its uploads were answered (its WAL flush included)',
  );
  d.results.ingestTimings = { waited: (s) => waited.observe(s), wrote: (s) => wrote.observe(s) };
  totalOf(
    'rookery_ingest_single_statement_total',
    'Of those transactions, the ones that were a single statement: every result of the batch left its alert machines quiet (ADR 11)',
    () => d.results.singleStatements,
  );
  new Gauge({
    name: 'rookery_rollup_pending_results',
    aggregator: 'first',
    help: 'Results that arrived after their slice was closed, not yet folded into the rollups (all replicas; the fold job runs every 0.5 s)',
    registers: [registry],
    async collect() {
      const r = await sql<{ n: string }>`SELECT count(*) AS n FROM rollup_pending`.execute(d.ctx.db);
      this.set(Number(r.rows[0]?.n ?? 0));
    },
  });
  new Gauge({
    name: 'rookery_rollup_lag_seconds',
    aggregator: 'first',
    help: 'Age of the oldest start time not yet folded into the rollups (slices of 10 s close 5 s after their end)',
    registers: [registry],
    async collect() {
      const r = await sql<{ s: number }>`
        SELECT extract(epoch FROM now() - at)::float8 AS s FROM rollup_watermarks WHERE name = 'folded'`.execute(
        d.ctx.db,
      );
      this.set(Math.max(0, r.rows[0]?.s ?? 0));
    },
  });
  new Gauge({
    name: 'rookery_rollup_summed_until_age_seconds',
    aggregator: 'first',
    help: 'Age of the end of the last period whose hour or day rows are summed from the finer rows (normally under an hour plus the fold lag for hours, a day plus an hour for days)',
    labelNames: ['granularity'] as const,
    registers: [registry],
    async collect() {
      const r = await sql<{ name: string; s: number }>`
        SELECT name, extract(epoch FROM now() - at)::float8 AS s FROM rollup_watermarks
        WHERE name IN ('hour_folded', 'day_folded')`.execute(d.ctx.db);
      for (const x of r.rows) this.labels(x.name === 'hour_folded' ? 'hour' : 'day').set(Math.max(0, x.s));
    },
  });
  // per-target probe summaries over every vantage point's latest result; at most TOP_TARGETS series.
  // prom-client collects metrics concurrently: the three gauges share one query per scrape.
  const TOP_TARGETS = 200;
  type TargetRow = { kind: string; target: string; n: string; ok: number; lat: number | null };
  let shared: { at: number; rows: Promise<TargetRow[]> } | undefined;
  const targets = () => {
    if (!shared || Date.now() - shared.at > 1000) {
      shared = {
        at: Date.now(),
        rows: sql<TargetRow>`
          SELECT kind, left(target, 120) AS target, count(*) AS n, avg(ok::int)::float8 AS ok, avg(latency_ms) AS lat
          FROM result_latest GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT ${TOP_TARGETS}`
          .execute(d.ctx.db)
          .then((r) => r.rows),
      };
    }
    return shared.rows;
  };
  const perTarget = (name: string, help: string, value: (r: TargetRow) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['kind', 'target'] as const,
      aggregator: 'first',
      registers: [registry],
      async collect() {
        const rows = await targets();
        this.reset();
        for (const r of rows) {
          const v = value(r);
          if (v !== null) this.labels(r.kind, r.target).set(v);
        }
      },
    });
  perTarget(
    'rookery_probe_target_vantage_points',
    `Agents whose latest results include the target (the ${TOP_TARGETS} most-probed targets)`,
    (r) => Number(r.n),
  );
  perTarget('rookery_probe_target_ok_ratio', 'Share of agents whose latest probe of the target succeeded', (r) => r.ok);
  perTarget('rookery_probe_target_latency_ms', 'Mean latest latency of the target across agents, ms', (r) => r.lat);
  // counters of the request path are plain numbers, read at each scrape (prom-client's per-call cost: RequestDurations)
  let uploadedResults = 0;
  let storedResults = 0;
  totalOf('rookery_results_stored_total', 'Results stored by this replica', () => storedResults);
  totalOf(
    'rookery_results_uploaded_total',
    'Results received by this replica (including duplicates)',
    () => uploadedResults,
  );
  const countUpload = (received: number, n: number) => {
    uploadedResults += received;
    storedResults += n;
  };
  // route pattern, not the raw URL, keeps label cardinality bounded
  const observe = (method: string, route: string, status: number, seconds: number) =>
    duration.observe(duration.of(method, route, status), seconds);
  app.addHook('onResponse', async (req, reply) => {
    if (req.routeOptions.url === '/api/v1/results/upload' && reply.statusCode === 200) {
      const body = req.body as { results?: unknown[] } | undefined;
      countUpload(body?.results?.length ?? 0, (reply as unknown as { rkStored?: number }).rkStored ?? 0);
    }
  });
  app.addHook('onResponse', async (req, reply) => {
    observe(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });
  const agentPathRequests = new Map<string, number>();
  totalsBy(
    'rookery_http_agent_path_requests_total',
    'Agent requests answered before Fastify (ADR 9), by route',
    'route',
    () => agentPathRequests,
  );
  const observeAgentPath = (method: string, route: string, status: number, seconds: number) => {
    agentPathRequests.set(route, (agentPathRequests.get(route) ?? 0) + 1);
    observe(method, route, status, seconds);
  };
  app.get('/metrics', { config: { public: true }, schema: { hide: true } }, async (_req, reply) =>
    reply.type(registry.contentType).send(inWorker() ? await workersMetrics() : await registry.metrics()),
  );
  return { observeAgentPath, countUpload };
}
