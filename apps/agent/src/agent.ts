// The agent daemon: enrollment with fallback, config check-ins, test runs, heartbeats, stream nudges.
import { randomUUID } from 'node:crypto';
import {
  type ConfigResponse,
  type ConfigValues,
  drawTestInterval,
  type Rng,
  type ServerStreamMessage,
} from '@rookery/protocol';
import type { Logger } from 'pino';
import type { DeviceFacts } from './device.js';
import { enrollDevice } from './enrollment.js';
import { Lifecycle, type State } from './lifecycle.js';
import { Backoff, type BackoffOptions } from './link/backoff.js';
import { ApiVersionMismatchError, requestedDelayMs, UnauthorizedError } from './link/errors.js';
import type { ManagerApi } from './link/manager-api.js';
import type { AgentStream } from './link/stream.js';
import type { AgentStatus, AgentStore, StoredCredential } from './state-store.js';
import type { ProbeRunner } from './tasks/probe-runner.js';
import type { ResultSink } from './tasks/result-sink.js';
import { runTests } from './tasks/test-run.js';
import { OneShotTimer } from './tasks/timer.js';

/** The config the agent runs right now. */
export interface ActiveConfig {
  values: ConfigValues;
  source: 'manager' | 'local';
  version: number | null;
  name: string | null;
}

/** Timing knobs (tests shorten them). */
export interface AgentTiming {
  /** enrollment retries and re-enrollment after 401; @default 2 s doubling to 5 min */
  enrollBackoff?: BackoffOptions;
  /** config check-in retries after a failure; @default 5 s doubling to 5 min */
  checkinBackoff?: BackoffOptions;
  /** heartbeat at least this often while enrolled, milliseconds; @default 60000 */
  heartbeatIntervalMs?: number;
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
  logger: Logger;
  rng?: Rng;
  timing?: AgentTiming;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** The daemon. `start()` returns once the first enrollment attempt settled; `done` resolves when stopped. */
export class Agent {
  readonly lifecycle = new Lifecycle();
  private active: ActiveConfig;
  private credential: StoredCredential | undefined;
  private enrollKey: string | undefined;
  private readonly abort = new AbortController();
  private readonly enrollBackoff: Backoff;
  private readonly checkinBackoff: Backoff;
  private readonly timers = {
    test: new OneShotTimer(),
    checkin: new OneShotTimer(),
    heartbeat: new OneShotTimer(),
    enroll: new OneShotTimer(),
    runFor: new OneShotTimer(),
  };
  private testRun: Promise<void> | undefined;
  private checkinRun: Promise<void> | undefined;
  private checkinAgain = false;
  private heartbeatRun: Promise<void> | undefined;
  private lastTestStartedAt: number | undefined;
  private lastCheckinAt: number | undefined;
  private lastHeartbeatAt: number | undefined;
  private statusWrite: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;
  private resolveDone!: () => void;
  /** Resolves once the agent reached `stopped`. */
  readonly done = new Promise<void>((resolve) => {
    this.resolveDone = resolve;
  });

  constructor(private readonly deps: AgentDeps) {
    this.active = { values: deps.localConfig, source: 'local', version: null, name: null };
    this.enrollBackoff = new Backoff({ initialMs: 2000, maxMs: 300_000, rng: deps.rng, ...deps.timing?.enrollBackoff });
    this.checkinBackoff = new Backoff({
      initialMs: 5000,
      maxMs: 300_000,
      rng: deps.rng,
      ...deps.timing?.checkinBackoff,
    });
    this.lifecycle.onChange((to, from) => {
      deps.logger.info({ from, to }, `agent state ${to}`);
      this.saveStatus();
    });
  }

  get state(): State {
    return this.lifecycle.state;
  }

  get config(): ActiveConfig {
    return this.active;
  }

  /** Loads the stored credential or enrolls; falls back to the local config when enrollment fails. */
  async start(): Promise<void> {
    const { logger, runSeconds } = this.deps;
    if (runSeconds !== undefined) this.timers.runFor.schedule(runSeconds * 1000, () => void this.stop('run_seconds'));
    const stored = await this.deps.store.loadCredential();
    if (this.lifecycle.isStopping) return;
    if (stored && stored.manager_url === this.deps.managerUrl && stored.device_serial === this.deps.device.serial) {
      this.credential = stored;
      logger.info({ device_id: stored.device_id, ou_id: stored.ou_id }, 'using stored device credential');
      const cached = await this.deps.store.loadConfig();
      if (this.lifecycle.isStopping) return;
      this.lifecycle.transition('enrolled');
      if (cached) {
        logger.info({ config_version: cached.config_version }, 'running the cached manager config until check-in');
        this.apply({
          values: cached.values,
          source: 'manager',
          version: cached.config_version,
          name: cached.config_name,
        });
      }
      this.onEnrolled();
      return;
    }
    if (stored) logger.warn('stored credential is for another manager or serial; enrolling again');
    if (!this.deps.enrollmentSecret) {
      throw new Error(`no enrollment secret and no credential in ${this.deps.store.dir}: set ENROLLMENT_SECRET`);
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
    const wasEnrolled = this.lifecycle.state === 'enrolled';
    this.lifecycle.transition('stopping');
    this.deps.logger.info({ reason }, 'agent stopping');
    for (const timer of Object.values(this.timers)) timer.cancel();
    this.deps.stream.stop();
    this.abort.abort();
    await Promise.allSettled([this.testRun, this.checkinRun, this.heartbeatRun]);
    if (wasEnrolled && this.credential) {
      await this.deps.api
        .heartbeat(
          this.credential.device_credential,
          this.credential.device_id,
          { agent_state: 'stopping', config_version: this.active.version ?? undefined, spool_backlog: 0 },
          { signal: AbortSignal.timeout(2000), idempotencyKey: randomUUID() },
        )
        .catch(() => undefined);
    }
    this.lifecycle.transition('stopped');
    await this.statusWrite;
    this.resolveDone();
  }

  /** Status as written to status.json. */
  snapshot(): AgentStatus {
    return {
      state: this.lifecycle.state,
      pid: process.pid,
      manager_url: this.deps.managerUrl,
      device_serial: this.deps.device.serial,
      device_id: this.credential?.device_id ?? null,
      ou_id: this.credential?.ou_id ?? null,
      config_source: this.active.source,
      config_name: this.active.name,
      config_version: this.active.version,
      last_checkin_at: iso(this.lastCheckinAt),
      next_checkin_at: iso(this.timers.checkin.dueAt),
      last_test_run_at: iso(this.lastTestStartedAt),
      next_test_run_at: iso(this.timers.test.dueAt),
      last_heartbeat_at: iso(this.lastHeartbeatAt),
      stream_connected: this.deps.stream.connected,
      updated_at: new Date().toISOString(),
    };
  }

  private saveStatus(): void {
    const status = this.snapshot();
    this.statusWrite = this.statusWrite
      .then(() => this.deps.store.saveStatus(status))
      .catch((err: unknown) => this.deps.logger.warn({ err: (err as Error).message }, 'could not write status'));
  }

  /** Runs `task` detached; an unexpected throw is logged, never unhandled. */
  private spawn(what: string, task: Promise<void>): void {
    task.catch((err: unknown) => this.deps.logger.error({ err: (err as Error).message, what }, 'unexpected failure'));
  }

  // ── enrollment ──────────────────────────────────────────────────────────────

  private async enroll(): Promise<void> {
    const { api, device, managerUrl, logger, store } = this.deps;
    const secret = this.deps.enrollmentSecret;
    if (this.lifecycle.isStopping) return;
    if (!secret) {
      logger.error('cannot re-enroll: no enrollment secret configured; running the local config');
      this.enterFallback();
      return;
    }
    this.enrollKey ??= randomUUID();
    try {
      const credential = await enrollDevice(api, device, secret, managerUrl, {
        signal: this.abort.signal,
        idempotencyKey: this.enrollKey,
      });
      if (this.lifecycle.isStopping) return;
      await store.saveCredential(credential);
      this.credential = credential;
      this.enrollKey = undefined;
      logger.info({ device_id: credential.device_id, ou_id: credential.ou_id }, 'enrolled');
      this.lifecycle.transition('enrolled');
      this.onEnrolled();
    } catch (err) {
      if (this.lifecycle.isStopping) return;
      const delay = Math.max(this.enrollBackoff.next(), requestedDelayMs(err) ?? 0);
      this.logLinkError(err, 'enrollment failed', delay);
      this.enterFallback();
      this.timers.enroll.schedule(delay, () => this.spawn('enroll', this.enroll()));
      this.saveStatus();
    }
  }

  private enterFallback(): void {
    if (this.lifecycle.state !== 'unenrolled_fallback') this.lifecycle.transition('unenrolled_fallback');
    if (this.active.source !== 'local') {
      this.deps.logger.info('running the local config until enrolled');
    }
    this.apply({ values: this.deps.localConfig, source: 'local', version: null, name: null });
  }

  private onEnrolled(): void {
    const credential = this.credential;
    if (!credential) return;
    this.deps.stream.start(credential.device_credential, {
      onMessage: (message) => this.onStreamMessage(message),
      onUnauthorized: () => this.onUnauthorized('stream'),
      onConnectionChange: () => this.saveStatus(),
    });
    this.timers.heartbeat.schedule(this.heartbeatIntervalMs, () => this.spawn('heartbeat', this.heartbeat()));
    this.spawn('checkin', this.checkIn('enrolled'));
  }

  private onUnauthorized(where: string): void {
    if (this.lifecycle.state !== 'enrolled') return;
    const delay = this.enrollBackoff.next();
    this.deps.logger.warn(
      { where, retry_in_ms: delay },
      'device credential refused (revoked or unknown); re-enrolling',
    );
    this.credential = undefined;
    this.deps.stream.stop();
    this.timers.checkin.cancel();
    this.timers.heartbeat.cancel();
    this.lifecycle.transition('enrolling');
    this.spawn('clear credential', this.deps.store.clearCredential());
    this.timers.enroll.schedule(delay, () => this.spawn('enroll', this.enroll()));
  }

  private onStreamMessage(message: ServerStreamMessage): void {
    if (message.type === 'hello') this.deps.logger.info({ device_id: message.device_id }, 'manager said hello');
    if (message.type === 'nudge' && message.config_version !== this.active.version) {
      this.deps.logger.info({ config_version: message.config_version }, 'nudged: config changed, checking in');
      this.spawn('checkin', this.checkIn('nudge'));
    }
  }

  private logLinkError(err: unknown, what: string, retryInMs: number): void {
    const e = err as Error & { status?: number; code?: string };
    const fields = { err: e.message, status: e.status, code: e.code, retry_in_ms: retryInMs };
    if (err instanceof ApiVersionMismatchError) {
      this.deps.logger.error(fields, `${what}: manager requires another API version (426); upgrade the agent`);
    } else if (err instanceof UnauthorizedError) {
      this.deps.logger.error(fields, `${what}: refused (401)`);
    } else this.deps.logger.warn(fields, what);
  }

  // ── config check-in ─────────────────────────────────────────────────────────

  /** Checks in now; concurrent requests coalesce into one follow-up check-in. */
  private checkIn(reason: string): Promise<void> {
    if (this.checkinRun) {
      this.checkinAgain = true;
      return this.checkinRun;
    }
    this.checkinRun = this.doCheckIn(reason).finally(() => {
      this.checkinRun = undefined;
      if (this.checkinAgain && this.lifecycle.state === 'enrolled') {
        this.checkinAgain = false;
        this.spawn('checkin', this.checkIn('coalesced'));
      }
    });
    return this.checkinRun;
  }

  private async doCheckIn(reason: string): Promise<void> {
    const credential = this.credential;
    if (!credential || this.lifecycle.state !== 'enrolled') return;
    this.timers.checkin.cancel();
    const { api, device, logger } = this.deps;
    let res: ConfigResponse;
    try {
      res = await api.getConfig(credential.device_credential, device.serial, { signal: this.abort.signal });
    } catch (err) {
      if (this.lifecycle.isStopping || this.credential !== credential) return;
      if (err instanceof UnauthorizedError) return this.onUnauthorized('config');
      const delay = Math.max(this.checkinBackoff.next(), requestedDelayMs(err) ?? 0);
      this.logLinkError(err, 'config check-in failed', delay);
      // why: never fetched a config yet — measure with what we have (cached manager or local) meanwhile
      if (this.lastTestStartedAt === undefined && this.timers.test.dueAt === undefined) this.apply(this.active);
      this.timers.checkin.schedule(delay, () => this.spawn('checkin', this.checkIn('retry')));
      this.saveStatus();
      return;
    }
    if (this.lifecycle.isStopping || this.credential !== credential) return;
    this.checkinBackoff.reset();
    this.enrollBackoff.reset();
    this.lastCheckinAt = Date.now();
    const changed = this.active.source !== 'manager' || this.active.version !== res.config_version;
    if (changed) {
      logger.info(
        { reason, config_name: res.config_name, config_version: res.config_version, ou_id: res.ou_id },
        'applying manager config',
      );
      const { tests, schedule, thresholds } = res.config;
      const values: ConfigValues = {
        tests,
        schedule: { interval_seconds: schedule.interval_seconds, offset_percent: schedule.offset_percent },
        thresholds,
      };
      this.apply(
        { values, source: 'manager', version: res.config_version, name: res.config_name },
        schedule.actual_interval_seconds,
      );
      const cached = { config_name: res.config_name, config_version: res.config_version, values };
      this.spawn('cache config', this.deps.store.saveConfig({ ...cached, saved_at: new Date().toISOString() }));
    }
    this.timers.checkin.schedule(res.next_checkin_seconds * 1000, () => this.spawn('checkin', this.checkIn('timer')));
    this.saveStatus();
  }

  /**
   * Switches the running config. The first config runs tests at once; later, a changed schedule
   * moves the next run to (last run + the new interval), never into the past; other changes take
   * effect at the next run.
   */
  private apply(next: ActiveConfig, firstIntervalSeconds?: number): void {
    const before = this.active.values.schedule;
    this.active = next;
    if (this.lastTestStartedAt === undefined) {
      if (this.timers.test.dueAt === undefined && !this.testRun) this.scheduleTests(0);
      return;
    }
    const after = next.values.schedule;
    if (before.interval_seconds !== after.interval_seconds || before.offset_percent !== after.offset_percent) {
      const seconds =
        firstIntervalSeconds ?? drawTestInterval(after.interval_seconds, after.offset_percent, this.deps.rng);
      if (!this.testRun) this.scheduleTests(this.lastTestStartedAt + seconds * 1000 - Date.now());
    }
  }

  // ── test runs and heartbeats ────────────────────────────────────────────────

  private get heartbeatIntervalMs(): number {
    return this.deps.timing?.heartbeatIntervalMs ?? 60_000;
  }

  private scheduleTests(delayMs: number): void {
    this.timers.test.schedule(delayMs, () => {
      this.testRun = this.runTestsNow().finally(() => {
        this.testRun = undefined;
      });
      this.spawn('test run', this.testRun);
    });
    this.saveStatus();
  }

  private async runTestsNow(): Promise<void> {
    const startedAt = Date.now();
    this.lastTestStartedAt = startedAt;
    const config = this.active;
    const results = await runTests(config.values, {
      runner: this.deps.runner,
      sink: this.deps.sink,
      signal: this.abort.signal,
      source: { config_source: config.source, config_version: config.version },
      onSinkError: (err) => this.deps.logger.error({ err: (err as Error).message }, 'result sink failed'),
    });
    if (this.lifecycle.isStopping) return;
    const failed = results.filter((r) => !r.ok).length;
    this.deps.logger.info({ probes: results.length, failed, config_source: config.source }, 'test run finished');
    const { interval_seconds, offset_percent } = this.active.values.schedule;
    const seconds = drawTestInterval(interval_seconds, offset_percent, this.deps.rng);
    this.scheduleTests(startedAt + seconds * 1000 - Date.now());
    if (this.lifecycle.state === 'enrolled') await this.heartbeat();
  }

  private heartbeat(): Promise<void> {
    this.heartbeatRun ??= this.doHeartbeat().finally(() => {
      this.heartbeatRun = undefined;
    });
    return this.heartbeatRun;
  }

  private async doHeartbeat(): Promise<void> {
    const credential = this.credential;
    if (!credential || this.lifecycle.state !== 'enrolled') return;
    this.timers.heartbeat.schedule(this.heartbeatIntervalMs, () => this.spawn('heartbeat', this.heartbeat()));
    try {
      await this.deps.api.heartbeat(
        credential.device_credential,
        credential.device_id,
        { agent_state: 'enrolled', config_version: this.active.version ?? undefined, spool_backlog: 0 },
        { signal: this.abort.signal, idempotencyKey: randomUUID() },
      );
      this.lastHeartbeatAt = Date.now();
      this.enrollBackoff.reset();
      this.saveStatus();
    } catch (err) {
      if (this.lifecycle.isStopping || this.credential !== credential) return;
      if (err instanceof UnauthorizedError) return this.onUnauthorized('heartbeat');
      this.logLinkError(err, 'heartbeat failed', this.heartbeatIntervalMs);
    }
  }
}
