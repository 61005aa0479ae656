// Fleet summary per child OU: device counts by status, open alerts, failing series; scoped.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../../testing/harness.js';
import { tcpEnvelope } from '../../testing/result-rows.js';

let h: Harness;
const ou = { corp: 0, eng: 0, ops: 0 };

beforeAll(async () => {
  h = await createHarness();
  ou.corp = await h.createOu('Corp');
  ou.eng = await h.createOu('Eng', ou.corp);
  ou.ops = await h.createOu('Ops', ou.corp);
  const team = await h.createOu('Team', ou.eng);
  const enroll = async (ouId: number, serial: string) =>
    (await h.enroll((await h.createSecret(ouId)).secret, serial)).body;
  const a = await enroll(team, 'f-a');
  await enroll(ou.eng, 'f-b');
  await enroll(ou.ops, 'f-c');
  await enroll(ou.corp, 'f-d');
  await sql`UPDATE devices SET status = 'offline' WHERE serial = 'f-c'`.execute(h.tdb.db);
  const r = (ok: boolean, target: string) => tcpEnvelope({ ok, target });
  await h.req('POST', '/api/v1/results/upload', {
    headers: { authorization: `Bearer ${a.device_credential}` },
    body: { results: [r(false, 'x:1'), r(false, 'x:1'), r(false, 'x:1'), r(true, 'y:2')] },
  });
  await h.req('POST', '/api/v1/results/upload', {
    headers: { authorization: `Bearer ${a.device_credential}` },
    body: {
      results: [
        r(true, 'tcp://HOST-f-b:22'),
        {
          ...r(true, 'host-f-c'),
          result: { ...r(true, 'host-f-c').result, kind: 'icmp', metrics: { rtt: { avgMs: 0.4 }, lossPct: 0 } },
        },
      ],
    },
  });
});
afterAll(() => h.close());

describe('fleet summary', () => {
  it('groups a subtree by child OU, descendants counted in', async () => {
    const s = await h.req('GET', `/api/v1/fleet/summary?ou_id=${ou.corp}`, { token: await h.adminToken() });
    expect(s.status).toBe(200);
    expect(s.body.children).toEqual([
      {
        ou_id: null,
        name: null,
        devices: 1,
        online: 1,
        offline: 0,
        alerts_warning: 0,
        alerts_critical: 0,
        series: 0,
        series_failing: 0,
      },
      {
        ou_id: ou.eng,
        name: 'Eng',
        devices: 2,
        online: 2,
        offline: 0,
        alerts_warning: 0,
        alerts_critical: 1,
        series: 4,
        series_failing: 1,
      },
      {
        ou_id: ou.ops,
        name: 'Ops',
        devices: 1,
        online: 0,
        offline: 1,
        alerts_warning: 0,
        alerts_critical: 0,
        series: 0,
        series_failing: 0,
      },
    ]);
    const roots = await h.req('GET', '/api/v1/fleet/summary', { token: await h.adminToken() });
    expect(roots.body.children).toMatchObject([{ ou_id: ou.corp, devices: 4 }]);
  });

  it('is scoped: an ou_reporter of Ops sees Ops and gets 404 for Eng', async () => {
    await h.createUser('opsrep', 'ou_reporter', ou.ops);
    const t = await h.login('opsrep', 'opsrep-password-123');
    expect((await h.req('GET', `/api/v1/fleet/summary?ou_id=${ou.eng}`, { token: t })).status).toBe(404);
    const own = await h.req('GET', '/api/v1/fleet/summary', { token: t });
    expect(own.body).toMatchObject({ ou_id: ou.ops, children: [{ ou_id: null, devices: 1, offline: 1 }] });
  });
});

describe('fleet summary follows moves and deletions', () => {
  const counts = async (ouId: number) =>
    (await h.req('GET', `/api/v1/fleet/summary?ou_id=${ouId}`, { token: await h.adminToken() })).body.children.map(
      (c: any) => `${c.name}:${c.devices}/${c.series}/${c.series_failing}`,
    );
  const upload = (credential: string, ok: boolean[]) =>
    h.req('POST', '/api/v1/results/upload', {
      headers: { authorization: `Bearer ${credential}` },
      body: {
        results: ok.map((o, i) => tcpEnvelope({ target: `m${i}:1`, ok: o })),
      },
    });

  it('counts a moved or re-enrolled device’s series in its new OU, and a deleted one’s nowhere', async () => {
    const root = await h.createOu('Moves');
    const m1 = await h.createOu('M1', root);
    const m2 = await h.createOu('M2', root);
    const dev = (await h.enroll((await h.createSecret(m1)).secret, 'mv-a')).body;
    expect((await upload(dev.device_credential, [true, false])).status).toBe(200);
    expect(await counts(root)).toEqual(['M1:1/2/1']);

    const admin = await h.adminToken();
    const moved = await h.req('PATCH', `/api/v1/devices/${dev.device_id}`, { token: admin, body: { ou_id: m2 } });
    expect(moved.status).toBe(200);
    expect(await counts(root)).toEqual(['M2:1/2/1']);

    // re-enrolling the same serial with a secret of another OU moves it too
    await h.enroll((await h.createSecret(m1)).secret, 'mv-a');
    expect(await counts(root)).toEqual(['M1:1/2/1']);

    expect((await h.req('DELETE', `/api/v1/devices/${dev.device_id}`, { token: admin })).status).toBe(204);
    expect(await counts(root)).toEqual([]);
    const left = await sql<{
      n: number;
    }>`SELECT count(*)::int AS n FROM result_latest WHERE device_id = ${dev.device_id}`.execute(h.tdb.db);
    expect(left.rows[0]?.n).toBe(0);
  });

  it('summarises the roots for a global role, with names', async () => {
    const s = await h.req('GET', '/api/v1/fleet/summary', { token: await h.adminToken() });
    expect(s.status).toBe(200);
    expect(s.body).toMatchObject({ ou_id: null, children: [{ ou_id: ou.corp, name: 'Corp', devices: 4, series: 4 }] });
  });
});

describe('mesh', () => {
  it('pairs results whose target is another device’s hostname', async () => {
    const m = await h.req('GET', '/api/v1/results/mesh', { token: await h.adminToken() });
    expect(m.status).toBe(200);
    expect(m.body.cells.map((c: any) => `${c.source}>${c.dest}:${c.kind}:${c.latency_ms}`)).toEqual([
      'host-f-a>host-f-b:tcp:1',
      'host-f-a>host-f-c:icmp:0.4',
    ]);
    const icmp = await h.req('GET', '/api/v1/results/mesh?kind=icmp', { token: await h.adminToken() });
    expect(icmp.body.cells).toHaveLength(1);
  });

  it('shows only pairs whose two ends are in scope', async () => {
    const t = await h.login('opsrep', 'opsrep-password-123');
    expect((await h.req('GET', '/api/v1/results/mesh', { token: t })).body.cells).toEqual([]);
    expect((await h.req('GET', `/api/v1/results/mesh?ou_id=${ou.eng}`, { token: t })).status).toBe(404);
  });
});
