// The agent daemon: lifecycle, enrollment with ENV fallback and backoff, one enrolled session at a time, status.
import { randomUUID } from 'node:crypto';
import type { ConfigValues, Rng } from '@rookery/protocol';
import type { Logger } from 'pino';
import type { DeviceFacts } from './device.js';
import { enrollDevice } from './enrollment.js';
import { Lifecycle, type State } from './lifecycle.js';
import { Backoff, type BackoffOptions } from './link/backoff.js';
import { logLinkError, requestedDelayMs } from './link/errors.js';
import type { ManagerApi } from './link/manager-api.js';
import type { UploadStatus } from './link/result-uploader.js';
import type { AgentStream } from './link/stream.js';
import { EnrolledSession } from './session.js';
import type { AgentStatus, AgentStore, StoredCredential } from './state-store.js';
import type { ProbeRunner } from './tasks/probe-runner.js';
import type { ResultSink } from './tasks/result-sink.js';
import { type ActiveConfig, TestSchedule } from './tasks/test-schedule.js';
import { OneShotTimer } from './tasks/timer.js';

export type { ActiveConfig } from './tasks/test-schedule.js';

/** Timing knobs (tests shorten them). */
export interface AgentTiming {
  /** enrollment retries and re-enrollment after 401; @default 2 s doubling to 5 min */
  enrollBackoff?: BackoffOptions;
  /** config check-in retries after a failure; @default 5 s doubling to 5 min */
  checkinBackoff?: BackoffOptions;
  /** heartbeat at least this often while enrolled, milliseconds; @default 60000 */
  heartbeatIntervalMs?: number | undefined;
  /** a heartbeat sent on the stream and not acked within this long goes over HTTP, milliseconds; @default 5000 */
  streamAckTimeoutMs?: number | undefined;
  /** on stop, try to upload spooled results for at most this long, milliseconds; @default 3000 */
  resultFlushMs?: number | undefined;
}

/** The result upload pipeline as the agent drives it (port; the real one is `ResultUploader` over the spool). */
export interface ResultUploads {
  /** results waiting for upload (heartbeat `spool_backlog`) */
  readonly backlog: number;
  /** uploads with `credential` from now on; `onRefused` is called on a 401 for it; `undefined` pauses */
  setCredential(credential: string | undefined, onRefused?: () => void): void;
  /** uploads what it can within `flushMs`, then stops; the rest stays spooled */
  stop(flushMs: number): Promise<void>;
  /** counters for status.json */
  status(): UploadStatus;
}

export interface AgentDeps {
  managerUrl: string;
  /** needed only when no credential is stored */
  enrollmentSecret: string | undefined;
  /** local ENV/file config, run only while not enrolled */
  localConfig: ConfigValues;
  /** stop on our own after this many seconds */
  runSeconds?: number | undefined;
  device: DeviceFacts;
  api: ManagerApi;
  stream: AgentStream;
  store: AgentStore;
  runner: ProbeRunner;
  sink: ResultSink;
  /** spool upload; without it results only go to `sink` and the backlog is 0 */
  results?: ResultUploads;
  logger: Logger;
  rng?: Rng;
  timing?: AgentTiming;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** The daemon. `start()` returns once the first enrollment attempt settled; `done` resolves when stopped. */
export class Agent {
  readonly lifecycle = new Lifecycle();
  private readonly tests: TestSchedule;
  private session: EnrolledSession | undefined;
  private enrollKey: string | undefined;
  private readonly abort = new AbortController();
  /** why: reset only by a successful authenticated call, so enroll→401 loops stay slow */
  private readonly enrollBackoff: Backoff;
  private readonly checkinBackoff: Backoff;
  private readonly enrollTimer = new OneShotTimer();
  private readonly runForTimer = new OneShotTimer();
  private statusWrite: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;
  private resolveDone!: () => void;
  /** Resolves once the agent reached `stopped`. */
  readonly done = new Promise<void>((resolve) => {
    this.resolveDone = resolve;
  });

  constructor(private readonly deps: AgentDeps) {
    const { logger, rng, timing } = deps;
    this.tests = new TestSchedule(this.localConfig(), {
      runner: deps.runner,
      sink: deps.sink,
      logger,
      signal: this.abort.signal,
      rng,
      onRunFinished: () => this.session?.heartbeat() ?? Promise.resolve(),
      onChange: () => this.saveStatus(),
    });
    this.enrollBackoff = new Backoff({ initialMs: 2000, maxMs: 300_000, rng, ...timing?.enrollBackoff });
    this.checkinBackoff = new Backoff({ initialMs: 5000, maxMs: 300_000, rng, ...timing?.checkinBackoff });
    this.lifecycle.onChange((to, from) => {
      logger.info({ from, to }, `agent state ${to}`);
      this.saveStatus();
    });
  }

  get state(): State {
    return this.lifecycle.state;
  }

  /** The config tests run with right now. */
  get config(): ActiveConfig {
    return this.tests.config;
  }

  /**
   * Reuses a stored credential (and cached config) or enrolls; falls back to the local config when
   * enrollment fails. Throws when there is neither a credential nor an enrollment secret.
   */
  async start(): Promise<void> {
    const { logger, runSeconds, store, device, managerUrl } = this.deps;
    if (runSeconds !== undefined) this.runForTimer.schedule(runSeconds * 1000, () => void this.stop('run_seconds'));
    const stored = await store.loadCredential();
    if (this.lifecycle.isStopping) return;
    if (stored && stored.manager_url === managerUrl && stored.device_serial === device.serial) {
      logger.info({ device_id: stored.device_id, ou_id: stored.ou_id }, 'using stored device credential');
      const cached = await store.loadConfig();
      if (this.lifecycle.isStopping) return;
      if (cached) {
        logger.info({ config_version: cached.config_version }, 'running the cached manager config until check-in');
        const { values, config_version: version, config_name: name } = cached;
        this.tests.apply({ values, source: 'manager', version, name });
      }
      this.beginSession(stored);
      return;
    }
    if (stored) logger.warn('stored credential is for another manager or serial; enrolling again');
    if (!this.deps.enrollmentSecret) {
      throw new Error(`no enrollment secret and no credential in ${store.dir}: set ENROLLMENT_SECRET`);
    }
    this.lifecycle.transition('enrolling');
    await this.enroll();
  }

  /** Stops timers, the stream and in-flight work, sends a last heartbeat; idempotent. */
  stop(reason: string): Promise<void> {
    this.stopping ??= this.shutdown(reason);
    return this.stopping;
  }

  private async shutdown(reason: string): Promise<void> {
    this.lifecycle.transition('stopping');
    this.deps.logger.info({ reason }, 'agent stopping');
    this.enrollTimer.cancel();
    this.runForTimer.cancel();
    this.abort.abort();
    const session = this.session;
    const flushMs = this.deps.timing?.resultFlushMs ?? 3000;
    // why: the probes' last results reach the spool first; the flush still needs the session's credential
    const flushed = this.tests.stop().then(() => this.deps.results?.stop(flushMs));
    await Promise.allSettled([flushed, session?.close()]);
    await session?.farewell();
    this.lifecycle.transition('stopped');
    await this.statusWrite;
    this.resolveDone();
  }

  /** Status as written to status.json. */
  snapshot(): AgentStatus {
    const s = this.session;
    const config = this.tests.config;
    return {
      state: this.lifecycle.state,
      pid: process.pid,
      manager_url: this.deps.managerUrl,
      device_serial: this.deps.device.serial,
      device_id: s?.credential.device_id ?? null,
      ou_id: s?.credential.ou_id ?? null,
      config_source: config.source,
      config_name: config.name,
      config_version: config.version,
      last_checkin_at: iso(s?.lastCheckinAt),
      next_checkin_at: iso(s?.nextCheckinAt),
      last_test_run_at: iso(this.tests.lastRunAt),
      next_test_run_at: iso(this.tests.nextRunAt),
      last_heartbeat_at: iso(s?.lastHeartbeatAt),
      last_heartbeat_via: s?.lastHeartbeatVia ?? null,
      stream_connected: s !== undefined && this.deps.stream.connected,
      spool: this.deps.results?.status() ?? null,
      updated_at: new Date().toISOString(),
    };
  }

  private saveStatus(): void {
    const status = this.snapshot();
    this.statusWrite = this.statusWrite
      .then(() => this.deps.store.saveStatus(status))
      .catch((err: unknown) => this.deps.logger.warn({ err: (err as Error).message }, 'could not write status'));
  }

  private localConfig(): ActiveConfig {
    return { values: this.deps.localConfig, source: 'local', version: null, name: null };
  }

  private scheduleEnroll(delayMs: number): void {
    this.enrollTimer.schedule(delayMs, () => {
      this.enroll().catch((err: unknown) => this.deps.logger.error({ err: (err as Error).message }, 'enroll crashed'));
    });
  }

  private async enroll(): Promise<void> {
    const { api, device, managerUrl, logger, store } = this.deps;
    const secret = this.deps.enrollmentSecret;
    if (this.lifecycle.isStopping) return;
    if (!secret) {
      logger.error('cannot re-enroll: no enrollment secret configured; running the local config');
      return this.enterFallback();
    }
    this.enrollKey ??= randomUUID();
    try {
      const signal = this.abort.signal;
      const credential = await enrollDevice(api, device, secret, managerUrl, {
        signal,
        idempotencyKey: this.enrollKey,
      });
      if (this.lifecycle.isStopping) return;
      await store.saveCredential(credential);
      this.enrollKey = undefined;
      logger.info({ device_id: credential.device_id, ou_id: credential.ou_id }, 'enrolled');
      this.beginSession(credential);
    } catch (err) {
      if (this.lifecycle.isStopping) return;
      const delay = Math.max(this.enrollBackoff.next(), requestedDelayMs(err) ?? 0);
      logLinkError(logger, err, 'enrollment failed', delay);
      this.enterFallback();
      this.scheduleEnroll(delay);
      this.saveStatus();
    }
  }

  private enterFallback(): void {
    this.lifecycle.transition('unenrolled_fallback');
    if (this.tests.config.source !== 'local') this.deps.logger.info('running the local config until enrolled');
    this.tests.apply(this.localConfig());
  }

  private beginSession(credential: StoredCredential): void {
    this.session = new EnrolledSession({
      credential,
      api: this.deps.api,
      stream: this.deps.stream,
      store: this.deps.store,
      logger: this.deps.logger,
      tests: this.tests,
      checkinBackoff: this.checkinBackoff,
      heartbeatIntervalMs: this.deps.timing?.heartbeatIntervalMs ?? 60_000,
      streamAckTimeoutMs: this.deps.timing?.streamAckTimeoutMs ?? 5000,
      spoolBacklog: () => this.deps.results?.backlog ?? 0,
      signal: this.abort.signal,
      onUnauthorized: (where) => this.onUnauthorized(where),
      onAuthenticated: () => this.enrollBackoff.reset(),
      onChange: () => this.saveStatus(),
    });
    this.lifecycle.transition('enrolled');
    const session = this.session;
    session.open();
    this.deps.results?.setCredential(credential.device_credential, () => session.refuse('results upload'));
  }

  /** The credential was refused: forget it and re-enroll once the backoff allows. */
  private onUnauthorized(where: string): void {
    if (this.lifecycle.state !== 'enrolled') return;
    const delay = this.enrollBackoff.next();
    this.deps.logger.warn(
      { where, retry_in_ms: delay },
      'device credential refused (revoked or unknown); re-enrolling',
    );
    this.session = undefined;
    this.deps.results?.setCredential(undefined); // why: keep the spool; uploads resume with the next credential
    this.lifecycle.transition('enrolling');
    this.deps.store.clearCredential().catch((err: unknown) => {
      this.deps.logger.error({ err: (err as Error).message }, 'could not delete the refused credential');
    });
    this.scheduleEnroll(delay);
  }
}
