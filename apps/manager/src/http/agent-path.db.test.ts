// The agent path answers exactly as the Fastify routes do: every case runs through Fastify alone
// (`app.inject`) and through the server's own handler (agent path first), and the answers must match.
import inject from 'light-my-request';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../testing/harness.js';
import { tcpEnvelope } from '../testing/result-rows.js';
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

const result = () => tcpEnvelope({ connectMs: 0.2 });

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
const upload = () => '/api/v1/results/upload';
const nobody = { authorization: 'Bearer rkd_nobody' };

/** A POST as device `a` sends it (its credential, a JSON body), but for what `over` changes. */
const post = (
  name: string,
  fast: boolean,
  url: () => string,
  payload: string | (() => string) | undefined,
  over: Partial<Case> = {},
): Case => ({
  name,
  fast,
  method: 'POST',
  url,
  headers: () => ({ ...bearer(a), ...json }),
  ...(payload === undefined ? {} : { payload: typeof payload === 'string' ? () => payload : payload }),
  ...over,
});

/** A config check-in by device `a`, unless `headers` says otherwise. */
const checkIn = (name: string, fast: boolean, url: string, headers = () => bearer(a)): Case => ({
  name,
  fast,
  method: 'GET',
  url: () => url,
  headers,
});
const CONFIG = '/api/v1/enrollment/config?device_serial=parity-a';

const cases: Case[] = [
  post('heartbeat', true, hb, '{"agent_state":"enrolled","config_version":3,"spool_backlog":0}'),
  post('heartbeat, empty object, version header, charset', true, hb, '{}', {
    headers: () => ({ ...bearer(a), 'content-type': 'application/json; charset=utf-8', 'x-api-version': '1' }),
  }),
  post('heartbeat, unknown field', true, hb, '{"agent_state":"enrolled","extra":1}'),
  post('heartbeat, wrong type', true, hb, '{"spool_backlog":"many"}'),
  post('heartbeat, out of range', true, hb, '{"config_version":2147483648}'),
  post('heartbeat, null body', true, hb, 'null'),
  post('heartbeat, invalid JSON', true, hb, '{"agent_state":'),
  post('heartbeat, prototype poisoning', true, hb, '{"__proto__":{"admin":true}}'),
  post("heartbeat for another device's id", true, () => `/api/v1/enrollment/devices/${b.id}/heartbeat`, '{}'),
  post('heartbeat, unknown credential', true, hb, '{}', { headers: () => ({ ...nobody, ...json }) }),
  post('heartbeat, no credential', false, hb, '{}', { headers: () => json }),
  post('heartbeat, another API version', false, hb, '{}', {
    headers: () => ({ ...bearer(a), ...json, 'x-api-version': '2' }),
  }),
  post('heartbeat, text body', false, hb, 'hello', { headers: () => ({ ...bearer(a), 'content-type': 'text/plain' }) }),
  post('heartbeat, no body', false, hb, undefined, { headers: () => bearer(a) }),
  post('heartbeat, id beyond 2^53', false, () => '/api/v1/enrollment/devices/9999999999999999/heartbeat', '{}'),
  post('heartbeat, body over the limit', false, hb, () => `{"agent_state":"${'x'.repeat(1_100_000)}"}`),
  checkIn('config check-in', true, CONFIG),
  checkIn('config check-in, unknown credential', true, CONFIG, () => nobody),
  checkIn('config check-in, encoded serial', false, '/api/v1/enrollment/config?device_serial=parity%2Da'),
  checkIn('config check-in, no serial', false, '/api/v1/enrollment/config'),
  post('upload', true, upload, () => JSON.stringify({ results: [result(), result()] })),
  post('upload with a record the manager rejects', true, upload, () =>
    JSON.stringify({
      results: [result(), { ...result(), result: { ...result().result, startedAt: '2001-01-01T00:00:00Z' } }],
    }),
  ),
  post('upload failing the schema', true, upload, () =>
    JSON.stringify({ results: [{ id: 'not-a-uuid', result: {} }] }),
  ),
  post('upload, empty batch', true, upload, '{"results":[]}'),
  post('upload, invalid JSON', true, upload, '{"results":['),
  post('upload, unknown credential', true, upload, () => JSON.stringify({ results: [result()] }), {
    headers: () => ({ ...nobody, ...json }),
  }),
  post(
    'upload with a query',
    false,
    () => `/api/v1/results/upload?device_id=${a.id}`,
    () => JSON.stringify({ results: [result()] }),
  ),
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
