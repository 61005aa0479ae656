// Fleet summary per child OU: device counts by status, open alerts, failing series; scoped.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../../testing/harness.js';

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
  const r = (ok: boolean, target: string) => ({
    id: randomUUID(),
    result: { kind: 'tcp', target, ok, startedAt: new Date().toISOString(), durationMs: 1, metrics: { connectMs: 1 } },
  });
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
