// Seed 000 end to end with real processes: one PostgreSQL and two `rookery manager` replicas in lab host
// mgr, `rookery agent` in a1 (→ replica A) and a2 (→ replica B); admin calls with curl from inside mgr.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ProcessHandle } from '@rookery/lab';
import { describeLab, useLab } from '@rookery/lab/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  LabAgent,
  LabApi,
  msSince,
  registerSecret,
  ROOT,
  startLabManager,
  startLabPostgres,
  waitFor,
} from './testing/lab-fleet.js';

const ADMIN = { username: 'admin', password: 'lab-e2e-admin-password' };
const SECRET_KEY = 'lab-e2e-secret-key-0123456789-abcdefghijkl';
const PORT_A = 8080;
const PORT_B = 8081;
const REFUSED = 'enrollment failed: refused (401)';
const APPLIED = 'applying manager config';

describeLab('seed 000 with real processes: two manager replicas, two agents in lab hosts', () => {
  const lab = useLab({ hosts: ['mgr', 'a1', 'a2'], links: [{ name: 'lan', hosts: ['mgr', 'a1', 'a2'] }] });
  const dirs: string[] = [];
  const managers: ProcessHandle[] = [];
  const timings: Record<string, number> = {};
  let postgres: ProcessHandle | undefined;
  let dbUrl: string;
  let api: LabApi; // replica A, from inside mgr
  let apiB: LabApi; // replica B, same token
  let mgr: string;
  let ouId: number;
  let v1: number;
  let latest: number; // the OU config version in force
  let latestDoc: Record<string, any>;
  let a1: LabAgent;
  let a2: LabAgent;

  const tempDir = async (name: string) => {
    const dir = await mkdtemp(path.join(tmpdir(), `rk-e2e-${name}-`));
    dirs.push(dir);
    return dir;
  };
  const ouConfig = () => `/api/v1/ous/${ouId}/config`;
  const targets = (results: { kind: string; target: string }[]) =>
    [...new Set(results.map((r) => `${r.kind} ${r.target}`))].sort();

  beforeAll(async () => {
    const t0 = Date.now();
    mgr = lab().addr('mgr');
    const pg = await startLabPostgres(lab(), 'mgr', await tempDir('pg'));
    postgres = pg.process;
    dbUrl = pg.url;
    const admin = { databaseUrl: dbUrl, secretKey: SECRET_KEY, admin: ADMIN };
    managers.push(
      ...(await Promise.all([PORT_A, PORT_B].map((port) => startLabManager(lab(), 'mgr', { ...admin, port })))),
    );
    timings.setup_ms = Date.now() - t0;
    api = new LabApi(lab(), 'mgr', `http://127.0.0.1:${PORT_A}`);
    await api.login(ADMIN.username, ADMIN.password);
    apiB = api.at(`http://127.0.0.1:${PORT_B}`);
    ouId = (await api.expect(201, 'POST', '/api/v1/ous', { name: 'Engineering' })).id;
    const doc = {
      tests: {
        http: { enabled: false },
        tcp: { enabled: true, targets: [`${mgr}:${PORT_A}`] },
        icmp: { enabled: true, targets: [mgr] },
      },
      schedule: { interval_seconds: 10 },
    };
    v1 = (await api.expect(200, 'PUT', ouConfig(), { name: 'Engineering Config', doc })).layer.version;
  }, 120_000);

  afterAll(async () => {
    await Promise.all([a1, a2].map((a) => a?.process.stop('SIGTERM', 5000)));
    await Promise.all(managers.map((m) => m.stop('SIGTERM', 5000)));
    await postgres?.stop('SIGTERM', 10_000);
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    console.log(`[e2e timings] ${JSON.stringify(timings)}`);
  }, 30_000);

  it('seed scenario 1, fresh deployment: enrolls with ENROLLMENT_SECRET, runs its OU config on schedule, ignores the local ENV', async () => {
    const { secret } = await api.expect(201, 'POST', '/api/v1/enrollment/secrets', {
      ou_id: ouId,
      name: 'a1 (single use)',
      max_uses: 1,
    });
    const t0 = Date.now();
    a1 = new LabAgent(lab(), 'a1', {
      managerUrl: `http://${mgr}:${PORT_A}`,
      serial: 'serial-a1',
      stateDir: await tempDir('a1'),
      env: {
        ENROLLMENT_SECRET: secret,
        ENABLE_HTTP_TEST: 'true',
        HTTP_TARGETS: `http://${mgr}:${PORT_A}/healthz`,
        ENABLE_TCP_TEST: 'false',
        ENABLE_ICMP_TEST: 'false',
        TEST_INTERVAL_SECONDS: '3600',
      },
    });
    const enrolled = await a1.waitForLog('enrolled', { timeoutMs: 30_000 });
    timings.a1_start_to_enrolled_ms = msSince(t0, enrolled);
    expect(enrolled.ou_id).toBe(ouId);
    expect(await a1.waitForLog(APPLIED)).toMatchObject({
      reason: 'enrolled',
      config_name: 'Engineering Config',
      config_version: v1,
      ou_id: ouId,
    });
    expect(a1.logs('rookery agent starting')[0]?.local_overrides).toMatchObject({
      'tests.http.enabled': 'env',
      'schedule.interval_seconds': 'env',
    });

    // two runs with the OU's targets, 10 s ± 15 % apart; the local ENV (HTTP, interval 3600) never runs
    await a1.waitForLog('test run finished', { count: 2, timeoutMs: 20_000 });
    const [first, second] = a1.runs();
    const gap = (second?.startedAt ?? 0) - (first?.startedAt ?? 0);
    timings.a1_run_gap_ms = gap;
    expect(gap).toBeGreaterThanOrEqual(8500 - 250);
    expect(gap).toBeLessThanOrEqual(11_500 + 1000);
    expect(targets(a1.results())).toEqual([`icmp ${mgr}`, `tcp ${mgr}:${PORT_A}`].sort());
    expect(a1.results().every((r) => r.config_source === 'manager' && r.config_version === v1)).toBe(true);
    expect(a1.logs(/local config/)).toEqual([]);

    // the fleet view (read through replica B) shows what the heartbeats reported
    const device = await waitFor(
      'a1 heartbeat in the devices API',
      async () => {
        const d = await apiB.device('serial-a1');
        return d?.config_version === v1 && d;
      },
      10_000,
    );
    expect(device).toMatchObject({ ou_id: ouId, hostname: 'a1', agent_state: 'enrolled', status: 'online' });

    const status = await lab().exec(
      'a1',
      path.join(ROOT, 'rookery'),
      ['agent', 'status', '--state-dir', a1.options.stateDir],
      {
        cwd: ROOT,
        check: true,
      },
    );
    expect(status.stdout).toContain('state:          enrolled');
    expect(status.stdout).toContain(`OU:             ${ouId}`);
    expect(status.stdout).toContain(`config:         manager "Engineering Config" version ${v1}`);
    expect(status.stdout).toContain('(stream connected)');

    // a restart keeps the credential: the spent single-use secret is not needed again, the ENV still ignored
    expect(await a1.process.stop('SIGTERM', 10_000)).toEqual({ code: 0, signal: null });
    a1 = new LabAgent(lab(), 'a1', a1.options);
    await a1.waitForLog('test run finished', { timeoutMs: 30_000 });
    expect(a1.logs('using stored device credential')[0]).toMatchObject({ device_id: device.id, ou_id: ouId });
    expect(a1.logs(/^enrolled$|^enrollment failed/)).toEqual([]);
    expect(targets(a1.results())).toEqual([`icmp ${mgr}`, `tcp ${mgr}:${PORT_A}`].sort());
    expect(a1.results().every((r) => r.config_source === 'manager' && r.config_version === v1)).toBe(true);
    await a1.waitForStatus('checked in after restart', (s) => s.last_checkin_at !== null && s.stream_connected);
  }, 90_000);

  it('seed scenario 3, invalid secret: runs the local ENV config and retries; once the secret exists it enrolls and the manager config takes over', async () => {
    const late = `rke_${randomBytes(32).toString('base64url')}`;
    a2 = new LabAgent(lab(), 'a2', {
      managerUrl: `http://${mgr}:${PORT_B}`,
      serial: 'serial-a2',
      stateDir: await tempDir('a2'),
      env: {
        ENROLLMENT_SECRET: late,
        ENABLE_HTTP_TEST: 'false',
        ENABLE_TCP_TEST: 'true',
        TCP_TARGETS: `${mgr}:9`,
        ENABLE_ICMP_TEST: 'false',
        TEST_INTERVAL_SECONDS: '10',
      },
    });
    await a2.waitForLog(REFUSED, { count: 3, timeoutMs: 30_000 });
    await a2.waitForLog('test run finished');
    // retried with growing backoff (2 s doubling, each delay in [ceiling/2, ceiling])
    const delays = a2.logs(REFUSED).map((l) => l.retry_in_ms as number);
    [2000, 4000, 8000].forEach((ceiling, i) => {
      expect(delays[i]).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delays[i]).toBeLessThanOrEqual(ceiling);
    });
    expect(targets(a2.results())).toEqual([`tcp ${mgr}:9`]);
    expect(a2.results().every((r) => r.config_source === 'local' && r.config_version === null)).toBe(true);
    expect(await a2.status()).toMatchObject({ state: 'unenrolled_fallback', config_source: 'local', device_id: null });
    expect(await api.device('serial-a2')).toBeUndefined();

    // the admin registers the secret the agent was given: the next retry succeeds, without restart
    const from = a2.mark();
    await registerSecret(lab(), 'mgr', { databaseUrl: dbUrl, ouId, name: 'late secret', secret: late });
    const valid = Date.now();
    const enrolled = await a2.waitForLog('enrolled', { from, timeoutMs: 25_000 });
    timings.a2_secret_valid_to_enrolled_ms = msSince(valid, enrolled);
    expect(enrolled.ou_id).toBe(ouId);
    const applied = await a2.waitForLog(APPLIED, { from });
    expect(applied).toMatchObject({ reason: 'enrolled', config_version: v1 });
    const after = a2.lines().indexOf(applied);
    await a2.waitForLog('test run finished', { from: after, where: (l) => l.config_source === 'manager' });
    const run = a2.runs(after).at(-1)?.results ?? [];
    expect(targets(run)).toEqual([`icmp ${mgr}`, `tcp ${mgr}:${PORT_A}`].sort());
    expect(run.every((r) => r.config_source === 'manager' && r.config_version === v1)).toBe(true);
    expect(a2.logs('rookery agent starting')).toHaveLength(1);
    await a2.waitForStatus(
      'enrolled with the manager config',
      (s) => s.state === 'enrolled' && s.config_version === v1,
    );
    const device = await waitFor('a2 in the devices API', async () => (await api.device('serial-a2')) ?? false, 10_000);
    expect(device).toMatchObject({ ou_id: ouId, hostname: 'a2' });
  }, 90_000);

  it('seed scenario 2, an OU change on replica A reaches a1 (on A) and a2 (on B) within seconds and applies without restart; one on B reaches a1', async () => {
    const agents = [a1, a2];
    for (const a of agents) await a.waitForStatus('stream connected', (s) => s.stream_connected);
    const pids = agents.map((a) => a.process.pid);
    const doc2 = {
      tests: {
        http: { enabled: false },
        tcp: { enabled: true, targets: [`${mgr}:${PORT_A}`, `${mgr}:${PORT_B}`] },
        udp: { enabled: true, targets: [`${mgr}:5353`] },
        icmp: { enabled: true, targets: [mgr] },
      },
      schedule: { interval_seconds: 600 },
    };
    let marks = agents.map((a) => a.mark());
    const t0 = Date.now();
    const v2 = (await api.expect(200, 'PUT', ouConfig(), { doc: doc2 })).layer.version;
    timings.put_ms = Date.now() - t0;
    const applied = await Promise.all(
      agents.map((a, i) => a.waitForLog(APPLIED, { from: marks[i], where: (l) => l.config_version === v2 })),
    );
    applied.forEach((l, i) => {
      timings[`${agents[i]?.host}_nudge_put_to_applied_ms`] = msSince(t0, l);
      expect(l.reason).toBe('nudge');
      expect(msSince(t0, l)).toBeLessThan(5000);
      expect(l.pid).toBe(pids[i]); // the same process: no restart
    });
    for (const a of agents) {
      expect(a.process.running).toBe(true);
      expect(a.logs('rookery agent starting')).toHaveLength(1);
      // interval 600 s: the next run moves to last run + 600 s ± 15 %
      // a status written during a test run has no next run yet (the timer is re-armed when the run ends)
      const s = await a.waitForStatus(
        `version ${v2} with a next run`,
        (x) => x.config_version === v2 && x.next_test_run_at !== null,
      );
      const next = (Date.parse(s.next_test_run_at ?? '') - Date.parse(s.last_test_run_at ?? '')) / 1000;
      expect(next).toBeGreaterThanOrEqual(510);
      expect(next).toBeLessThanOrEqual(690);
    }

    // back to 10 s, changed on replica B: a run with the new targets follows within one interval
    marks = agents.map((a) => a.mark());
    const t1 = Date.now();
    latestDoc = { ...doc2, schedule: { interval_seconds: 10 } };
    const v3 = (await apiB.expect(200, 'PUT', ouConfig(), { doc: latestDoc })).layer.version;
    latest = v3;
    const applied3 = await Promise.all(
      agents.map((a, i) => a.waitForLog(APPLIED, { from: marks[i], where: (l) => l.config_version === v3 })),
    );
    applied3.forEach((l, i) => {
      timings[`${agents[i]?.host}_nudge_from_B_put_to_applied_ms`] = msSince(t1, l);
      expect(msSince(t1, l)).toBeLessThan(5000);
    });
    for (const [i, a] of agents.entries()) {
      await a.waitForLog('test run finished', { from: marks[i], timeoutMs: 15_000 });
      const results = a.results(marks[i]);
      expect(targets(results)).toEqual(
        [`icmp ${mgr}`, `tcp ${mgr}:${PORT_A}`, `tcp ${mgr}:${PORT_B}`, `udp ${mgr}:5353`].sort(),
      );
      expect(results.every((r) => r.config_version === v3)).toBe(true);
    }
    for (const serial of ['serial-a1', 'serial-a2']) {
      await waitFor(
        `${serial} reports version ${v3}`,
        async () => (await api.device(serial))?.config_version === v3,
        10_000,
      );
    }
  }, 60_000);

  it('a change made while the agent’s replica restarts applies as soon as the agent reconnects', async () => {
    const marks = [a1.mark(), a2.mark()];
    expect(await managers[1]?.stop('SIGTERM', 10_000)).toEqual({ code: 0, signal: null });
    await a2.waitForLog('agent stream closed', { from: marks[1] });
    const doc = {
      ...latestDoc,
      tests: { ...latestDoc.tests, icmp: { enabled: true, targets: [mgr, lab().addr('a1')] } },
    };
    const v4 = (await api.expect(200, 'PUT', ouConfig(), { doc })).layer.version;
    latest = v4;
    // a1 (on A) is nudged at once; a2 missed the nudge while B was down
    await a1.waitForLog(APPLIED, { from: marks[0], where: (l) => l.config_version === v4 });
    managers[1] = await startLabManager(lab(), 'mgr', {
      databaseUrl: dbUrl,
      secretKey: SECRET_KEY,
      admin: ADMIN,
      port: PORT_B,
    });
    const connected = await a2.waitForLog('agent stream connected', { from: marks[1], timeoutMs: 30_000 });
    const applied = await a2.waitForLog(APPLIED, { from: marks[1], where: (l) => l.config_version === v4 });
    expect(applied.reason).toBe('stream_reconnected');
    timings.a2_reconnect_to_applied_ms = Date.parse(applied.time) - Date.parse(connected.time);
    expect(timings.a2_reconnect_to_applied_ms).toBeLessThan(5000);
  }, 60_000);

  it('revocation: a deleted device is refused at its next call; with a used-up secret it stays in fallback, with a valid one it re-enrolls', async () => {
    const [d1, d2] = [await api.device('serial-a1'), await api.device('serial-a2')];
    const marks = [a1.mark(), a2.mark()];
    const t0 = Date.now();
    // each deletion goes to the replica the agent is NOT connected to
    await apiB.expect(204, 'DELETE', `/api/v1/devices/${d1.id}`);
    await api.expect(204, 'DELETE', `/api/v1/devices/${d2.id}`);
    const refusals = await Promise.all(
      [a1, a2].map((a, i) => a.waitForLog(/^device credential refused/, { from: marks[i] })),
    );
    refusals.forEach((l, i) => (timings[`a${i + 1}_delete_to_refused_ms`] = msSince(t0, l)));

    // a1: its single-use secret is spent — re-enrollment is refused, it runs the local config and keeps trying
    await a1.waitForLog(REFUSED, { from: marks[0], count: 2, timeoutMs: 20_000 });
    expect(await a1.status()).toMatchObject({
      state: 'unenrolled_fallback',
      device_id: null,
      config_source: 'local',
      stream_connected: false,
    });
    await expect(stat(path.join(a1.options.stateDir, 'credential.json'))).rejects.toThrow();
    expect(a1.logs(/^enrolled$|^applying manager config$/, marks[0])).toEqual([]);
    expect(await api.device('serial-a1')).toBeUndefined();

    // a2: its secret is still valid — a fresh device with a new id, checked in with the same config version
    const enrolled = await a2.waitForLog('enrolled', { from: marks[1], timeoutMs: 20_000 });
    expect(enrolled.device_id).not.toBe(d2.id);
    await a2.waitForStatus(
      'checked in as the new device',
      (s) =>
        s.state === 'enrolled' &&
        s.device_id === enrolled.device_id &&
        s.config_version === latest &&
        Date.parse(s.last_checkin_at ?? '') >= Date.parse(enrolled.time),
    );
    expect(await api.device('serial-a2')).toMatchObject({ id: enrolled.device_id, ou_id: ouId });
  }, 60_000);

  it('stops on SIGTERM with exit code 0 and a last "stopping" heartbeat', async () => {
    await a2.waitForStatus('stream connected', (s) => s.stream_connected);
    expect(await a2.process.stop('SIGTERM', 10_000)).toEqual({ code: 0, signal: null });
    expect(a2.lines().at(-1)?.msg).toBe('agent state stopped');
    await waitFor(
      'a2 stopping heartbeat',
      async () => (await api.device('serial-a2'))?.agent_state === 'stopping',
      5000,
    );
    expect(await a1.process.stop('SIGTERM', 10_000)).toEqual({ code: 0, signal: null });
  }, 30_000);
});
