// Alerts from thresholds on ingest: open after 3 breaches, close with hysteresis, one signed webhook each.
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../../testing/harness.js';

let h: Harness;
let receiver: Server;
let port = 0;
let status = 200;
const received: { body: any; signature: string }[] = [];
let dev: { id: number; credential: string };

const icmp = (avgMs: number, lossPct = 0) => ({
  id: randomUUID(),
  result: {
    kind: 'icmp',
    target: '192.0.2.50',
    ok: true,
    startedAt: new Date().toISOString(),
    durationMs: 100,
    metrics: { rtt: { avgMs }, jitterMs: 0.1, lossPct },
  },
});
const upload = (results: unknown[]) =>
  h.req('POST', '/api/v1/results/upload', {
    headers: { authorization: `Bearer ${dev.credential}` },
    body: { results },
  });

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      received.push({ body: JSON.parse(body), signature: String(req.headers['x-rookery-signature']) });
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  port = (receiver.address() as AddressInfo).port;
  h = await createHarness({}, { outboundAllow: ['127.0.0.1'] });
  const ou = await h.createOu('Alerting');
  const e = await h.enroll((await h.createSecret(ou)).secret, 'alert-dev');
  dev = { id: e.body.device_id, credential: e.body.device_credential };
});
afterAll(async () => {
  await h.close();
  await new Promise((r) => receiver.close(r));
});

describe('alerts', () => {
  let secret = '';
  it('creates a webhook (guarded URLs refused)', async () => {
    const admin = await h.adminToken();
    for (const url of ['http://169.254.169.254/latest', 'http://[::1]:9/', 'ftp://x/']) {
      expect((await h.req('POST', '/api/v1/webhooks', { token: admin, body: { name: 'bad', url } })).status).toBe(400);
    }
    const w = await h.req('POST', '/api/v1/webhooks', {
      token: admin,
      body: { name: 'ops', url: `http://127.0.0.1:${port}/hook` },
    });
    expect(w.status).toBe(201);
    secret = w.body.secret;
  });

  it('opens after three breaches in a row and notifies once, signed', async () => {
    await upload([icmp(200), icmp(200)]);
    expect((await h.req('GET', '/api/v1/alerts', { token: await h.adminToken() })).body.items).toEqual([]);
    await upload([icmp(200)]);
    const open = await h.req('GET', '/api/v1/alerts', { token: await h.adminToken() });
    expect(open.body.items).toMatchObject([
      { device_id: dev.id, metric: 'latency', state: 'warning', last_value: 200 },
    ]);
    expect(await h.deps.webhooks.sendDue()).toBe(1);
    expect(await h.deps.webhooks.sendDue()).toBe(0);
    expect(received).toHaveLength(1);
    const got = received[0] as { body: any; signature: string };
    expect(got.body).toMatchObject({
      type: 'alert.changed',
      event: { metric: 'latency', from: 'ok', to: 'warning', value: 200, threshold: 100 },
    });
    const [t, v1] = got.signature.split(',').map((p) => p.split('=')[1]);
    expect(
      createHmac('sha256', secret)
        .update(`${t}.${JSON.stringify(got.body)}`)
        .digest('hex'),
    ).toBe(v1);
  });

  it('does not close while values hover under the threshold, closes below the hysteresis band', async () => {
    await upload([icmp(95), icmp(95), icmp(95)]);
    expect((await h.req('GET', '/api/v1/alerts', { token: await h.adminToken() })).body.items).toHaveLength(1);
    await upload([icmp(20), icmp(20), icmp(20)]);
    expect((await h.req('GET', '/api/v1/alerts', { token: await h.adminToken() })).body.items).toEqual([]);
    const events = await h.req('GET', `/api/v1/alerts/events?device_id=${dev.id}`, { token: await h.adminToken() });
    expect(
      events.body.items.map((e: { from_state: string; to_state: string }) => `${e.from_state}>${e.to_state}`),
    ).toEqual(['warning>ok', 'ok>warning']);
    expect(await h.deps.webhooks.sendDue()).toBe(1);
    expect(received.map((r) => r.body.event.to)).toEqual(['warning', 'ok']);
  });

  it('retries a failed delivery later instead of dropping it', async () => {
    status = 500;
    await upload([icmp(900), icmp(900), icmp(900)]);
    expect(await h.deps.webhooks.sendDue()).toBe(1);
    const d = await sql<{
      status: string;
      attempts: number;
      future: boolean;
    }>`SELECT status, attempts, next_at > now() AS future FROM webhook_deliveries ORDER BY id DESC LIMIT 1`.execute(
      h.tdb.db,
    );
    expect(d.rows[0]).toEqual({ status: 'pending', attempts: 1, future: true });
    status = 200;
  });

  it('writes no machine for a quiet series, one once a breach is pending', async () => {
    const machines = async (target: string) =>
      (
        await sql<{ metric: string; state: string; pending: string }>`
          SELECT metric, state, pending FROM alert_states WHERE device_id = ${dev.id} AND target = ${target}
          ORDER BY metric`.execute(h.tdb.db)
      ).rows;
    const at = (avgMs: number) => {
      const r = icmp(avgMs);
      return { ...r, result: { ...r.result, target: '192.0.2.51' } };
    };
    // whether the upload was stored by one statement, without evaluating the machines (ADR 11)
    const alone = async (results: unknown[]) => {
      const n = h.deps.results.singleStatements;
      await upload(results);
      return h.deps.results.singleStatements - n;
    };
    expect(await alone([at(5), at(6), at(7)])).toBe(1);
    expect(await machines('192.0.2.51')).toEqual([]);
    expect(await alone([at(150)])).toBe(0);
    expect(await machines('192.0.2.51')).toEqual([{ metric: 'latency', state: 'ok', pending: 'warning' }]);
    // back to quiet: the stored machine must say so, or the next breach would count from 2. Every result
    // is ok, but a machine is astir: the single statement stores nothing and the transaction evaluates
    expect(await alone([at(5)])).toBe(0);
    expect(await machines('192.0.2.51')).toEqual([{ metric: 'latency', state: 'ok', pending: 'ok' }]);
    // a quiet stored machine is as good as none
    expect(await alone([at(6)])).toBe(1);
    await upload([at(150), at(150)]);
    expect((await h.req('GET', '/api/v1/alerts', { token: await h.adminToken() })).body.items).toHaveLength(1);
    await upload([at(150)]);
    expect((await h.req('GET', '/api/v1/alerts', { token: await h.adminToken() })).body.items).toHaveLength(2);
  });

  it('a retried upload evaluates nothing twice', async () => {
    const batch = [icmp(20), icmp(20)];
    await upload(batch);
    const before = (await h.req('GET', `/api/v1/alerts/events?device_id=${dev.id}`, { token: await h.adminToken() }))
      .body.items.length;
    await upload(batch);
    await upload(batch);
    const after = (await h.req('GET', `/api/v1/alerts/events?device_id=${dev.id}`, { token: await h.adminToken() }))
      .body.items.length;
    expect(after).toBe(before);
  });
});

describe('metrics', () => {
  it('exposes fleet gauges and ingest counters', async () => {
    const r = await h.req('GET', '/metrics');
    expect(r.status).toBe(200);
    const text = String(r.body);
    expect(text).toMatch(/rookery_devices\{status="online"\} 1/);
    expect(text).toMatch(/rookery_alerts_open\{level="critical"\} 1/);
    expect(text).toMatch(/rookery_results_uploaded_total \d+/);
    expect(Number(/rookery_results_stored_total (\d+)/.exec(text)?.[1])).toBeGreaterThan(10);
    expect(text).toMatch(/rookery_ingest_queue_results 0/);
    const xacts = Number(/rookery_ingest_transactions_total (\d+)/.exec(text)?.[1]);
    expect(xacts).toBeGreaterThan(0);
    // healthy uploads were single statements, breaches and astir machines were not
    const single = Number(/rookery_ingest_single_statement_total (\d+)/.exec(text)?.[1]);
    expect(single).toBeGreaterThan(0);
    expect(single).toBeLessThan(xacts);
    // each transaction's oldest upload's wait and the transaction's duration, one observation each
    const sample = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    for (const name of ['rookery_ingest_wait_seconds', 'rookery_ingest_transaction_seconds'])
      expect(sample(`${name}_count`)).toBe(xacts);
    expect(sample('rookery_ingest_wait_seconds_sum')).toBeGreaterThanOrEqual(0);
    expect(sample('rookery_ingest_transaction_seconds_sum')).toBeGreaterThan(0);
    // a counter never goes back: a second scrape reads at least as much
    const again = String((await h.req('GET', '/metrics')).body);
    expect(Number(/rookery_ingest_transactions_total (\d+)/.exec(again)?.[1])).toBeGreaterThanOrEqual(xacts);
    // the harness runs no jobs: nothing was folded since the database was created; the results arrived
    // on time, so none was queued
    expect(Number(/^rookery_rollup_lag_seconds (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    for (const g of ['hour', 'day'])
      expect(
        Number(
          new RegExp(`^rookery_rollup_summed_until_age_seconds\\{granularity="${g}"\\} (\\S+)$`, 'm').exec(text)?.[1],
        ),
      ).toBeGreaterThanOrEqual(0);
    expect(text).toMatch(/rookery_rollup_pending_results 0/);
    expect(text).toMatch(/rookery_probe_target_vantage_points\{kind="icmp",target="192.0.2.50"\} 1/);
    expect(
      text,
      text
        .split('\n')
        .filter((l) => l.includes('probe_target'))
        .join('\n'),
    ).toMatch(/rookery_probe_target_ok_ratio\{kind="icmp",target="192.0.2.50"\} 1/);
    expect(text).toMatch(/rookery_probe_target_latency_ms\{kind="icmp",target="192.0.2.50"\} \d/);
  });
});
