// Threshold evaluation on ingest: per device × kind × target × metric state machines, events, and
// webhook deliveries queued in the same transaction.
import { sql } from 'kysely';
import type { DeviceRow } from '../db/queries/devices.js';
import type { ResultRowIn } from '../db/queries/results.js';
import type { Db } from '../db/database.js';
import {
  type AlertMetric,
  type AlertState,
  INITIAL,
  type Level,
  levelOf,
  type MachineOptions,
  DEFAULT_MACHINE,
  step,
  type Thresholds,
} from '../domain/alert-machine.js';
import type { ConfigService } from './config.js';

interface Cached {
  at: number;
  t: Record<AlertMetric, Thresholds>;
}

export interface AlertEvent {
  id: string;
  device_id: string;
  kind: string;
  target: string;
  metric: AlertMetric;
  from_state: Level;
  to_state: Level;
  value: number | null;
  threshold: number | null;
  at: Date;
}

/** Values a result gives each metric (null: the result says nothing about it). */
function valuesOf(r: ResultRowIn): Record<AlertMetric, number | null> {
  return { latency: r.latency_ms, jitter: r.jitter_ms, loss: r.loss_pct, availability: r.ok ? 0 : 1 };
}

export class AlertService {
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly config: ConfigService,
    private readonly machine: MachineOptions = DEFAULT_MACHINE,
    /** how long a device's thresholds are cached, ms. @default 30000 */
    private readonly cacheMs = 30_000,
  ) {}

  private async thresholds(device: DeviceRow): Promise<Record<AlertMetric, Thresholds>> {
    const hit = this.cache.get(device.id);
    if (hit && Date.now() - hit.at < this.cacheMs) return hit.t;
    const { values } = await this.config.effectiveFor(device);
    const th = values.thresholds;
    const t = {
      latency: { warning: th.latency_warning_ms, critical: th.latency_critical_ms },
      jitter: { warning: th.jitter_warning_ms, critical: th.jitter_critical_ms },
      loss: { warning: th.packet_loss_warning_percent, critical: th.packet_loss_critical_percent },
      availability: { warning: 1, critical: 1 },
    };
    if (this.cache.size > 100_000) this.cache.clear();
    this.cache.set(device.id, { at: Date.now(), t });
    return t;
  }

  /**
   * Feeds newly stored results (any order) through their machines, inside the caller's
   * transaction `tx` (the one that stored them, so a retry after a failure re-evaluates). Returns
   * the state changes, stored as events with their webhook deliveries queued.
   */
  async evaluate(device: DeviceRow, rows: ResultRowIn[], tx: Db): Promise<AlertEvent[]> {
    if (rows.length === 0) return [];
    const t = await this.thresholds(device);
    const sorted = [...rows].sort((a, b) => a.started_at.localeCompare(b.started_at));
    {
      const series = [...new Set(sorted.map((r) => `${r.kind}\u0000${r.target}`))].sort();
      const kinds = series.map((s) => s.split('\u0000')[0] as string);
      const targets = series.map((s) => s.split('\u0000')[1] as string);
      // lock this device's machines for these series (in a fixed order)
      const existing = await sql<{
        kind: string;
        target: string;
        metric: AlertMetric;
        state: Level;
        pending: Level;
        pending_count: number;
      }>`
        SELECT kind, target, metric, state, pending, pending_count FROM alert_states
        WHERE device_id = ${device.id} AND (kind, target) IN (SELECT * FROM unnest(${kinds}::text[], ${targets}::text[]))
        ORDER BY kind, target, metric FOR UPDATE`.execute(tx);
      const states = new Map<string, AlertState>();
      for (const e of existing.rows) states.set(`${e.kind}\u0000${e.target}\u0000${e.metric}`, e);
      const touched = new Map<string, { s: AlertState; value: number; at: string; since?: string }>();
      const events: Omit<AlertEvent, 'id'>[] = [];
      for (const r of sorted) {
        for (const [metric, value] of Object.entries(valuesOf(r)) as [AlertMetric, number | null][]) {
          if (value === null) continue;
          const key = `${r.kind}\u0000${r.target}\u0000${metric}`;
          const cur = states.get(key) ?? INITIAL;
          const { next, changed } = step(cur, levelOf(value, t[metric], cur.state, this.machine), this.machine);
          states.set(key, next);
          const prev = touched.get(key);
          touched.set(key, { s: next, value, at: r.started_at, since: changed ? r.started_at : prev?.since });
          if (changed) {
            const threshold = next.state === 'ok' ? null : t[metric][next.state];
            events.push({
              device_id: device.id,
              kind: r.kind,
              target: r.target,
              metric,
              from_state: cur.state,
              to_state: next.state,
              value,
              threshold,
              at: new Date(r.started_at),
            });
          }
        }
      }
      // one statement for every machine this batch touched, in key order (no deadlocks between batches)
      const entries = [...touched.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      if (entries.length) {
        const parts = entries.map(([key]) => key.split('\u0000'));
        const col = <T>(f: (v: (typeof entries)[number][1], i: number) => T) => entries.map(([, v], i) => f(v, i));
        await sql`INSERT INTO alert_states (device_id, kind, target, metric, state, pending, pending_count, since, last_value, last_at)
          SELECT ${device.id}::bigint, * FROM unnest(
            ${parts.map((p) => p[0])}::text[], ${parts.map((p) => p[1])}::text[], ${parts.map((p) => p[2])}::text[],
            ${col((v) => v.s.state)}::text[], ${col((v) => v.s.pending)}::text[], ${col((v) => v.s.pending_count)}::int[],
            ${col((v) => v.since ?? v.at)}::timestamptz[], ${col((v) => v.value)}::float8[], ${col((v) => v.at)}::timestamptz[])
          ON CONFLICT (device_id, kind, target, metric) DO UPDATE SET state = excluded.state, pending = excluded.pending,
            pending_count = excluded.pending_count, last_value = excluded.last_value, last_at = excluded.last_at,
            since = CASE WHEN alert_states.state = excluded.state THEN alert_states.since ELSE excluded.since END`.execute(
          tx,
        );
      }
      const out: AlertEvent[] = [];
      for (const e of events) {
        const ins = await tx
          .insertInto('alert_events')
          .values({ ...e, ou_id: device.ou_id })
          .returning('id')
          .executeTakeFirstOrThrow();
        // every enabled webhook whose OU covers the device (or global) gets a delivery
        await sql`INSERT INTO webhook_deliveries (webhook_id, event_id)
          SELECT w.id, ${ins.id}::bigint FROM webhooks w LEFT JOIN ous o ON o.id = w.ou_id
          WHERE w.enabled AND (w.ou_id IS NULL OR ${device.ou_path} LIKE o.path || '%')`.execute(tx);
        out.push({ ...e, id: ins.id });
      }
      return out;
    }
  }

  /** Forgets cached thresholds (after a config change). */
  invalidate(): void {
    this.cache.clear();
  }
}
