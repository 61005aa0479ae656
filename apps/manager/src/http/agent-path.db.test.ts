// The agent path answers exactly as the Fastify routes do: every case runs through Fastify alone
// (`app.inject`) and through the server's own handler (agent path first), and the answers must match.
import { randomUUID } from 'node:crypto';
import inject from 'light-my-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../testing/harness.js';
import { appBase } from './app.js';

let h: Harness;
let a: { id: number; credential: string };
let b: { id: number; credential: string };
/** whether the agent path took each request the server's handler saw, in order */
const taken: boolean[] = [];

beforeAll(async () => {
  h = await createHarness();
  const ou = await h.createOu('Parity');
  const secret = (await h.createSecret(ou)).secret;
  const ea = await h.enroll(secret, 'parity-a');
  const eb = await h.enroll(secret, 'parity-b');
  a = { id: ea.body.device_id, credential: ea.body.device_credential };
  b = { id: eb.body.device_id, credential: eb.body.device_credential };
  const base = appBase(h.app);
  const first = base.first;
  if (!first) throw new Error('no agent path');
  base.first = (req, res) => {
    const t = first(req, res);
    taken.push(t);
    return t;
  };
});
afterAll(() => h.close());

const result = () => ({
  id: randomUUID(),
  result: {
    kind: 'tcp',
    target: '127.0.0.1:80',
    ok: true,
    startedAt: new Date().toISOString(),
    durationMs: 1,
    metrics: { connectMs: 0.2 },
  },
});

interface Case {
  name: string;
  /** the agent path answers it (else it declines and Fastify does) */
  fast: boolean;
  method: 'GET' | 'POST';
  url: () => string;
  headers?: () => Record<string, string>;
  /** a function: uploads need new result ids on each run */
  payload?: () => string;
}

const bearer = (c: { credential: string }) => ({ authorization: `Bearer ${c.credential}` });
const json = { 'content-type': 'application/json' };
const hb = () => `/api/v1/enrollment/devices/${a.id}/heartbeat`;

const cases: Case[] = [
  {
    name: 'heartbeat',
    fast: true,
    method: 'POST',
    url: hb,
    headers: () => ({ ...bearer(a), ...json }),
    payload: () => '{"agent_state":"enrolled","config_version":3,"spool_backlog":0}',
  },
  {
    name: 'heartbeat, empty object, version header, charset',
    fast: true,
    method: 'POST',
    url: hb,
    headers: () => ({ ...bearer(a), 'content-type': 'application/json; charset=utf-8', 'x-api-version': '1' }),
    payload: () => '{}',
  },
  {
    name: 'heartbeat, unknown field',
    fast: true,
    method: 'POST',
    url: hb,
    headers: () => ({ ...bearer(a), ...json }),
    payload: () => '{"agent_state":"enrolled","extra":1}',
  },
  {
    name: 'heartbeat, wrong type',
    fast: true,
    method: 'POST',
    url: hb,
    headers: () => ({ ...bearer(a), ...json }),
    payload: () => '{"spool_backlog":"many"}',
  },
  {
    name: 'heartbeat, out of range',
    fast: true,
    method: 'POST',
    url: hb,
    headers: () => ({ ...bearer(a), ...json }),
    payload: () => '{"config_version":2147483648}',
  },
  {
    name: 'heartbeat, null body',
    fast: true,
    method: 'POST',
    url: hb,
    headers: () => ({ ...bearer(a), ...json }),
    payload: () => 'null',
  },
  {
    name: 'heartbeat, invalid JSON',
    fast: true,
    method: 'POST',
    url: hb,
    headers: () => ({ ...bearer(a), ...json }),
    payload: () => '{"agent_state":',
  },
  {
    name: 'heartbeat, prototype poisoning',
    fast: true,
    method: 'POST',
    url: hb,
    headers: () => ({ ...bearer(a), ...json }),
    payload: () => '{"__proto__":{"admin":true}}',
  },
  {
    name: "heartbeat for another device's id",
    fast: true,
    method: 'POST',
    url: () => `/api/v1/enrollment/devices/${b.id}/heartbeat`,
    headers: () => ({ ...bearer(a), ...json }),
    payload: () => '{}',
  },
  {
    name: 'heartbeat, unknown credential',
    fast: true,
    method: 'POST',
    url: hb,
    headers: () => ({ authorization: 'Bearer rkd_nobody', ...json }),
    payload: () => '{}',
  },
  { name: 'heartbeat, no credential', fast: false, method: 'POST', url: hb, headers: () => json, payload: () => '{}' },
  {
    name: 'heartbeat, another API version',
    fast: false,
    method: 'POST',
    url: hb,
    headers: () => ({ ...bearer(a), ...json, 'x-api-version': '2' }),
    payload: () => '{}',
  },
  {
    name: 'heartbeat, text body',
    fast: false,
    method: 'POST',
    url: hb,
    headers: () => ({ ...bearer(a), 'content-type': 'text/plain' }),
    payload: () => 'hello',
  },
  { name: 'heartbeat, no body', fast: false, method: 'POST', url: hb, headers: () => bearer(a) },
  {
    name: 'heartbeat, id beyond 2^53',
    fast: false,
    method: 'POST',
    url: () => '/api/v1/enrollment/devices/9999999999999999/heartbeat',
    headers: () => ({ ...bearer(a), ...json }),
    payload: () => '{}',
  },
  {
    name: 'heartbeat, body over the limit',
    fast: false,
    method: 'POST',
    url: hb,
    headers: () => ({ ...bearer(a), ...json }),
    payload: () => `{"agent_state":"${'x'.repeat(1_100_000)}"}`,
  },
  {
    name: 'config check-in',
    fast: true,
    method: 'GET',
    url: () => '/api/v1/enrollment/config?device_serial=parity-a',
    headers: () => bearer(a),
  },
  {
    name: 'config check-in, unknown credential',
    fast: true,
    method: 'GET',
    url: () => '/api/v1/enrollment/config?device_serial=parity-a',
    headers: () => ({ authorization: 'Bearer rkd_nobody' }),
  },
  {
    name: 'config check-in, encoded serial',
    fast: false,
    method: 'GET',
    url: () => '/api/v1/enrollment/config?device_serial=parity%2Da',
    headers: () => bearer(a),
  },
  {
    name: 'config check-in, no serial',
    fast: false,
    method: 'GET',
    url: () => '/api/v1/enrollment/config',
    headers: () => bearer(a),
  },
  {
    name: 'upload',
    fast: true,
    method: 'POST',
    url: () => '/api/v1/results/upload',
    headers: () => ({ ...bearer(a), ...json }),
    payload: () => JSON.stringify({ results: [result(), result()] }),
  },
  {
    name: 'upload with a record the manager rejects',
    fast: true,
    method: 'POST',
    url: () => '/api/v1/results/upload',
    headers: () => ({ ...bearer(a), ...json }),
    payload: () =>
      JSON.stringify({
        results: [result(), { ...result(), result: { ...result().result, startedAt: '2001-01-01T00:00:00Z' } }],
      }),
  },
  {
    name: 'upload failing the schema',
    fast: true,
    method: 'POST',
    url: () => '/api/v1/results/upload',
    headers: () => ({ ...bearer(a), ...json }),
    payload: () => JSON.stringify({ results: [{ id: 'not-a-uuid', result: {} }] }),
  },
  {
    name: 'upload, empty batch',
    fast: true,
    method: 'POST',
    url: () => '/api/v1/results/upload',
    headers: () => ({ ...bearer(a), ...json }),
    payload: () => '{"results":[]}',
  },
  {
    name: 'upload, invalid JSON',
    fast: true,
    method: 'POST',
    url: () => '/api/v1/results/upload',
    headers: () => ({ ...bearer(a), ...json }),
    payload: () => '{"results":[',
  },
  {
    name: 'upload, unknown credential',
    fast: true,
    method: 'POST',
    url: () => '/api/v1/results/upload',
    headers: () => ({ authorization: 'Bearer rkd_nobody', ...json }),
    payload: () => JSON.stringify({ results: [result()] }),
  },
  {
    name: 'upload with a query',
    fast: false,
    method: 'POST',
    url: () => `/api/v1/results/upload?device_id=${a.id}`,
    headers: () => ({ ...bearer(a), ...json }),
    payload: () => JSON.stringify({ results: [result()] }),
  },
];

/** config fields drawn at random per check-in (the schedule's jitter) */
const JITTERED = new Set(['actual_interval_seconds', 'next_check_in', 'next_checkin_at', 'next_checkin_seconds']);

/** Status, content type and body with ids made comparable (request ids and result ids differ per run). */
function normal(r: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  const body = r.body.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'ID');
  return {
    status: r.statusCode,
    type: r.headers['content-type'],
    retryAfter: r.headers['retry-after'],
    requestId: typeof r.headers['x-request-id'],
    body: body.startsWith('{') ? JSON.parse(body, (k, v: unknown) => (JITTERED.has(k) ? 'T' : v)) : body,
  };
}

describe('agent path', () => {
  for (const c of cases) {
    it(`${c.name}: ${c.fast ? 'answered by the agent path' : 'left to Fastify'}, as Fastify answers it`, async () => {
      const o = () => ({ method: c.method, url: c.url(), headers: c.headers?.(), payload: c.payload?.() });
      const viaFastify = normal(await h.app.inject(o()));
      taken.length = 0;
      const viaServer = normal(await inject(h.handler, o()));
      expect(taken).toEqual([c.fast]);
      expect(viaServer).toEqual(viaFastify);
      expect(viaServer.requestId).toBe('string');
    });
  }

  it('keeps a given X-Request-Id and records the request in the metrics under its route', async () => {
    const r = await inject(h.handler, {
      method: 'POST',
      url: hb(),
      headers: { ...bearer(a), ...json, 'x-request-id': 'agent-7.hb' },
      payload: '{}',
    });
    expect(r.statusCode).toBe(200);
    expect(r.headers['x-request-id']).toBe('agent-7.hb');
    const metrics = (await inject(h.handler, { method: 'GET', url: '/metrics' })).body;
    const line = metrics
      .split('\n')
      .find((l) =>
        l.startsWith(
          'rookery_http_request_duration_seconds_count{method="POST",route="/api/v1/enrollment/devices/:device_id/heartbeat",status="2xx"}',
        ),
      );
    expect(Number(line?.split(' ')[1])).toBeGreaterThan(1);
    expect(metrics).toMatch(/^rookery_results_uploaded_total [1-9]/m);
    expect(metrics).toMatch(
      /^rookery_http_agent_path_requests_total\{route="\/api\/v1\/enrollment\/devices\/:device_id\/heartbeat"\} [1-9]/m,
    );
  });

  it('leaves every request to Fastify once the app is closing', async () => {
    const base = appBase(h.app);
    base.closing = true;
    try {
      taken.length = 0;
      await inject(h.handler, { method: 'POST', url: hb(), headers: { ...bearer(a), ...json }, payload: '{}' });
      expect(taken).toEqual([false]);
    } finally {
      base.closing = false;
    }
  });
});
