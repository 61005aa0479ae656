// Heartbeat staleness probes: after an ack, poll the database until `last_seen_at` shows the heartbeat.
import type pg from 'pg';

/** Polls `last_seen_at` of acked heartbeats; counts its own queries so they can be told from the manager's. */
export class StalenessProbe {
  /** queries this probe ran (they are bench transactions, not the manager's cost) */
  polls = 0;

  constructor(private readonly pool: pg.Pool) {}

  /**
   * ms from `ackAt` until `last_seen_at ≥ sentAt` is visible for device `id` (polls every 20 ms);
   * undefined when it is not visible within 5 s.
   */
  async visibleAfter(id: string, sentAt: number, ackAt: number): Promise<number | undefined> {
    while (Date.now() - ackAt < 5000) {
      this.polls++;
      const r = await this.pool.query('SELECT last_seen_at >= $2::timestamptz AS seen FROM devices WHERE id = $1', [
        id,
        new Date(sentAt - 1).toISOString(),
      ]);
      if (r.rows[0]?.seen) return Date.now() - ackAt;
      await new Promise((res) => setTimeout(res, 20));
    }
    return undefined;
  }
}

/** Committed plus rolled-back transactions of the pool's database so far. */
export async function xacts(pool: pg.Pool): Promise<number> {
  const r = await pool.query(
    'SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()',
  );
  return Number(r.rows[0].n);
}
