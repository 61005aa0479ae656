// Result ingest (idempotent, batched, with backpressure) and the query API over rollups.
import type { ResultEnvelope, UploadResponse } from '@rookery/protocol';
import { type DeviceRow, findDevice, listDevices } from '../db/queries/devices.js';
import { findOu } from '../db/queries/ous.js';
import {
  type IngestRow,
  latestResults,
  type LatestRow,
  type ExportPageRow,
  exportResults,
  type ExportRow,
  type RawResultRow,
  rawResults,
  type ResultRowIn,
  type RollupRow,
  seriesRollups,
  unfoldedResults,
} from '../db/queries/results.js';
import { AppError, badRequest, notFound, timeOf, tooManyRequests } from '../domain/errors.js';
import { type Page, pageOf } from '../domain/pagination.js';
import { type Principal, scopeOf } from '../domain/principal.js';
import { isCanonicalDateTime } from '../domain/iso-time.js';
import { headline, histPercentile } from '../domain/result-headline.js';
import { addToRollup, emptyRollup, mergeRollup } from '../domain/rollups.js';
import type { AlertEvent, AlertService } from './alerts.js';
import type { ServiceContext } from './context.js';
import { DEFAULT_INGEST_QUEUE, IngestQueue, type IngestQueueOptions, type IngestTimings } from './ingest-queue.js';

export const RESULT_KINDS = ['http', 'tcp', 'udp', 'dns', 'icmp', 'traceroute'] as const;

export interface IngestLimits {
  /** results waiting for a transaction on this replica past which uploads get 429. @default 20000 */
  maxBacklogRows: number;
  /** seconds suggested in Retry-After. @default 2 */
  retryAfter: number;
  /** results older than this are refused, days. @default 30 */
  maxAgeDays: number;
  /** results dated further in the future are refused (clock skew), seconds. @default 86400 */
  maxFutureSeconds: number;
}

export const DEFAULT_INGEST_LIMITS: IngestLimits = {
  maxBacklogRows: 20_000,
  retryAfter: 2,
  maxAgeDays: 30,
  maxFutureSeconds: 86_400,
};

export interface ExportLimits {
  /** rows read per statement, @default 2000 */
  pageRows: number;
  /** devices of an OU export listed per statement, @default 500 */
  devicePage: number;
  /** exports streaming at once on this replica; one more gets 429. @default 4 */
  maxRunning: number;
  /** seconds suggested in Retry-After. @default 5 */
  retryAfter: number;
}

export const DEFAULT_EXPORT_LIMITS: ExportLimits = { pageRows: 2000, devicePage: 500, maxRunning: 4, retryAfter: 5 };

/** An export under way: its range, its pages, and its place among the replica's running exports. */
export interface ResultExport {
  since: Date;
  until: Date;
  /** the pages in order, the first read already; ends after the last row */
  pages: AsyncGenerator<ExportRow[], void, undefined>;
  /** ends the export's turn (idempotent): call it once its response has ended, finished or not */
  close(): void;
  /** aborted when the replica shuts down (`stopExports`): end the response at once, cut short */
  signal: AbortSignal;
}

export interface SeriesPoint {
  t: string;
  count: number;
  ok_ratio: number;
  latency_avg_ms: number | null;
  latency_min_ms: number | null;
  latency_max_ms: number | null;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  latency_p99_ms: number | null;
  jitter_avg_ms: number | null;
  loss_avg_pct: number | null;
}

/** Granularity for a range: ≤ 6 h minute, ≤ 14 d hour, else day. */
export function granularityFor(sinceMs: number, untilMs: number): 'minute' | 'hour' | 'day' {
  const span = untilMs - sinceMs;
  if (span <= 6 * 3_600_000) return 'minute';
  if (span <= 14 * 86_400_000) return 'hour';
  return 'day';
}

const hasNul = (s: string) => s.includes('\u0000');

/**
 * A latest-view cursor: the last row's device id, kind and target (base64url of their UTF-8), so a
 * target of any characters stays short and URL-safe. Longest: a target over PostgreSQL's index limit
 * (about 2.7 kB) could never be stored.
 */
const LATEST_CURSOR = /^(\d{1,18})\.([\w-]{1,64})\.([\w-]{1,3700})$/;
/** Longest latest-view cursor, characters. */
export const LATEST_CURSOR_MAX = 4096;

/**
 * A query's [since, until) in ms since epoch: until defaults to now, since to `spanMs` before until.
 * @throws AppError 400 when since is not before until, or either is no usable time
 */
function rangeOf(q: { since?: string; until?: string }, spanMs: number): { since: number; until: number } {
  const until = q.until ? timeOf(q.until, 'until').getTime() : Date.now();
  const since = q.since ? timeOf(q.since, 'since').getTime() : until - spanMs;
  if (!(since < until)) throw badRequest('since must be before until');
  return { since, until };
}

/** A raw results cursor: the last row's start (ms since epoch) and id. */
const RAW_CURSOR = /^(\d{1,15})_([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/**
 * Longest target stored, bytes of UTF-8. The schema allows 2048 characters, but the target is part of
 * several index keys (results, latest, rollups, alert machines), and PostgreSQL refuses an index entry
 * over about 2.7 kB: 2048 characters of a 3-byte script that does not compress failed the whole upload.
 */
export const MAX_TARGET_BYTES = 2048;

/** Deepest nesting of arrays and objects inside a result's metrics (a probe's own are 3 deep at most). */
export const MAX_METRICS_DEPTH = 32;

/** Nesting depth of a parsed JSON value, stopping as soon as it passes `max`. */
function deeperThan(v: unknown, max: number): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (max === 0) return true;
  if (Array.isArray(v)) {
    for (const x of v) if (deeperThan(x, max - 1)) return true;
    return false;
  }
  for (const k in v) if (deeperThan((v as Record<string, unknown>)[k], max - 1)) return true;
  return false;
}

/**
 * The metrics as stored (JSON text), or undefined when they nest deeper than `MAX_METRICS_DEPTH`: a
 * document nested thousands deep overflows the stack of JSON.stringify (and of PostgreSQL's JSON code).
 */
function metricsText(m: Record<string, unknown>): string | undefined {
  return deeperThan(m, MAX_METRICS_DEPTH) ? undefined : JSON.stringify(m);
}

/** Longest error message kept per result (characters); longer ones are cut. */
export const MAX_ERROR_MESSAGE = 1000;
/**
 * Longest error code kept (characters; agents send short names such as `timeout`): cut, so one device
 * cannot make every latest-view page megabytes long.
 */
export const MAX_ERROR_CODE = 128;

/**
 * Rollup rows read for one series query, at most: its 5000 points, and the finer rows of the periods not
 * summed at its granularity yet (up to 60 minute and 24 hour rows while the fold keeps up; a few days of
 * minute rows after the leader was down that long).
 */
const MAX_SERIES_ROWS = 50_000;

/** The id as PostgreSQL prints a uuid: lower case, without the `urn:uuid:` prefix the upload schema allows. */
const canonicalUuid = (id: string) => (id.length === 36 ? id : id.replace(/^urn:uuid:/i, '')).toLowerCase();

/**
 * `startedAt` (parsed: `t`) as `Date#toISOString` writes it, which rows, alerts and the live feed
 * compare as text. Agents send exactly that form: when the text is in it and names a real day and time
 * (`2026-02-30` would parse as 2 March, `T24:00` as the next day), it is kept as it is, without
 * formatting a new string (about 0.5 µs a result).
 */
export function canonicalTime(s: string, t: number): string {
  return isCanonicalDateTime(s) ? s : new Date(t).toISOString();
}

/** What a raw results query (listing or export) filters by, from the API's parameters and the resolved range. */
const rawFilters = (q: { kind?: string; target?: string; ok?: boolean }, since: number, until: number) => ({
  kind: q.kind,
  target: q.target,
  ok: q.ok,
  since: new Date(since),
  until: new Date(until),
});

export class ResultService {
  private readonly queue: IngestQueue;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly limits: IngestLimits = DEFAULT_INGEST_LIMITS,
    alerts?: AlertService,
    /** called after commit with what this upload stored and the alert changes it caused (live feed) */
    private readonly onStored: (device: DeviceRow, stored: ResultRowIn[], events: AlertEvent[]) => void = () => {},
    queue: IngestQueueOptions = DEFAULT_INGEST_QUEUE,
    exportLimits: Partial<ExportLimits> = {},
  ) {
    this.queue = new IngestQueue(ctx.db, alerts, queue);
    this.exportLimits = { ...DEFAULT_EXPORT_LIMITS, ...exportLimits };
  }

  private readonly exportLimits: ExportLimits;

  /** Exports streaming on this replica now, each with the controller that cuts it short. */
  private readonly exports = new Set<AbortController>();
  private exportsStopped = false;

  get exportsRunning(): number {
    return this.exports.size;
  }

  /**
   * Cuts every running export short and refuses new ones (503): for shutdown, which otherwise waits for every
   * response to end, and a client that stopped reading never ends its export.
   */
  stopExports(): void {
    this.exportsStopped = true;
    for (const c of this.exports) c.abort();
  }

  /** Results accepted for storage but not yet in a transaction on this replica. */
  get backlog(): number {
    return this.queue.backlog;
  }

  /** Transactions this replica has run to store uploads. */
  get transactions(): number {
    return this.queue.transactions;
  }

  /** Of those, transactions that were one statement (every result quiet for the alerts). */
  get singleStatements(): number {
    return this.queue.singleStatements;
  }

  /** Where the ingest queue reports each transaction's wait and duration (`/metrics`). */
  set ingestTimings(t: IngestTimings | undefined) {
    this.queue.timings = t;
  }

  /**
   * Stores a device's batch. Records that can never be stored (unknown kind, date out of range)
   * are rejected individually; the rest are accepted whether new or already stored.
   * @throws AppError 429 with Retry-After when this replica is saturated
   */
  async upload(device: DeviceRow, results: ResultEnvelope[]): Promise<UploadResponse> {
    if (this.queue.backlog + results.length > this.limits.maxBacklogRows) throw tooManyRequests(this.limits.retryAfter);
    const now = Date.now();
    const rejected: UploadResponse['rejected'] = [];
    const rows: IngestRow[] = [];
    const accepted: string[] = [];
    for (const { id, result: r } of results) {
      const t = Date.parse(r.startedAt);
      const metrics = metricsText(r.metrics);
      if (metrics === undefined) {
        rejected.push({
          id,
          error: 'invalid_metrics',
          message: `metrics nest deeper than ${MAX_METRICS_DEPTH} levels`,
        });
      } else if (!(RESULT_KINDS as readonly string[]).includes(r.kind)) {
        rejected.push({ id, error: 'unknown_kind', message: `unknown probe kind "${r.kind}"` });
      } else if (r.target.length > MAX_TARGET_BYTES / 3 && Buffer.byteLength(r.target) > MAX_TARGET_BYTES) {
        rejected.push({
          id,
          error: 'target_too_long',
          message: `target is longer than ${MAX_TARGET_BYTES} bytes of UTF-8`,
        });
      } else if (Number.isNaN(t)) {
        // the date-time format admits a leap second (23:59:60), which no Date can hold
        rejected.push({ id, error: 'invalid_time', message: 'startedAt is not a time that can be stored' });
      } else if (t > now + this.limits.maxFutureSeconds * 1000) {
        rejected.push({ id, error: 'clock_skew', message: 'startedAt is too far in the future' });
      } else if (t < now - this.limits.maxAgeDays * 86_400_000) {
        rejected.push({ id, error: 'too_old', message: `startedAt is older than ${this.limits.maxAgeDays} days` });
      } else if (
        hasNul(r.target) ||
        hasNul(r.error?.code ?? '') ||
        hasNul(r.error?.message ?? '') ||
        metrics.includes('\\u0000')
      ) {
        // PostgreSQL text and jsonb cannot hold U+0000
        rejected.push({
          id,
          error: 'invalid_text',
          message: 'target, error code and message and metrics may not contain U+0000',
        });
      } else {
        accepted.push(id);
        const h = headline(r.kind, r.metrics);
        rows.push({
          id: canonicalUuid(id),
          device_id: device.id,
          ou_id: device.ou_id,
          kind: r.kind,
          target: r.target,
          started_at: canonicalTime(r.startedAt, t),
          started_ms: t,
          duration_ms: r.durationMs,
          ok: r.ok,
          error_code: r.error ? r.error.code.slice(0, MAX_ERROR_CODE) : null,
          error_message: r.error ? r.error.message.slice(0, MAX_ERROR_MESSAGE) : null,
          latency_ms: h.latency_ms,
          jitter_ms: h.jitter_ms,
          loss_pct: h.loss_pct,
          metrics,
        });
      }
    }
    const { fresh, events } = rows.length ? await this.queue.submit(device, rows) : { fresh: [], events: [] };
    if (fresh.length) this.onStored(device, fresh, events);
    return { accepted, rejected, stored: fresh.length };
  }

  /** Time series of one device × kind × target from the rollup that fits the range. */
  async series(
    p: Principal,
    q: {
      device_id: string;
      kind: string;
      target: string;
      since?: string;
      until?: string;
      granularity?: 'minute' | 'hour' | 'day';
    },
  ): Promise<{ granularity: string; points: SeriesPoint[] }> {
    const { since, until } = rangeOf(q, 3_600_000);
    if (!(await findDevice(this.ctx.db, scopeOf(p), q.device_id))) throw notFound('device');
    const granularity = q.granularity ?? granularityFor(since, until);
    const step = { minute: 60_000, hour: 3_600_000, day: 86_400_000 }[granularity];
    if ((until - since) / step > 5000) {
      throw new AppError(400, 'range_too_large', `more than 5000 ${granularity} points; pick a coarser granularity`);
    }
    const range = {
      deviceId: q.device_id,
      kind: q.kind,
      target: q.target,
      // the bucket that contains `since` starts before it
      since: new Date(Math.floor(since / step) * step),
      until: new Date(until),
    };
    // the rollups and the results not folded into them yet, in one snapshot (ADR 6: rollups trail by a slice)
    const { rows, tail } = await this.ctx.db
      .transaction()
      .setIsolationLevel('repeatable read')
      .execute(async (tx) => ({
        rows: await seriesRollups(tx, scopeOf(p), { ...range, granularity, limit: MAX_SERIES_ROWS }),
        tail: await unfoldedResults(tx, range),
      }));
    const buckets = new Map<number, RollupRow>();
    const bucketOf = (t: Date) => {
      const at = Math.floor(t.getTime() / step) * step;
      let b = buckets.get(at);
      if (!b) buckets.set(at, (b = { ...emptyRollup(), bucket: new Date(at) }));
      return b;
    };
    // rows at the granularity, finer rows of the periods not summed yet, and results not folded yet
    for (const r of rows) mergeRollup(bucketOf(r.bucket), r);
    for (const r of tail) addToRollup(bucketOf(r.started_at), r);
    const points = [...buckets.values()].sort((a, b) => a.bucket.getTime() - b.bucket.getTime());
    return {
      granularity,
      points: points.map((r) => ({
        t: r.bucket.toISOString(),
        count: r.count,
        ok_ratio: r.count ? r.ok_count / r.count : 0,
        latency_avg_ms: r.lat_count ? r.lat_sum / r.lat_count : null,
        latency_min_ms: r.lat_min,
        latency_max_ms: r.lat_max,
        latency_p50_ms: histPercentile(r.hist, 50),
        latency_p95_ms: histPercentile(r.hist, 95),
        latency_p99_ms: histPercentile(r.hist, 99),
        jitter_avg_ms: r.jitter_count ? r.jitter_sum / r.jitter_count : null,
        loss_avg_pct: r.loss_count ? r.loss_sum / r.loss_count : null,
      })),
    };
  }

  /** Raw results of one device in scope, newest first (default: the last 24 h), keyset-paged. */
  async raw(
    p: Principal,
    q: {
      device_id: string;
      kind?: string;
      target?: string;
      ok?: boolean;
      since?: string;
      until?: string;
      limit: number;
      cursor?: string;
    },
  ): Promise<Page<RawResultRow>> {
    const { since, until } = rangeOf(q, 86_400_000);
    let before: { startedAt: Date; id: string } | undefined;
    if (q.cursor) {
      const m = RAW_CURSOR.exec(q.cursor);
      if (!m) throw badRequest('malformed cursor');
      before = { startedAt: new Date(Number(m[1])), id: m[2] as string };
    }
    if (!(await findDevice(this.ctx.db, scopeOf(p), q.device_id))) throw notFound('device');
    const rows = await rawResults(this.ctx.db, {
      deviceId: q.device_id,
      ...rawFilters(q, since, until),
      before,
      limit: q.limit,
    });
    return pageOf(rows, q.limit, (last) => `${last.started_at.getTime()}_${last.id}`);
  }

  /**
   * Starts an export of raw results in [since, until) (default: the last 24 h), filtered like `raw`: of one
   * device, oldest first, or of every device of an OU subtree in scope, device by device (by id), each oldest
   * first. Checks the query and the scope and reads the first page (of results, or of the subtree's devices),
   * so that every refusal is an answer in the error shape before anything is sent. Later pages are read as
   * the consumer asks for them, one statement each; a result stored meanwhile is in the export when it
   * starts after the last row already read of its device (or its device comes later).
   * @throws AppError 429 with Retry-After when `maxRunning` exports are streaming on this replica
   */
  async startExport(
    p: Principal,
    q: {
      device_id?: string;
      ou_id?: string;
      kind?: string;
      target?: string;
      ok?: boolean;
      since?: string;
      until?: string;
    },
  ): Promise<ResultExport> {
    const { maxRunning, retryAfter, pageRows, devicePage } = this.exportLimits;
    if (this.exportsStopped) {
      throw new AppError(
        503,
        'shutting_down',
        'this manager is shutting down; retry shortly',
        { retry_after_seconds: 2 },
        { 'retry-after': '2' },
      );
    }
    if (this.exports.size >= maxRunning) {
      throw tooManyRequests(retryAfter, `${maxRunning} exports are running on this manager; retry in ${retryAfter} s`);
    }
    const controller = new AbortController();
    this.exports.add(controller);
    const close = () => void this.exports.delete(controller);
    try {
      if ((q.device_id === undefined) === (q.ou_id === undefined)) {
        throw badRequest('name either device_id or ou_id', { field: q.device_id ? 'ou_id' : 'device_id' });
      }
      const { since, until } = rangeOf(q, 86_400_000);
      const db = this.ctx.db;
      const scope = scopeOf(p);
      const filters = { ...rawFilters(q, since, until), limit: pageRows };
      /** one device's pages, the first given when read already */
      async function* devicePages(deviceId: string, first?: ExportPageRow[]) {
        let page = first ?? (await exportResults(db, { ...filters, deviceId }));
        for (;;) {
          if (page.length) yield page;
          if (page.length < pageRows) return;
          const last = page[page.length - 1] as ExportPageRow;
          page = await exportResults(db, { ...filters, deviceId, after: { at: last.at, id: last.id } });
        }
      }
      let pages: AsyncGenerator<ExportRow[], void, undefined>;
      if (q.device_id !== undefined) {
        const deviceId = q.device_id;
        if (!(await findDevice(db, scope, deviceId))) throw notFound('device');
        pages = devicePages(deviceId, await exportResults(db, { ...filters, deviceId }));
      } else {
        const ouId = q.ou_id as string;
        if (!(await findOu(db, scope, ouId))) throw notFound('OU');
        // listDevices reads one row past the limit
        const list = (afterId?: string) => listDevices(db, scope, { ouId, afterId, limit: devicePage - 1 });
        const firstDevices = await list();
        pages = (async function* () {
          let devices = firstDevices;
          for (;;) {
            for (const d of devices) yield* devicePages(d.id);
            if (devices.length < devicePage) return;
            devices = await list((devices[devices.length - 1] as DeviceRow).id);
          }
        })();
      }
      return { since: filters.since, until: filters.until, pages, close, signal: controller.signal };
    } catch (err) {
      close();
      throw err;
    }
  }

  /** Latest result per series in scope; `target` alone gives the multi-vantage view. */
  async latest(
    p: Principal,
    q: { device_id?: string; ou_id?: string; kind?: string; target?: string; limit: number; cursor?: string },
  ): Promise<Page<LatestRow>> {
    let after: [string, string, string] | undefined;
    if (q.cursor) {
      const m = LATEST_CURSOR.exec(q.cursor);
      if (!m) throw badRequest('malformed cursor');
      const text = (b: string) => Buffer.from(b, 'base64url').toString('utf8');
      after = [m[1] as string, text(m[2] as string), text(m[3] as string)];
    }
    if (q.device_id && !(await findDevice(this.ctx.db, scopeOf(p), q.device_id))) throw notFound('device');
    if (q.ou_id && !(await findOu(this.ctx.db, scopeOf(p), q.ou_id))) throw notFound('OU');
    const rows = await latestResults(this.ctx.db, scopeOf(p), {
      deviceId: q.device_id,
      ouId: q.ou_id,
      kind: q.kind,
      target: q.target,
      after,
      limit: q.limit,
    });
    const b64 = (t: string) => Buffer.from(t).toString('base64url');
    return pageOf(rows, q.limit, (last) => `${last.device_id}.${b64(last.kind)}.${b64(last.target)}`);
  }
}
