// Cross-process: spooled results against the real `./rookery manager` (embedded PostgreSQL): full agent, outages,
// a lost upload response.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { UploadResponse } from '@rookery/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpManagerApi } from './link/manager-api.js';
import { ResultUploader } from './link/result-uploader.js';
import { Spool } from './spool/spool.js';
import { envelope } from './spool/testing.js';
import { memoryLogger } from './testing/fakes.js';
import { UploadResponseCutter } from './testing/upload-response-cutter.js';
import type { AgentStatus } from './state-store.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const ADMIN = { username: 'admin', password: 'results-e2e-admin-password' };

let dataDir: string;
let work: string;
let manager: ChildProcess | undefined;
let url = '';
let token = '';
let ouId = 0;
let tcpTarget: Server;

/** Starts the manager on `listen` (127.0.0.1:0 first, then the same port again); resolves with its URL. */
function startManager(listen: string): Promise<string> {
  const proc = spawn(
    path.join(ROOT, 'rookery'),
    ['manager', '--data', dataDir, '--listen', listen, '--log-level', 'warn'],
    {
      env: { ...process.env, ADMIN_USERNAME: ADMIN.username, ADMIN_PASSWORD: ADMIN.password },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  manager = proc;
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`manager did not start: ${err}`)), 60_000);
    proc.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`manager exited with ${code}: ${err}`));
    });
  });
}

async function stopManager(): Promise<void> {
  const proc = manager;
  if (!proc || proc.exitCode !== null) return;
  const exited = new Promise((resolve) => proc.on('exit', resolve));
  proc.kill('SIGTERM');
  await exited;
}

async function api(method: string, pathname: string, body?: unknown): Promise<any> {
  const res = await fetch(`${url}${pathname}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as unknown;
  if (!res.ok) throw new Error(`${method} ${pathname} → ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function enrollDevice(serial: string): Promise<{ device_id: number; device_credential: string }> {
  const { secret } = await api('POST', '/api/v1/enrollment/secrets', { ou_id: ouId, name: `s-${serial}` });
  const http = new HttpManagerApi(url);
  const body = {
    secret,
    device_serial: serial,
    device_hostname: `host-${serial}`,
    device_os: 'Linux',
    device_os_version: '6.1.0',
    client_type: 'rookeryAgent',
    client_version: '0.1.0',
  };
  return http.enroll(body, { idempotencyKey: crypto.randomUUID() });
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'rk-results-e2e-data-'));
  work = await mkdtemp(path.join(tmpdir(), 'rk-results-e2e-'));
  url = await startManager('127.0.0.1:0');
  const login = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ADMIN),
  });
  token = ((await login.json()) as { access_token: string }).access_token;
  ouId = (await api('POST', '/api/v1/ous', { name: 'Spool' })).id;
  tcpTarget = createServer((s) => s.end());
  await new Promise<void>((resolve) => tcpTarget.listen(0, '127.0.0.1', resolve));
}, 90_000);

afterAll(async () => {
  await stopManager();
  tcpTarget?.close();
  await rm(dataDir, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
});

describe('results against the real manager', () => {
  it('the agent process spools its probe results and the manager stores them', async () => {
    const port = (tcpTarget.address() as { port: number }).port;
    await api('PUT', `/api/v1/ous/${ouId}/config`, {
      name: 'Spool e2e',
      doc: {
        tests: {
          http: { enabled: false },
          icmp: { enabled: false },
          tcp: { enabled: true, targets: [`127.0.0.1:${port}`] },
        },
      },
    });
    const { secret } = await api('POST', '/api/v1/enrollment/secrets', { ou_id: ouId, name: 'agent-process' });
    const stateDir = path.join(work, 'agent-state');
    const proc = spawn(process.execPath, ['--import', 'tsx', 'apps/agent/src/main.ts', '--state-dir', stateDir], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: work, MANAGER_URL: url, ENROLLMENT_SECRET: secret, RUN_SECONDS: '4' },
      stdio: 'ignore',
    });
    expect(await new Promise((resolve) => proc.on('exit', resolve))).toBe(0);
    const latest = await api('GET', `/api/v1/results/latest?ou_id=${ouId}&kind=tcp`);
    expect(latest.items).toHaveLength(1);
    expect(latest.items[0]).toMatchObject({ kind: 'tcp', target: `127.0.0.1:${port}`, ok: true });
    expect(latest.items[0].result_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    // the agent's requests, as it sends them, take the manager's fast path (ADR 9), not the slower one
    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const route of [
      '/api/v1/results/upload',
      '/api/v1/enrollment/config',
      '/api/v1/enrollment/devices/:device_id/heartbeat',
    ])
      expect(
        metricValue(metrics, `rookery_http_agent_path_requests_total{route="${route}"}`),
        route,
      ).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it('manager stopped for a while and restarted: every spooled result is stored exactly once', async () => {
    const device = await enrollDevice('outage-1');
    const spool = await Spool.open({ dir: path.join(work, 'spool-outage'), logger: memoryLogger().logger });
    let stored = 0;
    const http = new HttpManagerApi(url, { timeoutMs: 5000 });
    const uploader = new ResultUploader({
      spool,
      api: {
        uploadResults: async (...args) => {
          const r: UploadResponse = await http.uploadResults(...args);
          stored += r.stored;
          return r;
        },
      },
      logger: memoryLogger().logger,
      batchRecords: 50,
      backoff: { initialMs: 50, maxMs: 500 },
    });
    const now = Date.now();
    const at = (i: number) => now - 3_000_000 + i * 1000; // within the last hour, one second apart
    for (let i = 0; i < 200; i++) await spool.append(envelope(i, 0, at(i)));
    uploader.setCredential(device.device_credential);
    await waitFor('first batch stored', () => stored > 0);

    await stopManager();
    for (let i = 200; i < 500; i++) await spool.append(envelope(i, 0, at(i)));
    await new Promise((r) => setTimeout(r, 1000));
    expect(spool.backlog).toBeGreaterThanOrEqual(300);
    await startManager(new URL(url).host);
    await waitFor('spool drained', () => spool.backlog === 0, 60_000);
    await uploader.stop(1000);
    await spool.close();

    expect(stored).toBe(500);
    const since = new Date(now - 3_600_000).toISOString();
    const until = new Date(now + 60_000).toISOString();
    const q = new URLSearchParams({
      device_id: String(device.device_id),
      kind: 'tcp',
      target: '127.0.0.1:1000',
      since,
      until,
    });
    const counted = async (target: string) => {
      q.set('target', target);
      const series = await api('GET', `/api/v1/results/series?${q}&granularity=hour`);
      return (series.points as { count: number }[]).reduce((n, p) => n + p.count, 0);
    };
    // envelope(i) targets 127.0.0.1:(1000 + i): one row per result id, none twice
    const total = async () => {
      let n = 0;
      for (let i = 0; i < 500; i++) n += await counted(`127.0.0.1:${1000 + i}`);
      return n;
    };
    // the rollups follow ingest within about 2 s (the manager's rollup-fold job); never more than 500
    let seen = 0;
    await waitFor('rollups folded', async () => (seen = await total()) >= 500, 30_000);
    expect(seen).toBe(500);
    await new Promise((r) => setTimeout(r, 2500));
    expect(await total()).toBe(500);
  }, 120_000);

  it('the agent process through a lost upload response and a manager outage: every result stored once', async () => {
    const fleet = await cycleFleet('outage');
    const cutter = new UploadResponseCutter(() => new URL(url));
    const relayUrl = await cutter.listen();
    const agent = startAgent(fleet, 'outage-agent', relayUrl);
    try {
      const deviceId = await agent.deviceId();
      await waitFor('first cycle stored', async () => (await storedOf(deviceId)).n >= 20, 60_000);

      // a lost response: the manager stores the batch, the agent never hears so and sends it again
      const c0 = await ingestCounters();
      cutter.arm();
      await waitFor('an upload response cut', () => cutter.cut === 1, 30_000);
      await waitFor('the batch retried', async () => {
        const c = await ingestCounters();
        return c.uploaded - c0.uploaded > c.stored - c0.stored;
      });

      // the manager down for longer than a cycle: the agent measures and spools meanwhile
      const before = (await agent.status())?.spool?.appended ?? 0;
      await stopManager();
      await new Promise((r) => setTimeout(r, 11_000));
      const during = (await agent.status())?.spool?.appended ?? 0;
      expect(during - before).toBeGreaterThanOrEqual(20);
      await startManager(new URL(url).host);
      await waitFor('the outage drained', async () => (await storedOf(deviceId)).n >= during, 90_000);

      const final = await agent.stopAfterCycle();
      expect(final.uploaded).toBe(final.appended);
      await expectEveryCycleStoredOnce(deviceId, final.appended);
      expect(cutter.cut).toBe(1);
    } finally {
      agent.kill();
      await cutter.close();
      fleet.close();
    }
  }, 240_000);

  it('the agent process killed with results in its spool: after a restart each arrives once', async () => {
    const fleet = await cycleFleet('crash');
    const agent = startAgent(fleet, 'crash-agent', url);
    let again: ReturnType<typeof startAgent> | undefined;
    try {
      const deviceId = await agent.deviceId();
      await waitFor('first cycle stored', async () => (await storedOf(deviceId)).n >= 20, 60_000);
      // a cycle measured while the manager is down stays in the spool; then SIGKILL, no goodbye
      await stopManager();
      const last = (await agent.status())?.last_test_run_at;
      await waitFor('a cycle while the manager is down', async () => (await agent.status())?.last_test_run_at !== last);
      const killed = (await agent.status())?.spool;
      expect(killed?.backlog).toBeGreaterThanOrEqual(20);
      agent.kill();
      expect(await agent.exited).toBe(null); // killed by a signal
      await startManager(new URL(url).host);

      // the same state dir: the restarted agent keeps its credential and device, and sends the spool first
      again = startAgent(fleet, 'crash-agent', url);
      expect(await again.deviceId()).toBe(deviceId);
      await waitFor("the killed run's spool stored", async () => (await storedOf(deviceId)).n >= 40, 60_000);
      const final = await again.stopAfterCycle();
      // this run's counters start at its own start: it uploaded the killed run's backlog besides its own
      expect(final.uploaded).toBe(final.appended + (killed?.backlog ?? 0));
      const end = await expectEveryCycleStoredOnce(deviceId);
      expect(end.n).toBeGreaterThanOrEqual(60);
    } finally {
      agent.kill();
      again?.kill();
      fleet.close();
    }
  }, 240_000);
});

/** 20 TCP targets on 127.0.0.1 and an OU measuring them every 10 s (the shortest interval): 20 results a cycle. */
async function cycleFleet(name: string): Promise<{ names: string[]; secret: string; close(): void }> {
  const targets: Server[] = [];
  for (let i = 0; i < 20; i++) {
    const t = createServer((sock) => sock.end());
    await new Promise<void>((resolve) => t.listen(0, '127.0.0.1', resolve));
    targets.push(t);
  }
  const names = targets.map((t) => `127.0.0.1:${(t.address() as { port: number }).port}`);
  const ou = (await api('POST', '/api/v1/ous', { name })).id;
  await api('PUT', `/api/v1/ous/${ou}/config`, {
    name: `${name} e2e`,
    doc: {
      schedule: { interval_seconds: 10, offset_percent: 0 },
      tests: { http: { enabled: false }, icmp: { enabled: false }, tcp: { enabled: true, targets: names } },
    },
  });
  const { secret } = await api('POST', '/api/v1/enrollment/secrets', { ou_id: ou, name: `${name}-agent` });
  return { names, secret, close: () => targets.forEach((t) => t.close()) };
}

/** The `rookery agent` process with its own state dir and serial (without one the agent derives it from the machine, and would re-enroll another test's device). */
function startAgent(fleet: { secret: string }, serial: string, managerUrl: string) {
  const stateDir = path.join(work, serial);
  const proc = spawn(process.execPath, ['--import', 'tsx', 'apps/agent/src/main.ts', '--state-dir', stateDir], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: work,
      MANAGER_URL: managerUrl,
      ENROLLMENT_SECRET: fleet.secret,
      DEVICE_SERIAL: serial,
    },
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', resolve));
  const status = async (): Promise<AgentStatus | undefined> =>
    JSON.parse(await readFile(path.join(stateDir, 'status.json'), 'utf8').catch(() => 'null')) ?? undefined;
  return {
    exited,
    status,
    async deviceId(): Promise<number> {
      let s: AgentStatus | undefined;
      // this process's status (a restart on the same state dir finds the killed one's first)
      await waitFor('enrolled', async () => ((s = await status())?.device_id ?? 0) > 0 && s?.pid === proc.pid, 60_000);
      return s?.device_id as number;
    },
    /** SIGTERM right after a cycle (so none is cut short); the final spool counters, nothing lost or set aside. */
    async stopAfterCycle(): Promise<NonNullable<AgentStatus['spool']>> {
      const last = (await status())?.last_test_run_at;
      await waitFor('a cycle', async () => (await status())?.last_test_run_at !== last, 30_000);
      proc.kill('SIGTERM');
      expect(await exited).toBe(0);
      const final = (await status())?.spool as NonNullable<AgentStatus['spool']>;
      expect(final).toMatchObject({
        backlog: 0,
        rejected: 0,
        dropped_overflow: 0,
        dropped_expired: 0,
        dropped_unwritable: 0,
        quarantined: 0,
        lost: 0,
      });
      return final;
    },
    kill(): void {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    },
  };
}

/** The device's stored results (last 24 h), in all and per target. */
async function storedOf(deviceId: number): Promise<{ n: number; perTarget: Map<string, number> }> {
  let n = 0;
  let cursor: string | null = null;
  const perTarget = new Map<string, number>();
  do {
    const q = new URLSearchParams({ device_id: String(deviceId), limit: '500' });
    if (cursor) q.set('cursor', cursor);
    const page = await api('GET', `/api/v1/results?${q}`);
    for (const r of page.items as { target: string }[]) perTarget.set(r.target, (perTarget.get(r.target) ?? 0) + 1);
    n += page.items.length;
    cursor = page.next_cursor;
  } while (cursor);
  return { n, perTarget };
}

/** Every cycle measured all 20 targets: each target stored as often as the others (and `n` rows in all when given). */
async function expectEveryCycleStoredOnce(deviceId: number, n?: number) {
  const end = await storedOf(deviceId);
  if (n !== undefined) expect(end.n).toBe(n);
  expect(end.perTarget.size).toBe(20);
  expect(new Set(end.perTarget.values()).size).toBe(1);
  return end;
}

/** The value of one series (`name` or `name{labels}`, as printed) in Prometheus text; NaN when absent. */
function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return Number(line?.slice(series.length + 1) ?? NaN);
}

/** The manager's results received (duplicates included) and stored, since it started. */
async function ingestCounters(): Promise<{ uploaded: number; stored: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return {
    uploaded: metricValue(text, 'rookery_results_uploaded_total'),
    stored: metricValue(text, 'rookery_results_stored_total'),
  };
}
