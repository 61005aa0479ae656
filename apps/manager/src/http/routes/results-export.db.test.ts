// GET /api/v1/results/export: every raw result of a device in a range, oldest first, across pages, as NDJSON or
// CSV; refusals in the error shape before anything is streamed; a bounded number of exports per replica, each
// giving its turn back however its response ends.
import { randomUUID } from 'node:crypto';
import { type ClientRequest, get, type IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';
import inject from 'light-my-request';
import type { AddressInfo } from 'node:net';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../domain/principal.js';
import { CSV_COLUMNS } from '../../domain/result-export.js';
import { createHarness, expectErrorShape, type Harness } from '../../testing/harness.js';

let h: Harness;
let dev: { id: number; credential: string };
let other: { id: number; credential: string };
let ouA = 0;
let ouB = 0;
const PAGE = 3;
const MAX_RUNNING = 2;

const t0 = Date.now() - 3_600_000;
const at = (s: number) => new Date(t0 + s * 1000).toISOString();
const result = (s: number, target: string, o: { ok?: boolean; error?: { code: string; message: string } } = {}) => ({
  id: randomUUID(),
  result: {
    kind: 'icmp',
    target,
    ok: o.ok ?? true,
    startedAt: at(s),
    durationMs: 1000,
    metrics: { rtt: { avgMs: 0.5 + s / 1000 }, jitterMs: 0.1, lossPct: o.ok === false ? 100 : 0 },
    ...(o.error ? { error: o.error } : {}),
  },
});
type Sent = ReturnType<typeof result>;

/** 11 results over two series; results sharing a start time straddle the 3-row pages (the keyset orders by id too) */
const sent: Sent[] = [
  ...[0, 1, 2, 2, 3, 4, 4, 4, 6, 7].map((s, k) => result(s, k % 2 ? 'exp-b' : 'exp-a')),
  result(8, '=cmd|"/c calc"!A1', { ok: false, error: { code: 'timeout', message: 'no reply, "at all"\r\nnone' } }),
];
/** oldest first; equal start times by id */
const order = (rs: Sent[]) =>
  [...rs].sort((a, b) =>
    a.result.startedAt === b.result.startedAt
      ? a.id.localeCompare(b.id)
      : a.result.startedAt.localeCompare(b.result.startedAt),
  );

const exportOf = async (query: string, token?: string) =>
  h.req('GET', `/api/v1/results/export?${query}`, { token: token ?? (await h.adminToken()) });
const ndjson = (text: string) =>
  text
    .split('\n')
    .filter((l, i, all) => l !== '' || i < all.length - 1)
    .map((l) => JSON.parse(l) as { id: string; device_id: number; started_at: string; target: string });

beforeAll(async () => {
  h = await createHarness(
    {},
    { exportLimits: { pageRows: PAGE, devicePage: 2, maxRunning: MAX_RUNNING, retryAfter: 5 } },
  );
  ouA = await h.createOu('ExportA');
  ouB = await h.createOu('ExportB');
  const a = await h.enroll((await h.createSecret(ouA)).secret, 'export-a');
  const b = await h.enroll((await h.createSecret(ouB)).secret, 'export-b');
  dev = { id: a.body.device_id, credential: a.body.device_credential };
  other = { id: b.body.device_id, credential: b.body.device_credential };
  const up = await h.req('POST', '/api/v1/results/upload', {
    headers: { authorization: `Bearer ${dev.credential}` },
    body: { results: sent },
  });
  expect(up.body).toMatchObject({ stored: sent.length });
});
afterAll(() => h.close());

let reporterToken: string | undefined;
/** a reporter of OU B */
const reporterB = async () => {
  if (!reporterToken) {
    await h.createUser('export-reporter-b', 'ou_reporter', ouB);
    reporterToken = await h.login('export-reporter-b', 'export-reporter-b-password-123');
  }
  return reporterToken;
};
const now = () => encodeURIComponent(new Date().toISOString());
const since = () => `since=${encodeURIComponent(at(-1))}`;

describe('export', () => {
  it('streams every result once, oldest first, across pages, as NDJSON by default', async () => {
    const r = await exportOf(`device_id=${dev.id}&${since()}`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/x-ndjson; charset=utf-8');
    expect(String(r.headers['content-disposition'])).toMatch(
      new RegExp(`^attachment; filename="results-device-${dev.id}-\\d{8}T\\d{6}Z-\\d{8}T\\d{6}Z\\.ndjson"$`),
    );
    const rows = ndjson(r.text);
    expect(rows.map((x) => x.id)).toEqual(order(sent).map((x) => x.id));
    const failed = rows.find((x) => x.id === sent[10]?.id);
    expect(failed).toMatchObject({
      device_id: dev.id,
      ok: false,
      target: '=cmd|"/c calc"!A1',
      error: { code: 'timeout', message: 'no reply, "at all"\r\nnone' },
      metrics: sent[10]?.result.metrics,
      started_at: at(8),
    });
  });

  it('as CSV: a header, then one record per result with the same cells, formula-like text defused', async () => {
    const r = await exportOf(`device_id=${dev.id}&${since()}&format=csv`);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/csv; charset=utf-8; header=present');
    const text = r.text;
    expect(text.startsWith(`${CSV_COLUMNS.join(',')}\r\n`)).toBe(true);
    const records = text.slice(0, -2).split(/\r\n(?=[0-9a-f]{8}-)/);
    expect(records).toHaveLength(sent.length + 1);
    expect(records.slice(1).map((l) => l.split(',')[0])).toEqual(order(sent).map((x) => x.id));
    const last = records[records.length - 1] as string;
    expect(last).toContain(`,"'=cmd|""/c calc""!A1",`);
    expect(last).toContain(`,false,timeout,"no reply, ""at all""\r\nnone",`);
  });

  it('gzip-compressed when the client accepts it, the same bytes once inflated', async () => {
    const url = `/api/v1/results/export?device_id=${dev.id}&${since()}&format=csv`;
    const plain = await exportOf(url.split('?')[1] as string);
    const headers = { authorization: `Bearer ${await h.adminToken()}` };
    const gz = await inject(h.handler, { method: 'GET', url, headers: { ...headers, 'accept-encoding': 'br, gzip' } });
    expect(gz.statusCode).toBe(200);
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers.vary).toBe('accept-encoding');
    expect(gunzipSync(gz.rawPayload).toString('utf8')).toBe(plain.text);
    const refused = await inject(h.handler, {
      method: 'GET',
      url,
      headers: { ...headers, 'accept-encoding': 'gzip;q=0' },
    });
    expect(refused.headers['content-encoding']).toBeUndefined();
    expect(refused.body).toBe(plain.text);
  });

  it('filters by range, series and outcome like the raw listing', async () => {
    const range = `since=${encodeURIComponent(at(3))}&until=${encodeURIComponent(at(6))}`;
    const inRange = sent.filter((x) => x.result.startedAt >= at(3) && x.result.startedAt < at(6));
    expect(inRange).toHaveLength(4);
    expect(ndjson((await exportOf(`device_id=${dev.id}&${range}`)).text).map((x) => x.id)).toEqual(
      order(inRange).map((x) => x.id),
    );
    const b = ndjson((await exportOf(`device_id=${dev.id}&${since()}&target=exp-b&kind=icmp`)).text);
    expect(b.map((x) => x.id)).toEqual(order(sent.filter((x) => x.result.target === 'exp-b')).map((x) => x.id));
    expect(ndjson((await exportOf(`device_id=${dev.id}&${since()}&ok=false`)).text)).toHaveLength(1);
    // nothing in range: an empty body (CSV: the header alone)
    expect((await exportOf(`device_id=${dev.id}&${since()}&kind=tcp`)).text).toBe('');
    expect((await exportOf(`device_id=${dev.id}&${since()}&kind=tcp&format=csv`)).text).toBe(
      `${CSV_COLUMNS.join(',')}\r\n`,
    );
    // the default range is the last 24 h
    expect(ndjson((await exportOf(`device_id=${dev.id}`)).text)).toHaveLength(sent.length);
  });

  it('refuses another OU’s device, bad parameters and anonymous callers in the error shape, streaming nothing', async () => {
    const token = await reporterB();
    expect((await exportOf(`device_id=${other.id}`, token)).status).toBe(200);
    const now = new Date().toISOString();
    for (const [query, status] of [
      [`device_id=${dev.id}`, 404],
      ['device_id=99999999', 404],
      ['', 400],
      [`device_id=${dev.id}&format=xlsx`, 400],
      [`device_id=${dev.id}&since=${now}&until=${now}`, 400],
      [`device_id=${dev.id}&since=yesterday`, 400],
      [`device_id=${dev.id}&ok=maybe`, 400],
      [`device_id=${dev.id}&limit=10`, 400],
    ] as const) {
      const r = await exportOf(query, status === 404 && query.includes(String(dev.id)) ? token : undefined);
      expect(r.status, query).toBe(status);
      expectErrorShape(r);
    }
    const anonymous = await h.req('GET', `/api/v1/results/export?device_id=${dev.id}`);
    expect(anonymous.status).toBe(401);
    expectErrorShape(anonymous);
    expect(h.deps.results.exportsRunning).toBe(0);
  });

  it('of an OU subtree: every device in scope, by device id, each oldest first, across pages of devices', async () => {
    const child = await h.createOu('ExportA1', ouA);
    const secret = (await h.createSecret(child)).secret;
    const more: { id: number; sent: Sent[] }[] = [];
    for (const [serial, n] of [
      ['export-c1', 2],
      ['export-c2', 0],
      ['export-c3', 4],
    ] as const) {
      const e = await h.enroll(secret, serial);
      const rs = Array.from({ length: n }, (_, k) => result(10 + (k % 2), `c-${k}`));
      if (n)
        expect(
          (
            await h.req('POST', '/api/v1/results/upload', {
              headers: { authorization: `Bearer ${e.body.device_credential}` },
              body: { results: rs },
            })
          ).body,
        ).toMatchObject({ stored: n });
      more.push({ id: e.body.device_id, sent: rs });
    }
    const whole = ndjson((await exportOf(`ou_id=${ouA}&${since()}`)).text);
    const expected = [{ id: dev.id, sent }, ...more]
      .sort((a, b) => a.id - b.id)
      .flatMap((d) => order(d.sent).map((r) => [d.id, r.id]));
    expect(whole.map((r) => [r.device_id, r.id])).toEqual(expected);
    const sub = await exportOf(`ou_id=${child}&${since()}&format=csv`);
    expect(sub.status).toBe(200);
    expect(String(sub.headers['content-disposition'])).toContain(`filename="results-ou-${child}-`);
    expect(sub.text.split('\r\n').filter(Boolean)).toHaveLength(1 + 6);
    // another OU's subtree is 404, both or neither of device_id and ou_id 400
    expect((await exportOf(`ou_id=${ouB}`, await reporterB())).status).toBe(200);
    expect((await exportOf(`ou_id=${ouA}`, await reporterB())).status).toBe(404);
    for (const bad of [`ou_id=${ouA}&device_id=${dev.id}`, `ou_id=0`, `since=${now()}`]) {
      const r = await exportOf(bad);
      expect(r.status, bad).toBe(400);
      expectErrorShape(r);
    }
    expect(h.deps.results.exportsRunning).toBe(0);
  });

  it(`runs at most ${MAX_RUNNING} at once: one more is 429 with Retry-After, and each gives its turn back`, async () => {
    const p: Principal = { userId: '1', username: 'admin', role: 'global_admin', ouId: null, ouPath: null, via: 'jwt' };
    const running = await Promise.all(
      Array.from({ length: MAX_RUNNING }, () => h.deps.results.startExport(p, { device_id: String(dev.id) })),
    );
    expect(h.deps.results.exportsRunning).toBe(MAX_RUNNING);
    const refused = await exportOf(`device_id=${dev.id}`);
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('5');
    expectErrorShape(refused);
    running[0]?.close();
    running[0]?.close(); // idempotent
    expect(h.deps.results.exportsRunning).toBe(MAX_RUNNING - 1);
    expect((await exportOf(`device_id=${dev.id}&${since()}`)).status).toBe(200);
    running[1]?.close();
    // a streamed export ends its turn when its stream closes, just after the last byte
    await expect.poll(() => h.deps.results.exportsRunning).toBe(0);
    // HEAD (Fastify's, for every GET): the headers, no body, and the turn given back
    const head = await h.req('HEAD', `/api/v1/results/export?device_id=${dev.id}&format=csv`, {
      token: await h.adminToken(),
    });
    expect(head.status).toBe(200);
    expect(head.headers['content-type']).toBe('text/csv; charset=utf-8; header=present');
    expect(head.text).toBe('');
    await expect.poll(() => h.deps.results.exportsRunning).toBe(0);
  });
});

describe('an export that does not finish', () => {
  let big: Harness;
  let device = 0;
  let url = '';
  const ROWS = 40_000;

  beforeAll(async () => {
    big = await createHarness({}, { exportLimits: { pageRows: 500, maxRunning: 1, retryAfter: 5 } });
    const ou = await big.createOu('ExportBig');
    device = (await big.enroll((await big.createSecret(ou)).secret, 'export-big')).body.device_id;
    // about 1 kB a row: 40 MB, far more than loopback's socket buffers hold for a client that stopped reading
    await sql`INSERT INTO results (id, device_id, ou_id, kind, target, started_at, duration_ms, ok, metrics)
      SELECT gen_random_uuid(), ${device}, ${ou}, 'http', 'https://example.com/', now() - make_interval(secs => i),
        12.5, true, json_build_object('body', repeat('x', 1000), 'i', i)
      FROM generate_series(1, ${ROWS}) AS i`.execute(big.tdb.db);
    await big.app.listen({ port: 0, host: '127.0.0.1' });
    url = `http://127.0.0.1:${(big.app.server.address() as AddressInfo).port}/api/v1/results/export?device_id=${device}`;
  });
  afterAll(() => big.close());

  /**
   * Starts an export and stops reading after its first bytes; `res.resume()` reads on, to the end or the cut.
   * `ended` says whether the response was complete when it closed. It listens from the start: a client socket that
   * still reads (a compressed export's few bytes do not fill its buffer) sees a cut at once, before a test that
   * attached its listener later would hear of it.
   */
  const stalled = async (o: { gzip?: boolean } = {}) => {
    const token = await big.adminToken();
    type Stalled = { res: IncomingMessage; req: ClientRequest; bytes: () => number; ended: Promise<boolean> };
    return new Promise<Stalled>((resolve, reject) => {
      let bytes = 0;
      const headers = { authorization: `Bearer ${token}`, ...(o.gzip ? { 'accept-encoding': 'gzip' } : {}) };
      const req = get(url, { headers }, (res) => {
        if (res.statusCode !== 200 || res.headers['content-encoding'] !== (o.gzip ? 'gzip' : undefined)) {
          // said, not thrown here: an assertion thrown in this callback would leave the test waiting for its timeout
          const body: Buffer[] = [];
          res.on('data', (c: Buffer) => body.push(c));
          res.on('end', () =>
            reject(
              new Error(
                `export answered ${res.statusCode} (${JSON.stringify(res.headers)}): ${Buffer.concat(body).toString()}; ` +
                  `the manager logged: ${big.loggedErrors().join('\n')}`,
              ),
            ),
          );
          return;
        }
        const ended = new Promise<boolean>((resolveEnded) => {
          res.on('error', () => undefined);
          res.once('close', () => resolveEnded(res.complete));
        });
        res.on('data', (c: Buffer) => {
          bytes += c.length;
        });
        res.once('data', () => {
          res.pause();
          resolve({ res, req, bytes: () => bytes, ended });
        });
      });
      req.on('error', (err) => (err.message === 'socket hang up' ? undefined : reject(err)));
    });
  };

  it('keeps its turn while the client is slow, and gives it back when the client goes away', async () => {
    const a = await stalled();
    await new Promise((r) => setTimeout(r, 200));
    expect(big.deps.results.exportsRunning).toBe(1);
    expect((await big.req('GET', '/metrics')).text).toMatch(/^rookery_result_exports_running 1$/m);
    const refused = await big.req('GET', `/api/v1/results/export?device_id=${device}`, {
      token: await big.adminToken(),
    });
    expect(refused.status).toBe(429);
    a.req.destroy();
    await expect.poll(() => big.deps.results.exportsRunning, { timeout: 5000 }).toBe(0);
    expect((await big.req('GET', '/metrics')).text).toMatch(/^rookery_result_exports_running 0$/m);
  });

  it.each([
    ['', false],
    [', gzip-compressed too', true],
  ])(
    'a page that fails after rows were sent cuts the response short (no complete-looking file) and ends the turn%s',
    async (_name, gzip) => {
      const a = await stalled({ gzip });
      await sql`ALTER TABLE results RENAME TO results_away`.execute(big.tdb.db);
      try {
        a.res.resume();
        // bounded, so that the table is put back however this goes
        let timer: NodeJS.Timeout | undefined;
        const complete = await Promise.race([
          a.ended,
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('the response did not close in 10 s')), 10_000);
          }),
        ]).finally(() => clearTimeout(timer));
        expect(complete).toBe(false);
        expect(a.bytes()).toBeLessThan(ROWS * 1000);
      } finally {
        await sql`ALTER TABLE results_away RENAME TO results`.execute(big.tdb.db);
      }
      await expect.poll(() => big.deps.results.exportsRunning, { timeout: 5000 }).toBe(0);
      // and the next export runs to its end
      const all = await big.req('GET', `/api/v1/results/export?device_id=${device}&format=csv`, {
        token: await big.adminToken(),
      });
      expect(all.status).toBe(200);
      expect(all.text.split('\r\n').length).toBe(ROWS + 2);
    },
  );

  it('shutdown cuts a running export short instead of waiting for a client that stopped reading', async () => {
    const a = await stalled();
    // what the manager's stop does first; the close below would wait for the export's client otherwise
    big.deps.results.stopExports();
    await expect.poll(() => big.deps.results.exportsRunning, { timeout: 5000 }).toBe(0);
    // the client, reading on (a paused socket does not notice that it was closed), finds the response cut short
    a.res.resume();
    expect(await a.ended).toBe(false);
    const refused = await big.req('GET', `/api/v1/results/export?device_id=${device}`, {
      token: await big.adminToken(),
    });
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('2');
    expectErrorShape(refused);
    let closed = false;
    await Promise.race([big.app.close().then(() => (closed = true)), new Promise((r) => setTimeout(r, 10_000))]);
    expect(closed).toBe(true);
  });
});
