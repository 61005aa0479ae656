// The real agent (HTTP client, WebSocket, state dir) against an in-process fake manager on 127.0.0.1.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ConfigValues, DEFAULT_CONFIG_VALUES } from '@rookery/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent } from './agent.js';
import { HttpManagerApi } from './link/manager-api.js';
import { WsAgentStream } from './link/stream.js';
import { StateStore } from './state-store.js';
import { FakeManager } from './testing/fake-manager.js';
import { MemorySink, memoryLogger, RecordingRunner } from './testing/fakes.js';

const SECRET = 'enroll-secret-for-tests';
const local: ConfigValues = structuredClone(DEFAULT_CONFIG_VALUES);
local.tests = {
  ...local.tests,
  http: { enabled: false, targets: [] },
  tcp: { enabled: true, targets: ['127.0.0.1:7'] },
};

let manager: FakeManager;
let stateDir: string;
const agents: Agent[] = [];

beforeEach(async () => {
  manager = new FakeManager();
  manager.config.tests.http = { enabled: false, targets: [] };
  manager.config.tests.tcp = { enabled: true, targets: ['127.0.0.1:22'] };
  manager.config.tests.icmp = { enabled: true, targets: ['127.0.0.1'] };
  await manager.listen();
  stateDir = await mkdtemp(path.join(tmpdir(), 'rk-agent-'));
});

afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop('test over')));
  await manager.close();
  await rm(stateDir, { recursive: true, force: true });
});

function startAgent(options: { heartbeatIntervalMs?: number } = {}) {
  const { logger, lines } = memoryLogger();
  const runner = new RecordingRunner();
  const sink = new MemorySink();
  const fast = { initialMs: 100, maxMs: 400 };
  const agent = new Agent({
    managerUrl: manager.url,
    enrollmentSecret: SECRET,
    localConfig: local,
    device: { serial: 'serial-fm-1', hostname: 'fm-host', os: 'Linux', osVersion: '6.1.0' },
    api: new HttpManagerApi(manager.url, { retryDelayMs: 20 }),
    stream: new WsAgentStream(manager.url, { logger, backoff: fast }),
    store: new StateStore(stateDir),
    runner,
    sink,
    logger,
    timing: { enrollBackoff: fast, checkinBackoff: fast, heartbeatIntervalMs: options.heartbeatIntervalMs },
  });
  agents.push(agent);
  return { agent, runner, sink, lines };
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5000): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}

/** Polls a JSON file in the state dir until `cond` holds (the daemon writes it asynchronously). */
async function waitForJson(name: string, cond: (doc: Record<string, unknown>) => boolean, timeoutMs = 5000) {
  const start = Date.now();
  for (;;) {
    const text = await readFile(path.join(stateDir, name), 'utf8').catch(() => '{}');
    const doc = JSON.parse(text) as Record<string, unknown>;
    if (cond(doc)) return doc;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${name}: ${text}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const credentialFile = () => path.join(stateDir, 'credential.json');
const readCredential = async () =>
  JSON.parse(await readFile(credentialFile(), 'utf8')) as { device_credential: string };

describe('agent against a fake manager', () => {
  it('fresh enroll → config → test run → heartbeat, with the contract headers and a 0600 credential file', async () => {
    manager.secrets.add(SECRET);
    // a manager without stream heartbeats: the agent falls back to HTTP at once
    manager.streamHeartbeats = 'unknown';
    const a = startAgent();
    await a.agent.start();
    await waitFor('heartbeat', () => manager.heartbeats.length >= 1);
    expect(manager.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'POST /api/v1/enrollment/enroll 201',
      'GET /api/v1/enrollment/config 200',
      'POST /api/v1/enrollment/devices/42/heartbeat 200',
    ]);
    const [enroll, config, heartbeat] = manager.requests;
    const credential = (await readCredential()).device_credential;
    expect(config?.headers.authorization).toBe(`Bearer ${credential}`);
    expect(heartbeat?.headers.authorization).toBe(`Bearer ${credential}`);
    for (const r of manager.requests) expect(r.headers['x-api-version']).toBe('1');
    expect(enroll?.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(heartbeat?.headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
    expect(manager.heartbeats[0]).toMatchObject({
      via: 'http',
      body: { agent_state: 'enrolled', config_version: 1, spool_backlog: 0 },
    });
    expect(a.runner.runs.map((r) => `${r.kind} ${r.target}`)).toEqual(['tcp 127.0.0.1:22', 'icmp 127.0.0.1']);
    expect((await stat(credentialFile())).mode & 0o777).toBe(0o600);
    expect((await stat(stateDir)).mode & 0o777).toBe(0o700);
    await waitFor('stream', () => manager.streams === 1);

    const status = await waitForJson('status.json', (s) => s.config_version === 1 && s.last_heartbeat_at !== null);
    expect(status).toMatchObject({
      state: 'enrolled',
      device_id: 42,
      ou_id: 3,
      config_source: 'manager',
      last_heartbeat_via: 'http',
    });
    expect(JSON.stringify(status)).not.toContain(credential);

    // a restart reuses the stored credential: no second enrollment
    await a.agent.stop('restart');
    const b = startAgent();
    await b.agent.start();
    await waitFor('second check-in', () => manager.requests.filter((r) => r.path.endsWith('/config')).length === 2);
    expect(manager.requests.filter((r) => r.path.endsWith('/enroll'))).toHaveLength(1);
    expect(b.agent.state).toBe('enrolled');
  });

  it('heartbeats over the stream once it is connected, not over HTTP, and says so in status.json', async () => {
    manager.secrets.add(SECRET);
    const a = startAgent({ heartbeatIntervalMs: 100 });
    await a.agent.start();
    await waitFor('a stream heartbeat', () => manager.heartbeats.some((h) => h.via === 'stream'));
    const http = () => manager.requests.filter((r) => r.path.endsWith('/heartbeat')).length;
    const before = { http: http(), stream: manager.heartbeats.filter((h) => h.via === 'stream').length };
    await waitFor(
      'three more stream heartbeats',
      () => manager.heartbeats.filter((h) => h.via === 'stream').length >= before.stream + 3,
    );
    expect(http()).toBe(before.http);
    expect(manager.heartbeats.find((h) => h.via === 'stream')).toMatchObject({
      deviceId: 42,
      body: { agent_state: 'enrolled', spool_backlog: 0 },
    });
    const status = await waitForJson('status.json', (s) => s.last_heartbeat_via === 'stream');
    expect(status).toMatchObject({ stream_connected: true, state: 'enrolled' });
    // a manager that stops taking stream heartbeats: the next ones go over HTTP
    manager.streamHeartbeats = 'unknown';
    await waitFor('an HTTP heartbeat', () => http() > before.http);
  });

  it('applies a config change pushed by a nudge within seconds, without restart', async () => {
    manager.secrets.add(SECRET);
    const a = startAgent();
    await a.agent.start();
    await waitFor('stream and config', () => manager.streams === 1 && a.agent.config.version === 1);
    const version = manager.changeConfig((c) => {
      c.tests.udp = { enabled: true, targets: ['127.0.0.1:5201'] };
    });
    const took = await waitFor('config v2', () => a.agent.config.version === version, 3000);
    expect(took).toBeLessThan(3000);
    expect(a.agent.config.values.tests.udp).toEqual({ enabled: true, targets: ['127.0.0.1:5201'] });
    expect(manager.requests.filter((r) => r.path.endsWith('/enroll'))).toHaveLength(1);
    const cached = await waitForJson('config.json', (c) => c.config_version === version);
    expect(cached.values).toEqual(a.agent.config.values);
  });

  it('falls back to the ENV config when enrollment fails, then enrolls once the secret is accepted', async () => {
    const a = startAgent();
    await a.agent.start();
    expect(a.agent.state).toBe('unenrolled_fallback');
    await waitFor('local run', () => a.runner.runs.length >= 1);
    expect(a.runner.runs[0]).toMatchObject({ kind: 'tcp', target: '127.0.0.1:7' });
    await waitFor('a second attempt', () => manager.requests.filter((r) => r.path.endsWith('/enroll')).length >= 2);
    expect(manager.requests.every((r) => r.status === 401)).toBe(true);
    const keys = new Set(manager.requests.map((r) => r.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    manager.secrets.add(SECRET);
    await waitFor('enrolled with manager config', () => a.agent.config.source === 'manager', 3000);
    expect(a.agent.state).toBe('enrolled');
    expect(a.lines.some((l) => l.msg === 'enrolled')).toBe(true);
  });

  it('re-enrolls after its credential is revoked (401), and stores the new one', async () => {
    manager.secrets.add(SECRET);
    const a = startAgent({ heartbeatIntervalMs: 200 });
    await a.agent.start();
    await waitFor('enrolled', () => a.agent.config.version === 1);
    const first = (await readCredential()).device_credential;
    manager.revoke(42);
    await waitFor('second enrollment', () => manager.devices.length === 2 && a.agent.state === 'enrolled', 5000);
    const second = (await readCredential()).device_credential;
    expect(second).not.toBe(first);
    expect(second).toBe(manager.devices[1]?.credential);
    expect((await stat(credentialFile())).mode & 0o777).toBe(0o600);
    await waitFor('heartbeat with the new credential', () => manager.heartbeats.some((h) => h.credential === second));
    const refusedHttp = manager.requests.filter(
      (r) => r.status === 401 && r.headers.authorization === `Bearer ${first}`,
    );
    expect(refusedHttp.length + manager.refusedUpgrades).toBeGreaterThan(0);
    expect(a.lines.some((l) => String(l.msg).startsWith('device credential refused'))).toBe(true);
  });

  it('backs off on 429 and still enrolls', async () => {
    manager.secrets.add(SECRET);
    manager.rateLimitNext = 1;
    const a = startAgent();
    const started = Date.now();
    await a.agent.start();
    await waitFor('enrolled', () => a.agent.state === 'enrolled', 4000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // Retry-After: 1
  });
});
