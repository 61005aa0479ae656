// Cross-replica messages over PostgreSQL LISTEN/NOTIFY, on one dedicated connection with reconnect.
import pg from 'pg';

export type Listener = (payload: unknown) => void;

export class Notifier {
  private client: pg.Client | undefined;
  private readonly listeners = new Map<string, Set<Listener>>();
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly queue: { channel: string; payload: string; resolve(): void; reject(err: unknown): void }[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private connectedOnce = false;
  private readonly resyncs: (() => void)[] = [];

  /**
   * @param url connection URL (a dedicated session: LISTEN does not work through a pool)
   * @param send pool used for NOTIFY
   * @param batchMs how long notifications collect before they go out in one statement
   */
  constructor(
    private readonly url: string,
    private readonly send: pg.Pool,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly batchMs = 10,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url });
    client.on('notification', (msg) => {
      let payload: unknown = null;
      try {
        payload = msg.payload ? JSON.parse(msg.payload) : null;
      } catch {
        return;
      }
      for (const l of this.listeners.get(msg.channel) ?? []) l(payload);
    });
    client.on('error', (err) => {
      this.onError(err);
      this.reconnect();
    });
    await client.connect();
    for (const ch of this.listeners.keys()) await client.query(`LISTEN ${ch}`);
    this.client = client;
    // listening again after a lost connection: whatever was sent meanwhile never arrives
    if (this.connectedOnce) for (const f of this.resyncs) f();
    this.connectedOnce = true;
  }

  /**
   * Calls `f` each time the listening connection is back after it was lost: notifications sent while it
   * was down are gone, so caches that rely on them must be dropped.
   */
  onResync(f: () => void): void {
    this.resyncs.push(f);
  }

  private reconnect(): void {
    if (this.stopped || this.retry) return;
    const old = this.client;
    this.client = undefined;
    void old?.end().catch(() => undefined);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.start().catch((err: unknown) => {
        this.onError(err);
        this.reconnect();
      });
    }, 1000);
    this.retry.unref();
  }

  /** Subscribes to a channel (lower-case identifier). */
  async listen(channel: string, l: Listener): Promise<void> {
    if (!/^[a-z_]+$/.test(channel)) throw new Error(`bad channel name ${channel}`);
    const set = this.listeners.get(channel) ?? new Set();
    const fresh = set.size === 0;
    set.add(l);
    this.listeners.set(channel, set);
    if (fresh && this.client) await this.client.query(`LISTEN ${channel}`);
  }

  /**
   * Sends to every replica (this one included). Payload must stay under 8000 bytes. Notifications
   * made within `batchMs` go out in one statement (uploads stored in that time make one round trip,
   * not one each: on a busy replica a round trip to PostgreSQL costs more than the statement); each
   * keeps its own payload and order.
   */
  notify(channel: string, payload: unknown): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.queue.length === 0) this.flushTimer = setTimeout(() => void this.flush(), this.batchMs);
      this.queue.push({ channel, payload: JSON.stringify(payload), resolve, reject });
    });
  }

  private async flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.queue.splice(0);
    if (batch.length === 0) return;
    try {
      await this.send.query(
        'SELECT count(pg_notify(c, p)) FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(c, p, n)',
        [batch.map((b) => b.channel), batch.map((b) => b.payload)],
      );
      for (const b of batch) b.resolve();
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // what was sent before the stop still goes out
    await this.flush();
    clearTimeout(this.retry);
    await this.client?.end().catch(() => undefined);
    this.client = undefined;
  }
}
