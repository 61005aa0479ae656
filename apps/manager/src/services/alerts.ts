// Threshold evaluation on ingest: per device × kind × target × metric state machines, events, and
// webhook deliveries queued in the same transaction.
import { sql } from 'kysely';
import type { DeviceRow } from '../db/queries/devices.js';
import { type AlertStateRow, type ResultRowIn, seriesKey } from '../db/queries/results.js';
import type { Db } from '../db/database.js';
import {
  type AlertMetric,
  type AlertState,
  INITIAL,
  isQuiet,
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

/** One state machine: device × kind × target × metric ('' while naming a series). */
interface Machine {
  deviceId: string;
  kind: string;
  target: string;
  metric: string;
}

/** A machine's key: its series' key (`seriesKey`) and its metric. */
const machineKey = (m: Machine) => seriesKey(m.deviceId, m.kind, m.target) + m.metric;

/** device (numerically), then kind, target, metric (bytewise, as COLLATE "C" in SQL). */
function byMachine(a: Machine, b: Machine): number {
  if (a.deviceId !== b.deviceId) {
    return a.deviceId.length - b.deviceId.length || (a.deviceId < b.deviceId ? -1 : 1);
  }
  for (const k of ['kind', 'target', 'metric'] as const) if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  return 0;
}

const METRICS: readonly AlertMetric[] = ['latency', 'jitter', 'loss', 'availability'];

/** The value a result gives a metric (null: the result says nothing about it). */
function valueOf(r: ResultRowIn, metric: AlertMetric): number | null {
  switch (metric) {
    case 'latency':
      return r.latency_ms;
    case 'jitter':
      return r.jitter_ms;
    case 'loss':
      return r.loss_pct;
    case 'availability':
      return r.ok ? 0 : 1;
  }
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
   * Whether every result of the items is at level ok for every metric from a quiet machine: then a quiet
   * machine stays quiet and nothing is written for it (`evaluate`), so a batch whose series have only
   * quiet machines may be stored without evaluating them (`storeResults` `alone`).
   */
  async leavesQuiet(items: readonly { device: DeviceRow; rows: readonly ResultRowIn[] }[]): Promise<boolean> {
    for (const { device, rows } of items) {
      if (!rows.length) continue;
      const t = await this.thresholds(device);
      for (const r of rows) {
        for (const metric of METRICS) {
          const value = valueOf(r, metric);
          if (value !== null && levelOf(value, t[metric], 'ok', this.machine) !== 'ok') return false;
        }
      }
    }
    return true;
  }

  /**
   * Feeds newly stored results of one or more devices (any order) through their machines, inside the
   * caller's transaction `tx` (the one that stored them, so a retry after a failure re-evaluates).
   * `existing` are the machines of these series as read and locked in `tx` (see `storeResults`).
   * Returns the state changes per item, stored as events with their webhook deliveries queued.
   * One statement writes every machine the batch moved, in the locking order.
   */
  async evaluate(
    items: readonly { device: DeviceRow; rows: readonly ResultRowIn[] }[],
    existing: readonly AlertStateRow[],
    tx: Db,
  ): Promise<AlertEvent[][]> {
    const out: AlertEvent[][] = items.map(() => []);
    const thresholds = new Map<string, Record<AlertMetric, Thresholds>>();
    for (const { device, rows } of items) {
      if (rows.length && !thresholds.has(device.id)) thresholds.set(device.id, await this.thresholds(device));
    }
    if (thresholds.size === 0) return out;
    // each series' results in time order, whichever upload of the batch brought them
    const bySeries = new Map<string, { device: DeviceRow; rows: { r: ResultRowIn; item: number }[] }>();
    items.forEach(({ device, rows }, item) => {
      for (const r of rows) {
        const key = seriesKey(device.id, r.kind, r.target);
        const s = bySeries.get(key);
        if (s) s.rows.push({ r, item });
        else bySeries.set(key, { device, rows: [{ r, item }] });
      }
    });
    const states = new Map<string, AlertState>();
    for (const e of existing) states.set(machineKey({ deviceId: e.device_id, ...e }), e);
    const up: { m: Machine; s: AlertState; value: number; at: string; since: string }[] = [];
    const events: { item: number; device: DeviceRow; e: Omit<AlertEvent, 'id'> }[] = [];
    for (const [key, { device, rows }] of bySeries) {
      if (rows.length > 1)
        rows.sort((a, b) => (a.r.started_at < b.r.started_at ? -1 : a.r.started_at > b.r.started_at ? 1 : 0));
      const t = thresholds.get(device.id) as Record<AlertMetric, Thresholds>;
      const { kind, target } = (rows[0] as { r: ResultRowIn }).r;
      for (const metric of METRICS) {
        let cur = states.get(key + metric) ?? INITIAL;
        let last: { value: number; at: string } | undefined;
        let since: string | undefined;
        for (const { r, item } of rows) {
          const value = valueOf(r, metric);
          if (value === null) continue;
          const { next, changed } = step(cur, levelOf(value, t[metric], cur.state, this.machine), this.machine);
          last = { value, at: r.started_at };
          if (changed) {
            since = r.started_at;
            events.push({
              item,
              device,
              e: {
                device_id: device.id,
                kind,
                target,
                metric,
                from_state: cur.state,
                to_state: next.state,
                value,
                threshold: next.state === 'ok' ? null : t[metric][next.state],
                at: new Date(r.started_at),
              },
            });
          }
          cur = next;
        }
        // a machine that was and stays quiet (ok, nothing pending) is not written: only open alerts show
        // their last value, and a missing row is the initial state. A healthy fleet writes no machines.
        if (last && !(isQuiet(cur) && isQuiet(states.get(key + metric) ?? INITIAL)))
          up.push({ m: { deviceId: device.id, kind, target, metric }, s: cur, ...last, since: since ?? last.at });
      }
    }
    up.sort((a, b) => byMachine(a.m, b.m));
    if (up.length) {
      const col = <T>(f: (v: (typeof up)[number]) => T) => up.map(f);
      await sql`INSERT INTO alert_states (device_id, kind, target, metric, state, pending, pending_count, since, last_value, last_at)
        SELECT * FROM unnest(
          ${col((v) => v.m.deviceId)}::bigint[], ${col((v) => v.m.kind)}::text[], ${col((v) => v.m.target)}::text[],
          ${col((v) => v.m.metric)}::text[], ${col((v) => v.s.state)}::text[], ${col((v) => v.s.pending)}::text[],
          ${col((v) => v.s.pending_count)}::int[], ${col((v) => v.since)}::timestamptz[],
          ${col((v) => v.value)}::float8[], ${col((v) => v.at)}::timestamptz[])
        ON CONFLICT (device_id, kind, target, metric) DO UPDATE SET state = excluded.state, pending = excluded.pending,
          pending_count = excluded.pending_count, last_value = excluded.last_value, last_at = excluded.last_at,
          since = CASE WHEN alert_states.state = excluded.state THEN alert_states.since ELSE excluded.since END`.execute(
        tx,
      );
    }
    // state changes are rare: one event row and its deliveries at a time
    for (const { item, device, e } of events) {
      const ins = await tx
        .insertInto('alert_events')
        .values({ ...e, ou_id: device.ou_id })
        .returning('id')
        .executeTakeFirstOrThrow();
      // every enabled webhook whose OU covers the device (or global) gets a delivery
      await sql`INSERT INTO webhook_deliveries (webhook_id, event_id)
        SELECT w.id, ${ins.id}::bigint FROM webhooks w LEFT JOIN ous o ON o.id = w.ou_id
        WHERE w.enabled AND (w.ou_id IS NULL OR ${device.ou_path} LIKE o.path || '%')`.execute(tx);
      out[item]?.push({ ...e, id: ins.id });
    }
    return out;
  }

  /** Forgets cached thresholds (after a config change). */
  invalidate(): void {
    this.cache.clear();
  }
}
