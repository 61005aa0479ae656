// Issue 6 end to end: real ICMP loss (nft in the lab) opens a critical alert, a webhook receiver in a lab host gets
// one signed delivery per transition, loss inside the hysteresis band keeps it open, and no loss closes it.
import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ProcessHandle } from '@rookery/lab';
import { describeLab, useLab } from '@rookery/lab/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LabAgent, LabApi, ROOT, startLabManager, startLabPostgres, waitFor } from './testing/lab-fleet.js';

const ADMIN = { username: 'admin', password: 'alerts-e2e-admin-password' };
const SECRET_KEY = 'alerts-e2e-secret-key-0123456789-abcdefgh';
const PORT = 8080;
const HOOK_PORT = 9090;
const RECEIVER = path.join(ROOT, 'apps/agent/src/testing/webhook-receiver.ts');
/** one run every 10 s (the minimum), no jitter; 3 runs open or close an alert, plus upload and delivery slack */
const TRANSITION_MS = 50_000;
/**
 * Loss thresholds, percent. The agent sends 5 echo requests a run, so nft `every: 2` gives 40 % or 60 % (critical)
 * and `every: 5` exactly 20 %: under critical, but above critical × 0.9 = 19.8, i.e. inside the hysteresis band.
 */
const WARNING = 10;
const CRITICAL = 22;

interface Received {
  signature: string | null;
  delivery: string | null;
  body: string;
  at: string;
}

/** Verifies `X-Rookery-Signature: t=<unix>,v1=<hex hmac-sha256(secret, "<t>.<body>")>`. */
function signatureValid(secret: string, header: string | null, body: string): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  return createHmac('sha256', secret).update(`${m[1]}.${body}`).digest('hex') === m[2];
}

describeLab('alerts end to end: nft loss → critical alert → one webhook each way → closed', () => {
  // the agent reaches the manager and the receiver over lan, the target over its own link (the lossy one)
  const lab = useLab({
    hosts: ['mgr', 'agent', 'hook', 'target'],
    links: [
      { name: 'lan', hosts: ['mgr', 'agent', 'hook'] },
      { name: 'edge', hosts: ['agent', 'target'] },
    ],
  });
  const dirs: string[] = [];
  const timings: Record<string, number | string> = {};
  let postgres: ProcessHandle | undefined;
  let manager: ProcessHandle | undefined;
  let receiver: ProcessHandle | undefined;
  let agent: LabAgent | undefined;
  let api: LabApi;
  let ouId: number;
  let hookSecret: string;
  let target: string;

  const tempDir = async (name: string) => {
    const dir = await mkdtemp(path.join(tmpdir(), `rk-alerts-e2e-${name}-`));
    dirs.push(dir);
    return dir;
  };
  /** Every POST the receiver logged so far. */
  const received = (): Received[] =>
    (receiver?.stdout ?? '')
      .split('\n')
      .filter((l) => l.startsWith('{"method"'))
      .map((l) => JSON.parse(l) as Received);
  const eventOf = (r: Received) => (JSON.parse(r.body) as { event: Record<string, any> }).event;
  const diagnostics = () =>
    `${agent?.tail() ?? ''}\nreceiver: ${receiver?.stdout.slice(-2000) ?? ''}\nmanager: ${manager?.stderr.slice(-2000) ?? ''}`;

  beforeAll(async () => {
    const t0 = Date.now();
    target = lab().addr('target');
    const pg = await startLabPostgres(lab(), 'mgr', await tempDir('pg'));
    postgres = pg.process;
    manager = await startLabManager(lab(), 'mgr', {
      port: PORT,
      databaseUrl: pg.url,
      secretKey: SECRET_KEY,
      admin: ADMIN,
    });
    receiver = lab().spawnNode('hook', RECEIVER, [String(HOOK_PORT)], { cwd: ROOT });
    await receiver.waitForOutput('"listening"', 30_000);
    timings.setup_ms = Date.now() - t0;

    api = new LabApi(lab(), 'mgr', `http://127.0.0.1:${PORT}`);
    await api.login(ADMIN.username, ADMIN.password);
    ouId = (await api.expect(201, 'POST', '/api/v1/ous', { name: 'Alerting' })).id;
    await api.expect(200, 'PUT', `/api/v1/ous/${ouId}/config`, {
      name: 'Alerting Config',
      doc: {
        tests: { http: { enabled: false }, tcp: { enabled: false }, icmp: { enabled: true, targets: [target] } },
        schedule: { interval_seconds: 10, offset_percent: 0 },
        thresholds: { packet_loss_warning_percent: WARNING, packet_loss_critical_percent: CRITICAL },
      },
    });
    // a lab address (10.x), not loopback: the URL guard lets it through without ROOKERY_OUTBOUND_ALLOW
    const hook = await api.expect(201, 'POST', '/api/v1/webhooks', {
      name: 'lab receiver',
      url: `http://${lab().addr('hook')}:${HOOK_PORT}/hook`,
      format: 'generic',
    });
    hookSecret = hook.secret;
    expect(hookSecret).toMatch(/^rkw_/);
  }, 120_000);

  afterAll(async () => {
    await agent?.process.stop('SIGTERM', 5000);
    await receiver?.stop('SIGTERM', 3000);
    await manager?.stop('SIGTERM', 5000);
    await postgres?.stop('SIGTERM', 10_000);
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    console.log(`[alerts e2e timings] ${JSON.stringify(timings)}`);
  }, 30_000);

  it('opens on loss, notifies once per transition (signed), closes after clean runs, no duplicates', async () => {
    const { secret } = await api.expect(201, 'POST', '/api/v1/enrollment/secrets', { ou_id: ouId, name: 'agent' });
    const a = new LabAgent(lab(), 'agent', {
      managerUrl: `http://${lab().addr('mgr')}:${PORT}`,
      serial: 'serial-alerts',
      stateDir: await tempDir('agent'),
      env: {
        ENROLLMENT_SECRET: secret,
        ENABLE_HTTP_TEST: 'false',
        ENABLE_TCP_TEST: 'false',
        ENABLE_ICMP_TEST: 'false',
        TEST_INTERVAL_SECONDS: '3600',
      },
    });
    agent = a;
    const device = await waitFor(
      'the agent enrolled',
      async () => (await api.device('serial-alerts')) as { id: number } | undefined,
      30_000,
      diagnostics,
      500,
    );
    const alerts = async () =>
      (await api.expect(200, 'GET', `/api/v1/alerts?device_id=${device.id}`)).items as Record<string, any>[];
    const events = async () =>
      (await api.expect(200, 'GET', `/api/v1/alerts/events?device_id=${device.id}`)).items as Record<string, any>[];

    // baseline: a clean run, nothing open, nothing sent
    await a.waitForLog('test run finished', { timeoutMs: 30_000 });
    const baseline = a.results();
    expect(baseline).toHaveLength(1);
    expect(baseline[0]).toMatchObject({ kind: 'icmp', target, ok: true });
    expect(baseline[0].measurement.metrics.lossPct).toBe(0);

    // inject: every 2nd IPv4 packet entering target is dropped (only the agent's echo requests enter it)
    let mark = a.mark();
    await lab().setLoss('target', { every: 2 });
    const injectedAt = Date.now();
    const opened = await waitFor(
      'a critical loss alert',
      async () => (await alerts()).find((x) => x.metric === 'loss' && x.state === 'critical'),
      TRANSITION_MS,
      diagnostics,
      500,
    );
    timings.inject_to_open_ms = Date.now() - injectedAt;
    expect(opened).toMatchObject({ kind: 'icmp', target });
    expect(opened.last_value).toBeGreaterThanOrEqual(CRITICAL);
    expect(a.logs('test run finished', mark).length).toBeGreaterThanOrEqual(3);
    const lossy = a.results(mark).map((r) => r.measurement.metrics.lossPct as number);
    timings.loss_pct_per_run = lossy.join(',');
    // 5 echo requests a run, every 2nd dropped: 60 % or 40 % (a run under way when loss began may see less)
    expect(lossy.slice(1).every((l) => l === 40 || l === 60)).toBe(true);
    expect(await lab().droppedPackets('target')).toBeGreaterThan(0);
    const openDelivery = await waitFor(
      'the webhook for ok → critical',
      () => received().find((r) => eventOf(r).to === 'critical'),
      10_000,
      diagnostics,
      200,
    );
    timings.inject_to_webhook_ms = Date.parse(openDelivery.at) - injectedAt;
    expect(signatureValid(hookSecret, openDelivery.signature, openDelivery.body)).toBe(true);
    expect(signatureValid('rkw_wrong', openDelivery.signature, openDelivery.body)).toBe(false);
    expect(JSON.parse(openDelivery.body)).toMatchObject({
      type: 'alert.changed',
      event: { kind: 'icmp', target, metric: 'loss', from: 'ok', to: 'critical', threshold: CRITICAL },
    });

    // hover: 20 % is under the critical threshold but inside the band; 4 runs later it is still critical, unannounced
    mark = a.mark();
    await lab().setLoss('target', { every: 5 });
    await a.waitForLog('test run finished', { from: mark, count: 4, timeoutMs: TRANSITION_MS });
    const hovering = a.results(mark).map((r) => r.measurement.metrics.lossPct as number);
    timings.hover_loss_pct_per_run = hovering.join(',');
    expect(hovering.slice(1)).toEqual([20, 20, 20]);
    await new Promise((r) => setTimeout(r, 3000)); // the last upload and a few delivery ticks
    expect(await alerts()).toMatchObject([{ metric: 'loss', state: 'critical', last_value: 20 }]);
    expect(received()).toHaveLength(1);

    // clear: three clean runs (0 % < WARNING × 0.9) close it
    mark = a.mark();
    await lab().setLoss('target', null);
    const clearedAt = Date.now();
    await waitFor('the loss alert closed', async () => (await alerts()).length === 0, TRANSITION_MS, diagnostics, 500);
    timings.clear_to_close_ms = Date.now() - clearedAt;
    expect(a.logs('test run finished', mark).length).toBeGreaterThanOrEqual(3);
    const closeDelivery = await waitFor(
      'the webhook for critical → ok',
      () => received().find((r) => eventOf(r).to === 'ok'),
      10_000,
      diagnostics,
      200,
    );
    timings.clear_to_webhook_ms = Date.parse(closeDelivery.at) - clearedAt;
    expect(signatureValid(hookSecret, closeDelivery.signature, closeDelivery.body)).toBe(true);
    expect(eventOf(closeDelivery)).toMatchObject({ kind: 'icmp', target, metric: 'loss', from: 'critical', to: 'ok' });

    // one more clean run and a few delivery ticks: still exactly one POST per event, and only these two events
    await a.waitForLog('test run finished', { from: a.mark(), timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 3000));
    const stored = await events();
    expect(stored.map((e) => `${e.metric} ${e.from_state}>${e.to_state}`)).toEqual([
      'loss critical>ok',
      'loss ok>critical',
    ]);
    const posts = received();
    const perEvent = new Map<string, number>();
    for (const r of posts) perEvent.set(String(eventOf(r).id), (perEvent.get(String(eventOf(r).id)) ?? 0) + 1);
    expect([...perEvent.values()]).toEqual([1, 1]);
    expect([...perEvent.keys()].sort()).toEqual(stored.map((e) => String(e.id)).sort());
    expect(new Set(posts.map((r) => r.delivery)).size).toBe(2);
    timings.results = a.results().length;
  }, 200_000);
});
