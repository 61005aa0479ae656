// Unit tests of the daemon with fake time and fake ports: timers, backoff, fallback, re-enrollment, nudges.
import { type ConfigValues, DEFAULT_CONFIG_VALUES } from '@rookery/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Agent, type AgentDeps, type ResultUploads } from './agent.js';
import type { DeviceFacts } from './device.js';
import {
  ApiVersionMismatchError,
  ManagerUnreachableError,
  RateLimitedError,
  UnauthorizedError,
} from './link/errors.js';
import type { UploadStatus } from './link/result-uploader.js';
import type { StoredCredential } from './state-store.js';
import { FakeManagerApi, FakeStream, MemorySink, MemoryStore, memoryLogger, RecordingRunner } from './testing/fakes.js';

const MANAGER = 'http://127.0.0.1:1';
const device: DeviceFacts = { serial: 'serial-1', hostname: 'host-1', os: 'Linux', osVersion: '6.1.0' };

function values(patch: (v: ConfigValues) => void): ConfigValues {
  const v = structuredClone(DEFAULT_CONFIG_VALUES);
  patch(v);
  return v;
}
const managerValues = values((v) => {
  v.tests.http = { enabled: true, targets: ['http://127.0.0.1:8080/'] };
  v.tests.tcp = { enabled: true, targets: ['127.0.0.1:22'] };
  v.tests.icmp = { enabled: false, targets: ['127.0.0.1'] };
});
const localValues = values((v) => {
  v.tests.tcp = { enabled: true, targets: ['127.0.0.1:7'] };
  v.schedule.interval_seconds = 60;
});

const unauthorized = () => new UnauthorizedError(401, 'unauthorized', 'refused');

function setup(overrides: Partial<AgentDeps> = {}) {
  const api = new FakeManagerApi();
  api.configValues = structuredClone(managerValues);
  const stream = new FakeStream();
  const store = new MemoryStore();
  const runner = new RecordingRunner();
  const sink = new MemorySink();
  const { logger, lines } = memoryLogger();
  const deps: AgentDeps = {
    managerUrl: MANAGER,
    enrollmentSecret: 'enroll-secret-1',
    localConfig: localValues,
    device,
    api,
    stream,
    store,
    runner,
    sink,
    logger,
    ...overrides,
  };
  const agent = new Agent(deps);
  /** start times of test runs (one probe per kind/target; the first probe of each run marks it) */
  const runStarts = () => [...new Set(runner.runs.map((r) => r.at))];
  const at = (op: 'enroll' | 'config' | 'heartbeat') => api.calls.filter((c) => c.op === op).map((c) => c.at);
  return { agent, api, stream, store, runner, sink, lines, runStarts, at };
}

const gaps = (times: number[]) => times.slice(1).map((t, i) => t - (times[i] as number));
const T0 = Date.parse('2026-01-01T00:00:00Z');

beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('fresh enrollment', () => {
  it('enrolls, checks in, runs the manager config at once, then heartbeats', async () => {
    const t = setup();
    await t.agent.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.agent.state).toBe('enrolled');
    expect(t.api.calls[0]).toMatchObject({
      op: 'enroll',
      body: {
        secret: 'enroll-secret-1',
        device_serial: 'serial-1',
        device_hostname: 'host-1',
        device_os: 'Linux',
        device_os_version: '6.1.0',
        client_type: 'rookeryAgent',
        client_version: '0.1.0',
      },
    });
    expect(t.store.credential).toMatchObject({ device_id: 42, ou_id: 3, manager_url: MANAGER });
    expect(t.api.calls.map((c) => c.op)).toEqual(['enroll', 'config', 'heartbeat']);
    expect(t.runner.runs.map((r) => `${r.kind} ${r.target}`)).toEqual([
      'http http://127.0.0.1:8080/',
      'tcp 127.0.0.1:22',
    ]);
    expect(t.api.calls[2]).toMatchObject({ body: { agent_state: 'enrolled', config_version: 1, spool_backlog: 0 } });
    expect(t.sink.results.map((r) => [r.ok, r.config_source, r.config_version])).toEqual([
      [true, 'manager', 1],
      [true, 'manager', 1],
    ]);
    expect(t.stream.credential).toBe(t.store.credential?.device_credential);
    expect(t.store.status).toMatchObject({ state: 'enrolled', device_id: 42, ou_id: 3, config_version: 1 });
  });

  it('keeps two independent timers: tests every 300 s ±15 % re-drawn per run, check-ins every next_checkin_seconds', async () => {
    const t = setup();
    await t.agent.start();
    await vi.advanceTimersByTimeAsync(24 * 3600 * 1000);
    const runGaps = gaps(t.runStarts());
    expect(runGaps.length).toBeGreaterThan(250);
    expect(Math.min(...runGaps)).toBeGreaterThanOrEqual(255_000);
    expect(Math.max(...runGaps)).toBeLessThanOrEqual(345_000);
    expect(new Set(runGaps).size).toBeGreaterThan(20);
    expect(new Set(gaps(t.at('config')))).toEqual(new Set([2_000_000]));
    expect(Math.max(...gaps(t.at('heartbeat')))).toBeLessThanOrEqual(60_000);
    expect(t.at('enroll')).toHaveLength(1);
  });

  it('heartbeats every 60 s even when tests run rarely', async () => {
    const t = setup();
    t.api.configValues.schedule.interval_seconds = 3600;
    await t.agent.start();
    await vi.advanceTimersByTimeAsync(3000 * 1000);
    const hb = t.at('heartbeat');
    expect(hb.length).toBeGreaterThanOrEqual(50);
    expect(Math.max(...gaps(hb))).toBeLessThanOrEqual(60_000);
    expect(new Set(t.api.calls.filter((c) => c.op === 'heartbeat').map((c) => c.key)).size).toBe(hb.length);
  });
});

describe('heartbeat transport', () => {
  /** enrolled, first (HTTP) heartbeat done, tests rare so only the 60 s timer heartbeats */
  async function enrolled() {
    const t = setup();
    t.api.configValues.schedule.interval_seconds = 3600;
    await t.agent.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.at('heartbeat')).toHaveLength(1);
    return t;
  }
  const httpBeats = (t: ReturnType<typeof setup>) => t.at('heartbeat').length;

  it('goes over the stream while it is connected and over HTTP while it is not; status says which', async () => {
    const t = await enrolled();
    expect(t.store.status).toMatchObject({ last_heartbeat_via: 'http', stream_connected: false });
    t.stream.connect();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(httpBeats(t)).toBe(1);
    expect(t.stream.heartbeats()).toHaveLength(1);
    expect(t.stream.heartbeats()[0]).toMatchObject({ agent_state: 'enrolled', config_version: 1, spool_backlog: 0 });
    expect(t.stream.heartbeats()[0]?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(t.store.status).toMatchObject({
      last_heartbeat_via: 'stream',
      last_heartbeat_at: new Date(T0 + 60_000).toISOString(),
      stream_connected: true,
    });
    await vi.advanceTimersByTimeAsync(120_000);
    expect(t.stream.heartbeats()).toHaveLength(3);
    expect(httpBeats(t)).toBe(1);
    t.stream.drop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(httpBeats(t)).toBe(2);
    expect(t.stream.heartbeats()).toHaveLength(3);
    expect(t.store.status).toMatchObject({ last_heartbeat_via: 'http', stream_connected: false });
  });

  it('without an ack within 5 s sends the heartbeat over HTTP, keeps to HTTP, and tries the stream again after a reconnect', async () => {
    const t = await enrolled();
    t.stream.connect();
    t.stream.heartbeatAnswer = 'silent';
    await vi.advanceTimersByTimeAsync(60_000 + 4_999);
    expect(t.stream.heartbeats()).toHaveLength(1);
    expect(httpBeats(t)).toBe(1);
    expect(t.store.status?.last_heartbeat_at).toBe(new Date(T0).toISOString()); // not acked: not counted
    await vi.advanceTimersByTimeAsync(1);
    expect(httpBeats(t)).toBe(2);
    expect(t.lines.some((l) => String(l.msg).startsWith('no ack for a stream heartbeat'))).toBe(true);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.stream.heartbeats()).toHaveLength(1); // given up on this connection
    expect(httpBeats(t)).toBe(3);
    t.stream.drop();
    t.stream.connect();
    t.stream.heartbeatAnswer = 'ack';
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.stream.heartbeats()).toHaveLength(2);
    expect(httpBeats(t)).toBe(3);
    expect(t.store.status?.last_heartbeat_via).toBe('stream');
  });

  it('an error answer (a manager without stream heartbeats) or a drop while waiting goes to HTTP at once', async () => {
    const t = await enrolled();
    t.stream.connect();
    t.stream.heartbeatAnswer = 'error';
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.stream.heartbeats()).toHaveLength(1);
    expect(t.api.calls.filter((c) => c.op === 'heartbeat').at(-1)?.at).toBe(T0 + 60_000);
    expect(t.lines.some((l) => String(l.msg).startsWith('manager refused a stream heartbeat'))).toBe(true);

    t.stream.drop();
    t.stream.connect();
    t.stream.heartbeatAnswer = 'silent';
    await vi.advanceTimersByTimeAsync(60_000 + 1_000);
    expect(t.stream.heartbeats()).toHaveLength(2);
    expect(httpBeats(t)).toBe(2);
    t.stream.drop();
    await vi.advanceTimersByTimeAsync(0);
    expect(httpBeats(t)).toBe(3);
    expect(t.api.calls.at(-1)?.at).toBe(T0 + 121_000);
  });

  it('a late ack of an abandoned heartbeat does not count for the next one', async () => {
    const t = await enrolled();
    t.stream.connect();
    t.stream.heartbeatAnswer = 'silent';
    await vi.advanceTimersByTimeAsync(60_000);
    const stale = t.stream.heartbeats()[0]?.id;
    t.stream.drop();
    t.stream.connect();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.stream.heartbeats()).toHaveLength(2);
    t.stream.deliver({ type: 'heartbeat_ack', id: stale });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(httpBeats(t)).toBe(3); // both unacked heartbeats went over HTTP
  });
});

describe('enrollment failure', () => {
  it('runs the local config, retries with growing backoff and one idempotency key, then switches to the manager', async () => {
    const t = setup({ rng: () => 0.5 });
    t.api.enrollFailures = [unauthorized(), unauthorized(), new ManagerUnreachableError('down')];
    await t.agent.start();
    expect(t.agent.state).toBe('unenrolled_fallback');
    await vi.advanceTimersByTimeAsync(0);
    expect(t.runner.runs.map((r) => `${r.kind} ${r.target}`)).toEqual(['tcp 127.0.0.1:7']);
    expect(t.sink.results[0]).toMatchObject({ config_source: 'local', config_version: null });
    expect(t.lines.some((l) => l.msg === 'enrollment failed: refused (401)')).toBe(true);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(t.agent.state).toBe('enrolled');
    // equal jitter with rng 0.5: 0.75 × 2 s, 4 s, 8 s
    expect(gaps(t.at('enroll'))).toEqual([1500, 3000, 6000]);
    expect(new Set(t.api.calls.filter((c) => c.op === 'enroll').map((c) => c.key)).size).toBe(1);
    expect(t.agent.config).toMatchObject({ source: 'manager', version: 1 });
    // the schedule changed (60 s → 300 s ±15 %): next run at last run + the served interval (300 s with rng 0.5)
    await vi.advanceTimersByTimeAsync(300_000 - 20_000 - 1);
    expect(t.runStarts()).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.runner.runs.slice(1).map((r) => r.kind)).toEqual(['http', 'tcp']);
  });

  it('never hot-loops: an unreachable manager for an hour costs a bounded number of attempts', async () => {
    const t = setup();
    t.api.enrollFailures = Array.from({ length: 1000 }, () => new ManagerUnreachableError('down'));
    await t.agent.start();
    await vi.advanceTimersByTimeAsync(3600 * 1000);
    const attempts = t.at('enroll');
    expect(attempts.length).toBeGreaterThan(10);
    expect(attempts.length).toBeLessThan(40);
    expect(Math.min(...gaps(attempts))).toBeGreaterThanOrEqual(1000);
    expect(Math.max(...gaps(attempts))).toBeLessThanOrEqual(300_000);
    expect(Math.min(...gaps(attempts).slice(10))).toBeGreaterThanOrEqual(150_000);
    expect(t.agent.state).toBe('unenrolled_fallback');
    // local tests keep running meanwhile (60 s ±15 %)
    expect(t.runStarts().length).toBeGreaterThan(50);
  });

  it('waits at least Retry-After on 429', async () => {
    const t = setup({ rng: () => 0 });
    t.api.enrollFailures = [new RateLimitedError(429, 'too_many_requests', 'slow down', {}, 120_000)];
    await t.agent.start();
    await vi.advanceTimersByTimeAsync(119_999);
    expect(t.at('enroll')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.at('enroll')).toHaveLength(2);
    expect(t.agent.state).toBe('enrolled');
  });

  it('refuses to start without a secret or a stored credential', async () => {
    const t = setup({ enrollmentSecret: undefined });
    await expect(t.agent.start()).rejects.toThrow(/no enrollment secret and no credential/);
  });
});

describe('enrolled operation', () => {
  it('checks in at once on a nudge and applies the new config without restart', async () => {
    const t = setup({ rng: () => 0.5 });
    await t.agent.start();
    await vi.advanceTimersByTimeAsync(1000);
    t.stream.deliver({ type: 'nudge', reason: 'config_changed', config_version: 1 });
    await vi.advanceTimersByTimeAsync(0);
    expect(t.at('config')).toHaveLength(1);
    t.api.configVersion = 2;
    t.api.configValues.tests.udp = { enabled: true, targets: ['127.0.0.1:5201'] };
    t.api.configValues.schedule.interval_seconds = 600;
    t.stream.deliver({ type: 'nudge', reason: 'config_changed', config_version: 2 });
    await vi.advanceTimersByTimeAsync(0);
    expect(t.at('config')).toEqual([T0, T0 + 1000]);
    expect(t.agent.config).toMatchObject({ source: 'manager', version: 2 });
    expect(t.store.config?.config_version).toBe(2);
    // new interval applies from the last run (600 s with rng 0.5), new targets at that run
    await vi.advanceTimersByTimeAsync(600_000 - 1000);
    expect(t.runStarts()).toEqual([T0, T0 + 600_000]);
    expect(t.runner.runs.filter((r) => r.at === T0 + 600_000).map((r) => r.kind)).toEqual(['http', 'tcp', 'udp']);
    expect(t.api.calls.filter((c) => c.op === 'heartbeat').at(-1)).toMatchObject({ body: { config_version: 2 } });
  });

  it('checks in again when the stream reconnects, so a change whose nudge it missed applies at once', async () => {
    const t = setup({ rng: () => 0.5 });
    await t.agent.start();
    await vi.advanceTimersByTimeAsync(0);
    t.stream.deliver({ type: 'hello', device_id: 42 });
    await vi.advanceTimersByTimeAsync(0);
    expect(t.at('config')).toEqual([T0]); // the first hello follows the session's own check-in
    // the stream drops; meanwhile the config changes and the nudge goes nowhere; then it reconnects
    await vi.advanceTimersByTimeAsync(5000);
    t.api.configVersion = 2;
    t.api.configValues.tests.udp = { enabled: true, targets: ['127.0.0.1:5201'] };
    t.stream.deliver({ type: 'hello', device_id: 42 });
    await vi.advanceTimersByTimeAsync(0);
    expect(t.at('config')).toEqual([T0, T0 + 5000]);
    expect(t.agent.config).toMatchObject({ source: 'manager', version: 2 });
    expect(t.lines.find((l) => l.msg === 'applying manager config' && l.config_version === 2)).toMatchObject({
      reason: 'stream_reconnected',
    });
  });

  it('re-enrolls after a 401 once the backoff allows, with a fresh credential', async () => {
    const t = setup({ rng: () => 0.5 });
    await t.agent.start();
    await vi.advanceTimersByTimeAsync(0);
    const first = t.store.credential?.device_credential;
    t.api.heartbeatFailures = [unauthorized()];
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.agent.state).toBe('enrolling');
    expect(t.store.credential).toBeUndefined();
    expect(t.stream.connected).toBe(false);
    await vi.advanceTimersByTimeAsync(1499);
    expect(t.at('enroll')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(t.at('enroll')).toHaveLength(2);
    expect(t.agent.state).toBe('enrolled');
    const second = t.store.credential?.device_credential;
    expect(second).not.toBe(first);
    expect(t.stream.credential).toBe(second);
    expect(t.api.calls.at(-1)).toMatchObject({ op: 'config', credential: second });
  });

  it('re-enrolls when the stream upgrade is refused with 401', async () => {
    const t = setup({ rng: () => 0.5 });
    await t.agent.start();
    await vi.advanceTimersByTimeAsync(0);
    t.stream.refuse();
    expect(t.agent.state).toBe('enrolling');
    await vi.advanceTimersByTimeAsync(1500);
    expect(t.agent.state).toBe('enrolled');
    expect(t.stream.starts).toBe(2);
  });

  it('logs a 426 clearly and keeps backing off', async () => {
    const t = setup({ rng: () => 0.5 });
    t.api.configFailures = Array.from({ length: 5 }, () => new ApiVersionMismatchError(426, 'api_version', 'v2 only'));
    await t.agent.start();
    await vi.advanceTimersByTimeAsync(200_000);
    expect(gaps(t.at('config'))).toEqual([3750, 7500, 15_000, 30_000, 60_000]);
    expect(t.lines.filter((l) => String(l.msg).includes('another API version (426)'))).toHaveLength(5);
    expect(t.agent.state).toBe('enrolled');
    expect(t.agent.config.source).toBe('manager');
    // measured with the local config meanwhile, since no manager config had arrived yet
    expect(t.sink.results[0]?.config_source).toBe('local');
  });

  it('reuses a stored credential and its cached config on restart without enrolling', async () => {
    const stored: StoredCredential = {
      device_id: 42,
      ou_id: 3,
      device_credential: `rkd_${'0'.repeat(23)}9`,
      device_serial: device.serial,
      manager_url: MANAGER,
      enrolled_at: new Date(T0).toISOString(),
    };
    const t = setup();
    t.api.valid.add(stored.device_credential);
    t.store.credential = stored;
    t.store.config = { config_name: 'cached', config_version: 7, values: managerValues, saved_at: '' };
    t.api.configFailures = [new ManagerUnreachableError('down')];
    await t.agent.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.at('enroll')).toHaveLength(0);
    expect(t.sink.results[0]).toMatchObject({ config_source: 'manager', config_version: 7 });
    expect(t.stream.credential).toBe(stored.device_credential);
  });

  it('enrolls again when the stored credential belongs to another manager', async () => {
    const t = setup();
    t.store.credential = {
      device_id: 1,
      ou_id: 1,
      device_credential: `rkd_${'1'.repeat(24)}`,
      device_serial: device.serial,
      manager_url: 'http://127.0.0.2:1',
      enrolled_at: '',
    };
    await t.agent.start();
    expect(t.at('enroll')).toHaveLength(1);
    expect(t.store.credential.manager_url).toBe(MANAGER);
  });
});

describe('stopping', () => {
  it('stops after RUN_SECONDS: timers cleared, last heartbeat says stopping, state stopped', async () => {
    const t = setup({ runSeconds: 90 });
    await t.agent.start();
    await vi.advanceTimersByTimeAsync(90_000);
    await t.agent.done;
    expect(t.agent.state).toBe('stopped');
    expect(t.api.calls.at(-1)).toMatchObject({ op: 'heartbeat', body: { agent_state: 'stopping' } });
    const callsAtStop = t.api.calls.length;
    await vi.advanceTimersByTimeAsync(3600 * 1000);
    expect(t.api.calls.length).toBe(callsAtStop);
    expect(vi.getTimerCount()).toBe(0);
    expect(t.store.status?.state).toBe('stopped');
    await t.agent.stop('again');
  });
});

/** Records what the agent tells the upload pipeline. */
class FakeUploads implements ResultUploads {
  backlog = 0;
  readonly credentials: (string | undefined)[] = [];
  onRefused: (() => void) | undefined;
  readonly events: string[] = [];
  setCredential(credential: string | undefined, onRefused?: () => void): void {
    this.credentials.push(credential);
    this.onRefused = onRefused;
  }
  stop(flushMs: number): Promise<void> {
    this.events.push(`stop ${flushMs}`);
    this.backlog = 2; // what the flush could not upload
    return Promise.resolve();
  }
  status(): UploadStatus {
    return {
      ...{ appended: 9, uploaded: 4, rejected: 0, dropped_overflow: 0, dropped_expired: 0, dropped_unwritable: 0 },
      ...{ quarantined: 0, torn_tails: 0, lost: 0, backlog: this.backlog, bytes: 100, segments: 1 },
      ...{ upload_batches: 1, last_upload_at: null, last_upload_error: null },
    };
  }
}

describe('result uploads', () => {
  it('uploads with the session credential and reports the real backlog in heartbeats and status', async () => {
    const results = new FakeUploads();
    results.backlog = 5;
    const t = setup({ results });
    await t.agent.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(results.credentials).toEqual([t.store.credential?.device_credential]);
    expect(t.api.calls.find((c) => c.op === 'heartbeat')).toMatchObject({ body: { spool_backlog: 5 } });
    results.backlog = 7;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(t.api.calls.filter((c) => c.op === 'heartbeat').at(-1)).toMatchObject({ body: { spool_backlog: 7 } });
    expect(t.store.status?.spool).toMatchObject({ appended: 9, uploaded: 4 });
  });

  it('a 401 on upload re-enrolls; uploads pause meanwhile and resume with the new credential', async () => {
    const results = new FakeUploads();
    const t = setup({ results, rng: () => 0.5 });
    await t.agent.start();
    await vi.advanceTimersByTimeAsync(0);
    const first = t.store.credential?.device_credential;
    t.api.valid.delete(first ?? '');
    results.onRefused?.();
    expect(t.agent.state).toBe('enrolling');
    expect(t.store.credential).toBeUndefined();
    expect(results.credentials).toEqual([first, undefined]);
    await vi.advanceTimersByTimeAsync(1500);
    expect(t.agent.state).toBe('enrolled');
    const second = t.store.credential?.device_credential;
    expect(second).not.toBe(first);
    expect(results.credentials).toEqual([first, undefined, second]);
  });

  it('a stale refusal (credential already replaced) changes nothing', async () => {
    const results = new FakeUploads();
    const t = setup({ results, rng: () => 0.5 });
    await t.agent.start();
    await vi.advanceTimersByTimeAsync(0);
    const staleRefusal = results.onRefused;
    t.stream.refuse();
    await vi.advanceTimersByTimeAsync(1500);
    expect(t.agent.state).toBe('enrolled');
    staleRefusal?.();
    expect(t.agent.state).toBe('enrolled');
    expect(t.at('enroll')).toHaveLength(2);
  });

  it('flushes uploads (bounded) on stop before the farewell heartbeat, which reports what is left', async () => {
    const results = new FakeUploads();
    const t = setup({ results, timing: { resultFlushMs: 1234 } });
    await t.agent.start();
    await vi.advanceTimersByTimeAsync(0);
    await t.agent.stop('test');
    expect(results.events).toEqual(['stop 1234']);
    expect(t.api.calls.at(-1)).toMatchObject({ op: 'heartbeat', body: { agent_state: 'stopping', spool_backlog: 2 } });
  });
});
