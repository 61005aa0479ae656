// Seed 000 enrollment and check-in, with QUALITY.md's enrollment and auth faults.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { createHarness, expectErrorShape, type Harness } from '../../testing/harness.js';

let h: Harness;
let ouA = 0;
let ouB = 0;
beforeAll(async () => {
  h = await createHarness({}, { enrollmentLimits: { perIpPerMinute: 10_000, perSecretPerMinute: 10_000 } });
  ouA = await h.createOu('Engineering');
  ouB = await h.createOu('Sales');
});
afterAll(() => h.close());

const deviceCount = async (serial: string) =>
  Number(
    (await sql<{ n: string }>`SELECT count(*) AS n FROM devices WHERE serial = ${serial}`.execute(h.tdb.db)).rows[0]?.n,
  );
const cred = (t: string) => ({ authorization: `Bearer ${t}` });
const checkIn = (serial: string, credential?: string) =>
  h.req('GET', `/api/v1/enrollment/config?device_serial=${encodeURIComponent(serial)}`, {
    headers: credential ? cred(credential) : {},
  });

describe('enroll', () => {
  it('returns the seed fields plus a per-device credential; the OU comes from the secret, not the body', async () => {
    const { secret } = await h.createSecret(ouA);
    const r = await h.enroll(secret, 'dev-1', { ou_id: ouB });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ message: 'Device enrolled successfully', ou_id: ouA });
    expect(typeof r.body.device_id).toBe('number');
    expect(r.body.device_credential).toMatch(/^rkd_[A-Za-z0-9_-]{43}$/);
    const dev = await h.req('GET', `/api/v1/devices/${r.body.device_id}`, { token: await h.adminToken() });
    expect(dev.body).toMatchObject({ ou_id: ouA, serial: 'dev-1', hostname: 'host-dev-1', status: 'online' });
  });

  it.each([
    ['unknown', async () => 'rke_not-a-real-secret'],
    [
      'expired',
      async () => {
        const s = await h.createSecret(ouA, { expires_at: new Date(Date.now() + 2000).toISOString() });
        await sql`UPDATE enrollment_secrets SET expires_at = now() - interval '1 second' WHERE id = ${String(s.id)}`.execute(
          h.tdb.db,
        );
        return s.secret;
      },
    ],
    [
      'revoked',
      async () => {
        const s = await h.createSecret(ouA);
        expect(
          (await h.req('DELETE', `/api/v1/enrollment/secrets/${s.id}`, { token: await h.adminToken() })).status,
        ).toBe(204);
        return s.secret;
      },
    ],
    [
      'used up',
      async () => {
        const s = await h.createSecret(ouA, { max_uses: 1 });
        expect((await h.enroll(s.secret, `first-${s.id}`)).status).toBe(201);
        return s.secret;
      },
    ],
  ])('%s secret → 401 and no device row', async (name, make) => {
    const secret = await make();
    const serial = `rejected-${name}`;
    const r = await h.enroll(secret, serial);
    expect(r.status).toBe(401);
    expect(expectErrorShape(r).error).toBe('invalid_enrollment_secret');
    expect(await deviceCount(serial)).toBe(0);
  });

  it('a single-use secret used concurrently enrolls exactly one device', async () => {
    const { secret } = await h.createSecret(ouA, { max_uses: 1 });
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => h.enroll(secret, `race-${i}`)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401)).toHaveLength(11);
  });

  it('re-enrolling a serial keeps the device id and replaces the credential', async () => {
    const { secret } = await h.createSecret(ouA);
    const a = await h.enroll(secret, 'reenroll');
    const b = await h.enroll(secret, 'reenroll');
    expect(b.body.device_id).toBe(a.body.device_id);
    expect((await checkIn('reenroll', a.body.device_credential)).status).toBe(401);
    expect((await checkIn('reenroll', b.body.device_credential)).status).toBe(200);
  });

  it('concurrent enrolls of one serial give one device', async () => {
    const { secret } = await h.createSecret(ouA);
    const rs = await Promise.all(Array.from({ length: 6 }, () => h.enroll(secret, 'same-serial')));
    expect(rs.every((r) => r.status === 201)).toBe(true);
    expect(new Set(rs.map((r) => r.body.device_id)).size).toBe(1);
    expect(await deviceCount('same-serial')).toBe(1);
  });

  it('honours the per-OU device cap', async () => {
    const ou = await h.createOu('Capped');
    await h.req('PATCH', `/api/v1/ous/${ou}`, { token: await h.adminToken(), body: { device_cap: 1 } });
    const { secret } = await h.createSecret(ou);
    expect((await h.enroll(secret, 'cap-1')).status).toBe(201);
    const r = await h.enroll(secret, 'cap-2');
    expect(r.status).toBe(409);
    expect(r.body.error).toBe('device_cap_reached');
    // the device already there may re-enroll
    expect((await h.enroll(secret, 'cap-1')).status).toBe(201);
  });

  it('refuses another agent API version with 426', async () => {
    const { secret } = await h.createSecret(ouA);
    const r = await h.req('POST', '/api/v1/enrollment/enroll', {
      headers: { 'x-api-version': '99' },
      body: {
        secret,
        device_serial: 'v99',
        device_hostname: 'h',
        device_os: 'Linux',
        device_os_version: '1',
        client_type: 't',
        client_version: '1',
      },
    });
    expect(r.status).toBe(426);
  });

  it('rate-limits enrollment per IP with 429 and Retry-After', async () => {
    const t = await createHarness({}, { enrollmentLimits: { perIpPerMinute: 3, perSecretPerMinute: 1000 } });
    try {
      const codes: number[] = [];
      for (let i = 0; i < 5; i++) codes.push((await t.enroll('rke_wrong', `rl-${i}`)).status);
      expect(codes).toEqual([401, 401, 401, 429, 429]);
      const r = await t.enroll('rke_wrong', 'rl-x');
      expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await t.close();
    }
  });
});

describe('config check-in and heartbeat', () => {
  let device: { id: number; credential: string; serial: string };
  let other: { id: number; credential: string; serial: string };
  beforeAll(async () => {
    const { secret } = await h.createSecret(ouA);
    const a = await h.enroll(secret, 'cfg-a');
    const b = await h.enroll(secret, 'cfg-b');
    device = { id: a.body.device_id, credential: a.body.device_credential, serial: 'cfg-a' };
    other = { id: b.body.device_id, credential: b.body.device_credential, serial: 'cfg-b' };
  });

  it('serves exactly the seed shape (plus additions) with draws in range', async () => {
    const r = await checkIn(device.serial, device.credential);
    expect(r.status).toBe(200);
    const b = r.body;
    for (const kind of ['http', 'tcp', 'udp', 'icmp'])
      expect(Object.keys(b.config.tests[kind]).sort()).toEqual(['enabled', 'targets']);
    expect(Object.keys(b.config.schedule).sort()).toEqual([
      'actual_interval_seconds',
      'interval_seconds',
      'next_check_in',
      'offset_percent',
    ]);
    expect(Object.keys(b.config.thresholds).sort()).toEqual([
      'jitter_critical_ms',
      'jitter_warning_ms',
      'latency_critical_ms',
      'latency_warning_ms',
      'packet_loss_critical_percent',
      'packet_loss_warning_percent',
    ]);
    for (const k of ['config_name', 'ou_id', 'next_checkin_seconds', 'next_checkin_at']) expect(b).toHaveProperty(k);
    expect(b.ou_id).toBe(ouA);
    expect(b.config.schedule.actual_interval_seconds).toBeGreaterThanOrEqual(255);
    expect(b.config.schedule.actual_interval_seconds).toBeLessThanOrEqual(345);
    expect(b.next_checkin_seconds).toBeGreaterThanOrEqual(1800);
    expect(b.next_checkin_seconds).toBeLessThanOrEqual(3600);
    expect(Math.abs(b.next_checkin_at - (Date.now() / 1000 + b.next_checkin_seconds))).toBeLessThan(5);
  });

  it('requires a credential, and it must be the device’s own', async () => {
    expect((await checkIn(device.serial)).status).toBe(401);
    expect((await checkIn(device.serial, 'rkd_forged')).status).toBe(401);
    expect((await checkIn(device.serial, 'not-even-prefixed')).status).toBe(401);
    // another device's credential for this serial: not found, never this device's data
    expect((await checkIn(device.serial, other.credential)).status).toBe(404);
    const hb = await h.req('POST', `/api/v1/enrollment/devices/${device.id}/heartbeat`, {
      headers: cred(other.credential),
      body: {},
    });
    expect(hb.status).toBe(404);
    expect((await h.req('POST', `/api/v1/enrollment/devices/${device.id}/heartbeat`, { body: {} })).status).toBe(401);
    // a user's token is not a device credential
    expect((await checkIn(device.serial, await h.adminToken())).status).toBe(401);
  });

  it('records heartbeats with the reported state', async () => {
    const r = await h.req('POST', `/api/v1/enrollment/devices/${device.id}/heartbeat`, {
      headers: cred(device.credential),
      body: { agent_state: 'enrolled', config_version: 3, spool_backlog: 7 },
    });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ message: 'Heartbeat recorded' });
    // heartbeats are coalesced: written at the next flush
    await h.deps.enrollment.heartbeats.flush();
    const d = await h.req('GET', `/api/v1/devices/${device.id}`, { token: await h.adminToken() });
    expect(d.body).toMatchObject({ agent_state: 'enrolled', config_version: 3, spool_backlog: 7, status: 'online' });
  });

  it('a deleted device is refused on its next call', async () => {
    const { secret } = await h.createSecret(ouA);
    const e = await h.enroll(secret, 'doomed');
    expect((await checkIn('doomed', e.body.device_credential)).status).toBe(200);
    expect((await h.req('DELETE', `/api/v1/devices/${e.body.device_id}`, { token: await h.adminToken() })).status).toBe(
      204,
    );
    expect((await checkIn('doomed', e.body.device_credential)).status).toBe(401);
    const hb = await h.req('POST', `/api/v1/enrollment/devices/${e.body.device_id}/heartbeat`, {
      headers: cred(e.body.device_credential),
      body: {},
    });
    expect(hb.status).toBe(401);
  });

  it('a credential revoked while change messages were lost is refused once the replica resyncs', async () => {
    const { secret } = await h.createSecret(ouA);
    const e = await h.enroll(secret, 'missed');
    expect((await checkIn('missed', e.body.device_credential)).status).toBe(200);
    // revoked behind this replica's back (another replica's message never arrived): the cache still has it
    await sql`UPDATE devices SET credential_hash = 'gone' WHERE id = ${e.body.device_id}`.execute(h.tdb.db);
    expect((await checkIn('missed', e.body.device_credential)).status).toBe(200);
    h.deps.resync();
    expect((await checkIn('missed', e.body.device_credential)).status).toBe(401);
  });
});

describe('layered configuration', () => {
  let dev: { id: number; credential: string };
  let child = 0;
  beforeAll(async () => {
    child = await h.createOu('Platform', ouA);
    const { secret } = await h.createSecret(child);
    const e = await h.enroll(secret, 'layered');
    dev = { id: e.body.device_id, credential: e.body.device_credential };
  });
  const put = async (url: string, body: unknown) => h.req('PUT', url, { token: await h.adminToken(), body });

  it('merges global → OU chain → device per key, with provenance', async () => {
    expect(
      (
        await put('/api/v1/config/global', {
          name: 'Global',
          doc: { tests: { icmp: { targets: ['127.0.0.1'] } }, thresholds: { latency_warning_ms: 80 } },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await put(`/api/v1/ous/${ouA}/config`, {
          name: 'Engineering Config',
          doc: { tests: { udp: { enabled: true } }, schedule: { interval_seconds: 600 } },
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await put(`/api/v1/ous/${child}/config`, {
          name: 'Platform Config',
          doc: { tests: { http: { targets: ['http://127.0.0.1:8088/'] } } },
        })
      ).status,
    ).toBe(200);
    expect(
      (await put(`/api/v1/devices/${dev.id}/config`, { doc: { tests: { tcp: { enabled: false } } } })).status,
    ).toBe(200);
    const e = await h.req('GET', `/api/v1/devices/${dev.id}/effective-config`, { token: await h.adminToken() });
    expect(e.status).toBe(200);
    expect(e.body.values.tests.icmp.targets).toEqual(['127.0.0.1']);
    expect(e.body.values.tests.udp.enabled).toBe(true);
    expect(e.body.values.schedule.interval_seconds).toBe(600);
    expect(e.body.values.tests.tcp.enabled).toBe(false);
    expect(e.body.provenance).toMatchObject({
      'tests.icmp.targets': 'global',
      'thresholds.latency_warning_ms': 'global',
      'tests.udp.enabled': `ou:${ouA}`,
      'schedule.interval_seconds': `ou:${ouA}`,
      'tests.http.targets': `ou:${child}`,
      'tests.tcp.enabled': `device:${dev.id}`,
      'tests.dns.enabled': 'default',
    });
    const c = await checkIn('layered', dev.credential);
    expect(c.body.config.schedule.interval_seconds).toBe(600);
    expect(c.body.config.schedule.actual_interval_seconds).toBeGreaterThanOrEqual(510);
    expect(c.body.config.schedule.actual_interval_seconds).toBeLessThanOrEqual(690);
    expect(c.body.config_version).toBe(e.body.config_version);
  });

  it('a key locked above cannot be set below (409), and dry runs save nothing', async () => {
    expect(
      (
        await put(`/api/v1/ous/${ouA}/config`, {
          doc: { schedule: { interval_seconds: 600 } },
          locked: ['schedule.interval_seconds'],
        })
      ).status,
    ).toBe(200);
    const r = await put(`/api/v1/devices/${dev.id}/config`, { doc: { schedule: { interval_seconds: 30 } } });
    expect(r.status).toBe(409);
    expect(r.body.error).toBe('key_locked');
    expect(r.body.details.keys).toEqual([{ key: 'schedule.interval_seconds', locked_by: `ou:${ouA}` }]);
    const dry = await h.req('PUT', `/api/v1/ous/${child}/config?dry_run=true`, {
      token: await h.adminToken(),
      body: { doc: { tests: { bogus: {} } } },
    });
    expect(dry.status).toBe(200);
    expect(dry.body.valid).toBe(false);
    expect((await h.req('GET', `/api/v1/ous/${child}/config`, { token: await h.adminToken() })).body.layer.name).toBe(
      'Platform Config',
    );
  });

  it('refuses invalid documents with 400 and the errors, changing nothing', async () => {
    const before = (await h.req('GET', `/api/v1/ous/${child}/config`, { token: await h.adminToken() })).body.layer;
    const r = await put(`/api/v1/ous/${child}/config`, {
      doc: { schedule: { interval_seconds: 5, offset_percent: 90 } },
    });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('invalid_config');
    expect(r.body.details.errors.length).toBeGreaterThanOrEqual(2);
    expect((await h.req('GET', `/api/v1/ous/${child}/config`, { token: await h.adminToken() })).body.layer).toEqual(
      before,
    );
    const v = await h.req('POST', '/api/v1/config/validate', {
      token: await h.adminToken(),
      body: { doc: { thresholds: { latency_warning_ms: 900, latency_critical_ms: 100 } } },
    });
    expect(v.body.valid).toBe(false);
  });

  it('keeps every version in the history and audits changes', async () => {
    const hist = await h.req('GET', `/api/v1/ous/${ouA}/config/history`, { token: await h.adminToken() });
    expect(hist.body.items.length).toBeGreaterThanOrEqual(2);
    expect(hist.body.items[0].version).toBeGreaterThan(hist.body.items[1].version);
    const audit = await h.req('GET', '/api/v1/audit?action=config.update', { token: await h.adminToken() });
    expect(audit.body.items.length).toBeGreaterThanOrEqual(4);
  });

  it('moving a device to another OU changes its layers and raises its config version', async () => {
    const before = (await checkIn('layered', dev.credential)).body;
    const r = await h.req('PATCH', `/api/v1/devices/${dev.id}`, {
      token: await h.adminToken(),
      body: { ou_id: ouB, labels: ['rack-1', 'rack-1'] },
    });
    expect(r.status).toBe(200);
    expect(r.body.labels).toEqual(['rack-1']);
    const after = (await checkIn('layered', dev.credential)).body;
    expect(after.ou_id).toBe(ouB);
    expect(after.config.schedule.interval_seconds).toBe(300);
    expect(after.config_version).toBeGreaterThan(before.config_version);
    const byLabel = await h.req('GET', '/api/v1/devices?label=rack-1', { token: await h.adminToken() });
    expect(byLabel.body.items.map((d: { id: number }) => d.id)).toEqual([dev.id]);
  });

  it('moving an OU gives its devices the new chain and a higher config version at once, cached or not', async () => {
    const mover = await h.createOu('Mover', ouA);
    const { secret } = await h.createSecret(mover);
    const e = await h.enroll(secret, 'in-mover');
    const before = (await checkIn('in-mover', e.body.device_credential)).body; // its credential is now cached
    expect(before.config.schedule.interval_seconds).not.toBe(300);
    const r = await h.req('PATCH', `/api/v1/ous/${mover}`, { token: await h.adminToken(), body: { parent_id: ouB } });
    expect(r.status).toBe(200);
    const after = (await checkIn('in-mover', e.body.device_credential)).body;
    // ouB's layer (interval 300) now applies, and the version went up so the agent applies it
    expect(after.config.schedule.interval_seconds).toBe(300);
    expect(after.config_version).toBeGreaterThan(before.config_version);
  });
});
