// One enrolled session (one credential): stream with nudges, timer 2 (config check-ins), heartbeats (stream, else HTTP).
import { randomUUID } from 'node:crypto';
import type { ConfigResponse, ConfigValues, ServerStreamMessage } from '@rookery/protocol';
import type { Logger } from 'pino';
import type { Backoff } from './link/backoff.js';
import { logLinkError, requestedDelayMs, UnauthorizedError } from './link/errors.js';
import type { ManagerApi } from './link/manager-api.js';
import type { AgentStream } from './link/stream.js';
import { StreamHeartbeats } from './link/stream-heartbeats.js';
import type { AgentStore, StoredCredential } from './state-store.js';
import type { TestSchedule } from './tasks/test-schedule.js';
import { OneShotTimer } from './tasks/timer.js';

export interface SessionDeps {
  credential: StoredCredential;
  api: ManagerApi;
  stream: AgentStream;
  store: AgentStore;
  logger: Logger;
  tests: TestSchedule;
  /** shared with the agent so its state survives sessions */
  checkinBackoff: Backoff;
  /** heartbeat at least this often, milliseconds */
  heartbeatIntervalMs: number;
  /** a stream heartbeat not acked within this long is sent over HTTP instead, milliseconds */
  streamAckTimeoutMs: number;
  /** results waiting in the spool, reported as `spool_backlog` */
  spoolBacklog(): number;
  /** aborted when the agent stops */
  signal: AbortSignal;
  /** the manager refused the credential (401 on a call or the stream upgrade); the session is already closed */
  onUnauthorized(where: string): void;
  /** an authenticated call succeeded (the credential is good) */
  onAuthenticated(): void;
  /** something shown in status changed */
  onChange(): void;
}

/** The manager's config response as the values a config layer merge produced. */
export function valuesOf(res: ConfigResponse): ConfigValues {
  const { tests, schedule, thresholds } = res.config;
  return {
    tests,
    schedule: { interval_seconds: schedule.interval_seconds, offset_percent: schedule.offset_percent },
    thresholds,
  };
}

/** Lives from enrollment (or a reused credential) until a 401 or stop; `close()` ends it. */
export class EnrolledSession {
  private readonly checkinTimer = new OneShotTimer();
  private readonly heartbeatTimer = new OneShotTimer();
  private checkinRun: Promise<void> | undefined;
  private checkinAgain = false;
  private heartbeatRun: Promise<void> | undefined;
  private closed = false;
  /** hellos on this session's stream: every one after the first is a reconnect */
  private hellos = 0;
  lastCheckinAt: number | undefined;
  lastHeartbeatAt: number | undefined;
  /** how the last heartbeat that landed travelled */
  lastHeartbeatVia: 'stream' | 'http' | undefined;
  private readonly streamHeartbeats: StreamHeartbeats;

  constructor(private readonly deps: SessionDeps) {
    this.streamHeartbeats = new StreamHeartbeats(deps.stream, deps.streamAckTimeoutMs, deps.logger);
  }

  get credential(): StoredCredential {
    return this.deps.credential;
  }

  get nextCheckinAt(): number | undefined {
    return this.checkinTimer.dueAt;
  }

  /** Opens the stream, arms the heartbeat timer, checks in at once. */
  open(): void {
    this.deps.stream.start(this.credential.device_credential, {
      onMessage: (message) => {
        if (!this.streamHeartbeats.onMessage(message)) this.onStreamMessage(message);
      },
      onUnauthorized: () => this.refused('stream'),
      onConnectionChange: (connected) => {
        this.streamHeartbeats.onConnectionChange(connected);
        this.deps.onChange();
      },
    });
    this.heartbeatTimer.schedule(this.deps.heartbeatIntervalMs, () => this.detach(this.heartbeat()));
    this.detach(this.checkIn('enrolled'));
  }

  /** Stops timers and the stream; waits for calls in flight. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.checkinTimer.cancel();
    this.heartbeatTimer.cancel();
    this.deps.stream.stop();
    this.streamHeartbeats.cancel();
    await Promise.allSettled([this.checkinRun, this.heartbeatRun]);
  }

  /** Checks in now; concurrent requests coalesce into one follow-up check-in. */
  checkIn(reason: string): Promise<void> {
    if (this.checkinRun) {
      this.checkinAgain = true;
      return this.checkinRun;
    }
    this.checkinRun = this.fetchConfig(reason).finally(() => {
      this.checkinRun = undefined;
      if (this.checkinAgain && !this.closed) {
        this.checkinAgain = false;
        this.detach(this.checkIn('coalesced'));
      }
    });
    return this.checkinRun;
  }

  /** Sends a heartbeat now (one at a time; over the stream when connected, else HTTP) and re-arms the 60 s timer. */
  heartbeat(): Promise<void> {
    this.heartbeatRun ??= this.sendHeartbeat().finally(() => {
      this.heartbeatRun = undefined;
    });
    return this.heartbeatRun;
  }

  /** Best-effort last heartbeat with `agent_state: "stopping"`, bounded to 2 s. */
  async farewell(): Promise<void> {
    const { credential, api, tests } = this.deps;
    await api
      .heartbeat(
        credential.device_credential,
        credential.device_id,
        {
          agent_state: 'stopping',
          config_version: tests.config.version ?? undefined,
          spool_backlog: this.deps.spoolBacklog(),
        },
        { signal: AbortSignal.timeout(2000), idempotencyKey: randomUUID() },
      )
      .catch(() => undefined);
  }

  /** Another part of the agent (the result uploader) got a 401 with this session's credential. */
  refuse(where: string): void {
    this.refused(where);
  }

  private detach(task: Promise<void>): void {
    task.catch((err: unknown) => this.deps.logger.error({ err: (err as Error).message }, 'unexpected session failure'));
  }

  private refused(where: string): void {
    if (this.closed) return;
    this.detach(this.close());
    this.deps.onUnauthorized(where);
  }

  private onStreamMessage(message: ServerStreamMessage): void {
    const { logger, tests } = this.deps;
    if (message.type === 'hello') {
      logger.info({ device_id: message.device_id }, 'manager said hello');
      // why: nudges sent while the stream was down (e.g. its replica restarting) are lost; re-read the config
      if (++this.hellos > 1) this.detach(this.checkIn('stream_reconnected'));
    }
    if (message.type === 'nudge' && message.config_version !== tests.config.version) {
      logger.info({ config_version: message.config_version }, 'nudged: config changed, checking in');
      this.detach(this.checkIn('nudge'));
    }
  }

  private async fetchConfig(reason: string): Promise<void> {
    if (this.closed) return;
    const { api, credential, logger, tests, checkinBackoff } = this.deps;
    this.checkinTimer.cancel();
    let res: ConfigResponse;
    try {
      res = await api.getConfig(credential.device_credential, credential.device_serial, { signal: this.deps.signal });
    } catch (err) {
      if (this.closed || this.deps.signal.aborted) return;
      if (err instanceof UnauthorizedError) return this.refused('config');
      const delay = Math.max(checkinBackoff.next(), requestedDelayMs(err) ?? 0);
      logLinkError(logger, err, 'config check-in failed', delay);
      // why: no config fetched yet — measure with what we have (cached manager or local) meanwhile
      if (!tests.started) tests.apply(tests.config);
      this.checkinTimer.schedule(delay, () => this.detach(this.checkIn('retry')));
      this.deps.onChange();
      return;
    }
    if (this.closed || this.deps.signal.aborted) return;
    checkinBackoff.reset();
    this.deps.onAuthenticated();
    this.lastCheckinAt = Date.now();
    if (tests.config.source !== 'manager' || tests.config.version !== res.config_version) {
      const { config_name, config_version, ou_id } = res;
      logger.info({ reason, config_name, config_version, ou_id }, 'applying manager config');
      const values = valuesOf(res);
      tests.apply(
        { values, source: 'manager', version: config_version, name: config_name },
        res.config.schedule.actual_interval_seconds,
      );
      this.detach(
        this.deps.store.saveConfig({ config_name, config_version, values, saved_at: new Date().toISOString() }),
      );
    }
    this.checkinTimer.schedule(res.next_checkin_seconds * 1000, () => this.detach(this.checkIn('timer')));
    this.deps.onChange();
  }

  private async sendHeartbeat(): Promise<void> {
    if (this.closed) return;
    const { api, credential, logger, tests } = this.deps;
    this.heartbeatTimer.schedule(this.deps.heartbeatIntervalMs, () => this.detach(this.heartbeat()));
    const body = {
      agent_state: 'enrolled' as const,
      config_version: tests.config.version ?? undefined,
      spool_backlog: this.deps.spoolBacklog(),
    };
    // why: the stream is already open and authenticated; HTTP stays the fallback when it is down or silent
    if (await this.streamHeartbeats.send(body)) {
      this.deps.onAuthenticated(); // the stream authenticated with this credential
      return this.landed('stream');
    }
    if (this.closed || this.deps.signal.aborted) return;
    try {
      await api.heartbeat(credential.device_credential, credential.device_id, body, {
        signal: this.deps.signal,
        idempotencyKey: randomUUID(),
      });
      this.deps.onAuthenticated();
      this.landed('http');
    } catch (err) {
      if (this.closed || this.deps.signal.aborted) return;
      if (err instanceof UnauthorizedError) return this.refused('heartbeat');
      logLinkError(logger, err, 'heartbeat failed', this.deps.heartbeatIntervalMs);
    }
  }

  private landed(via: 'stream' | 'http'): void {
    this.lastHeartbeatAt = Date.now();
    this.lastHeartbeatVia = via;
    this.deps.onChange();
  }
}
