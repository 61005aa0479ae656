// Background jobs that run once across manager replicas: the holder of an advisory lock runs them.
import type pg from 'pg';

export interface Job {
  name: string;
  /** milliseconds between runs */
  everyMs: number;
  run(): Promise<void>;
}

interface JobState {
  last_run: string | null;
  last_error: string | null;
  runs: number;
}

/** Advisory-lock key for job leadership. */
const LEADER_LOCK = 727_002;

/**
 * Tries to take leadership every `pollMs` on a dedicated connection (session lock: released when
 * the connection dies, so a crashed leader is replaced). Only the leader runs jobs.
 */
export class LeaderLoop {
  private client: pg.PoolClient | undefined;
  private timer: NodeJS.Timeout | undefined;
  private leader = false;
  private stopped = false;
  private readonly state = new Map<string, JobState>();
  private readonly due = new Map<string, number>();
  private running: Promise<void> = Promise.resolve();
  /** runs under way, by job name */
  private readonly inflight = new Map<string, Promise<void>>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly jobs: Job[],
    private readonly pollMs = 1000,
    private readonly onError: (job: string, err: unknown) => void = () => {},
  ) {
    for (const j of jobs) this.state.set(j.name, { last_run: null, last_error: null, runs: 0 });
  }

  start(): void {
    this.schedule(0);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => this.schedule(this.pollMs));
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    try {
      if (!this.leader) {
        this.client ??= await this.session();
        const r = await this.client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [LEADER_LOCK]);
        this.leader = r.rows[0]?.ok === true;
      } else {
        await this.client?.query('SELECT 1');
      }
    } catch (err) {
      this.drop(true);
      this.onError('leader', err);
      return;
    }
    if (!this.leader) return;
    const now = Date.now();
    // each job runs on its own: a long one (an hour's rollup sum, a retention sweep) does not hold up the
    // others; a job is not started again while its previous run is under way
    for (const job of this.jobs) {
      if (this.inflight.has(job.name) || (this.due.get(job.name) ?? 0) > now || this.stopped) continue;
      this.due.set(job.name, now + job.everyMs);
      this.inflight.set(
        job.name,
        this.runJob(job).finally(() => this.inflight.delete(job.name)),
      );
    }
  }

  private async runJob(job: Job): Promise<void> {
    const s = this.state.get(job.name);
    try {
      await job.run();
      if (s) s.last_error = null;
    } catch (err) {
      if (s) s.last_error = (err as Error).message;
      this.onError(job.name, err);
    }
    if (s) {
      s.last_run = new Date().toISOString();
      s.runs++;
    }
  }

  /**
   * The dedicated connection. It is held between queries, so a server that ends it (restart, failover,
   * shutdown, an idle timeout) makes it emit 'error' while no query runs: without a listener that
   * would end the process. Leadership is then lost (the lock went with the session) and retaken on a
   * new connection at the next tick.
   */
  private async session(): Promise<pg.PoolClient> {
    const c = await this.pool.connect();
    c.on('error', (err) => {
      if (this.client !== c) return;
      this.drop(err);
      this.onError('leader', err);
    });
    return c;
  }

  /** Gives up the session (and with it the lock): `err` destroys the connection instead of pooling it. */
  private drop(err?: Error | boolean): void {
    const c = this.client;
    this.client = undefined;
    this.leader = false;
    c?.release(err);
  }

  status(): Record<string, unknown> {
    return { leader: this.leader, jobs: Object.fromEntries(this.state) };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await Promise.all(this.inflight.values());
    await this.client?.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
    // a no-op when the error listener dropped the session meanwhile
    this.drop();
  }
}
