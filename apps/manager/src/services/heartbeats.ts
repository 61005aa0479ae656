// Heartbeat coalescing: heartbeats are buffered per replica and written as one UNNEST UPDATE per
// flush (default every second), so 100k agents cost a few statements a second, not 100k updates.
import { sql } from 'kysely';
import type { Db } from '../db/database.js';

export interface HeartbeatFields {
  agent_state?: string;
  config_version?: number;
  spool_backlog?: number;
}

interface Pending extends HeartbeatFields {
  /** when the latest heartbeat arrived, epoch ms */
  at: number;
}

export class HeartbeatBuffer {
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  /**
   * @param flushMs how often buffered heartbeats are written, ms (staleness bound). @default 1000
   * @param onError flush failures (the batch is put back and retried on the next flush)
   */
  constructor(
    private readonly db: Db,
    private readonly flushMs = 1000,
    private readonly onError: (err: unknown) => void = () => {},
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  /** Records a heartbeat; the latest one per device wins, fields merge. */
  add(deviceId: string, f: HeartbeatFields): void {
    // why: the hot path of every heartbeat (tens of thousands a second over the stream): merge in place
    const p = this.pending.get(deviceId);
    if (!p) {
      this.pending.set(deviceId, {
        agent_state: f.agent_state,
        config_version: f.config_version,
        spool_backlog: f.spool_backlog,
        at: Date.now(),
      });
      return;
    }
    if (f.agent_state !== undefined) p.agent_state = f.agent_state;
    if (f.config_version !== undefined) p.config_version = f.config_version;
    if (f.spool_backlog !== undefined) p.spool_backlog = f.spool_backlog;
    p.at = Date.now();
  }

  get size(): number {
    return this.pending.size;
  }

  /** Writes everything buffered so far (serialised with any flush in progress). */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const ids = [...batch.keys()];
    const rows = ids.map((id) => batch.get(id) as Pending);
    try {
      await sql`UPDATE devices AS d SET status = 'online',
          last_seen_at = greatest(d.last_seen_at, v.at),
          agent_state = coalesce(v.agent_state, d.agent_state),
          config_version = coalesce(v.config_version, d.config_version),
          spool_backlog = coalesce(v.spool_backlog, d.spool_backlog)
        FROM unnest(${ids}::bigint[], ${rows.map((r) => new Date(r.at).toISOString())}::timestamptz[],
          ${rows.map((r) => r.agent_state ?? null)}::text[], ${rows.map((r) => r.config_version ?? null)}::int[],
          ${rows.map((r) => r.spool_backlog ?? null)}::int[]) AS v(id, at, agent_state, config_version, spool_backlog)
        WHERE d.id = v.id`.execute(this.db);
    } catch (err) {
      // keep what failed unless a newer heartbeat arrived meanwhile
      for (const [id, p] of batch) if (!this.pending.has(id)) this.pending.set(id, p);
      this.onError(err);
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
