// Generated role × endpoint × OU matrix: every role of OU A against every endpoint with OU B's ids.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, expectErrorShape, type Harness } from '../../testing/harness.js';

let h: Harness;
const ids = { A: 0, A1: 0, B: 0, B1: 0, userB: 0, userA: 0, devA: 0, devB: 0, secretB: 0, hookB: 0 };
const tokens: Record<string, string> = {};

/** Routes that are not about OU-owned objects: the caller's own account. */
const NOT_OU_SCOPED = new Set([
  'POST /api/v1/auth/login',
  'POST /api/v1/auth/refresh',
  'POST /api/v1/auth/logout',
  'GET /api/v1/auth/me',
  'POST /api/v1/auth/password',
  'POST /api/v1/auth/totp/setup',
  'POST /api/v1/auth/totp/verify',
  'POST /api/v1/auth/totp/disable',
  'GET /api/v1/api-keys',
  'POST /api/v1/api-keys',
  'DELETE /api/v1/api-keys/{id}',
  'GET /healthz',
  // device-credential routes: tested in enrollment.db.test.ts (another device's id → 404)
  'POST /api/v1/enrollment/enroll',
  'GET /api/v1/enrollment/config',
  'POST /api/v1/enrollment/devices/{device_id}/heartbeat',
  'GET /api/v1/agent/stream',
  // the live feed filters by the viewer's scope: tested in manager.db.test.ts
  'GET /api/v1/stream',
  // fleet-wide, role-gated (global_admin writes): tested below in "fleet-wide routes"
  'GET /api/v1/config/global',
  'PUT /api/v1/config/global',
  'GET /api/v1/config/global/history',
  'POST /api/v1/config/validate',
  'GET /api/v1/settings/fleet',
  'PATCH /api/v1/settings/fleet',
]);

interface Case {
  route: string;
  kind: 'read' | 'write';
  url: () => string;
  body?: () => unknown;
}

const cases: Case[] = [
  { route: 'GET /api/v1/ous/{id}', kind: 'read', url: () => `/api/v1/ous/${ids.B}` },
  { route: 'GET /api/v1/ous/{id}', kind: 'read', url: () => `/api/v1/ous/${ids.B1}` },
  { route: 'GET /api/v1/users/{id}', kind: 'read', url: () => `/api/v1/users/${ids.userB}` },
  {
    route: 'PATCH /api/v1/ous/{id}',
    kind: 'write',
    url: () => `/api/v1/ous/${ids.B}`,
    body: () => ({ name: 'hijacked' }),
  },
  {
    route: 'PATCH /api/v1/ous/{id}',
    kind: 'write',
    url: () => `/api/v1/ous/${ids.A1}`,
    body: () => ({ parent_id: ids.B }),
  },
  { route: 'DELETE /api/v1/ous/{id}', kind: 'write', url: () => `/api/v1/ous/${ids.B1}` },
  {
    route: 'POST /api/v1/ous',
    kind: 'write',
    url: () => '/api/v1/ous',
    body: () => ({ name: 'intruder', parent_id: ids.B }),
  },
  {
    route: 'POST /api/v1/users',
    kind: 'write',
    url: () => '/api/v1/users',
    body: () => ({
      username: `intruder${Math.random().toString(36).slice(2, 8)}`,
      password: 'intruder-password-1',
      role: 'user',
      ou_id: String(ids.B),
    }),
  },
  {
    route: 'PATCH /api/v1/users/{id}',
    kind: 'write',
    url: () => `/api/v1/users/${ids.userB}`,
    body: () => ({ full_name: 'hijacked' }),
  },
  {
    route: 'PATCH /api/v1/users/{id}',
    kind: 'write',
    url: () => `/api/v1/users/${ids.userA}`,
    body: () => ({ ou_id: String(ids.B) }),
  },
  { route: 'DELETE /api/v1/users/{id}', kind: 'write', url: () => `/api/v1/users/${ids.userB}` },
  { route: 'GET /api/v1/devices/{id}', kind: 'read', url: () => `/api/v1/devices/${ids.devB}` },
  { route: 'GET /api/v1/devices/{id}/config', kind: 'read', url: () => `/api/v1/devices/${ids.devB}/config` },
  {
    route: 'GET /api/v1/devices/{id}/config/history',
    kind: 'read',
    url: () => `/api/v1/devices/${ids.devB}/config/history`,
  },
  {
    route: 'GET /api/v1/devices/{id}/effective-config',
    kind: 'read',
    url: () => `/api/v1/devices/${ids.devB}/effective-config`,
  },
  { route: 'GET /api/v1/ous/{id}/config', kind: 'read', url: () => `/api/v1/ous/${ids.B}/config` },
  { route: 'GET /api/v1/ous/{id}/config/history', kind: 'read', url: () => `/api/v1/ous/${ids.B}/config/history` },
  {
    route: 'PUT /api/v1/ous/{id}/config',
    kind: 'write',
    url: () => `/api/v1/ous/${ids.B}/config`,
    body: () => ({ doc: { schedule: { interval_seconds: 60 } } }),
  },
  {
    route: 'PUT /api/v1/devices/{id}/config',
    kind: 'write',
    url: () => `/api/v1/devices/${ids.devB}/config`,
    body: () => ({ doc: { schedule: { interval_seconds: 60 } } }),
  },
  {
    route: 'PATCH /api/v1/devices/{id}',
    kind: 'write',
    url: () => `/api/v1/devices/${ids.devB}`,
    body: () => ({ labels: ['hijacked'] }),
  },
  {
    route: 'PATCH /api/v1/devices/{id}',
    kind: 'write',
    url: () => `/api/v1/devices/${ids.devA}`,
    body: () => ({ ou_id: ids.B }),
  },
  { route: 'DELETE /api/v1/devices/{id}', kind: 'write', url: () => `/api/v1/devices/${ids.devB}` },
  {
    route: 'POST /api/v1/results/upload',
    kind: 'write',
    url: () => `/api/v1/results/upload?device_id=${ids.devB}`,
    body: () => ({
      results: [
        {
          id: crypto.randomUUID(),
          result: {
            kind: 'tcp',
            target: 'x:1',
            ok: true,
            startedAt: new Date().toISOString(),
            durationMs: 1,
            metrics: {},
          },
        },
      ],
    }),
  },
  { route: 'GET /api/v1/results/mesh', kind: 'read', url: () => `/api/v1/results/mesh?ou_id=${ids.B}` },
  { route: 'GET /api/v1/fleet/summary', kind: 'read', url: () => `/api/v1/fleet/summary?ou_id=${ids.B}` },
  { route: 'GET /api/v1/alerts', kind: 'read', url: () => `/api/v1/alerts?device_id=${ids.devB}` },
  { route: 'GET /api/v1/alerts/events', kind: 'read', url: () => `/api/v1/alerts/events?device_id=${ids.devB}` },
  {
    route: 'POST /api/v1/webhooks',
    kind: 'write',
    url: () => '/api/v1/webhooks',
    body: () => ({ ou_id: ids.B, name: 'x', url: 'http://192.0.2.1/' }),
  },
  { route: 'DELETE /api/v1/webhooks/{id}', kind: 'write', url: () => `/api/v1/webhooks/${ids.hookB}` },
  {
    route: 'GET /api/v1/results/series',
    kind: 'read',
    url: () => `/api/v1/results/series?device_id=${ids.devB}&kind=icmp&target=127.0.0.1`,
  },
  { route: 'GET /api/v1/results', kind: 'read', url: () => `/api/v1/results?device_id=${ids.devB}` },
  {
    route: 'GET /api/v1/results/export',
    kind: 'read',
    url: () => `/api/v1/results/export?device_id=${ids.devB}&format=csv`,
  },
  { route: 'GET /api/v1/results/export', kind: 'read', url: () => `/api/v1/results/export?ou_id=${ids.B}` },
  { route: 'GET /api/v1/results/latest', kind: 'read', url: () => `/api/v1/results/latest?device_id=${ids.devB}` },
  { route: 'GET /api/v1/results/latest', kind: 'read', url: () => `/api/v1/results/latest?ou_id=${ids.B}` },
  {
    route: 'POST /api/v1/enrollment/secrets',
    kind: 'write',
    url: () => '/api/v1/enrollment/secrets',
    body: () => ({ ou_id: ids.B, name: 'intruder' }),
  },
  {
    route: 'DELETE /api/v1/enrollment/secrets/{id}',
    kind: 'write',
    url: () => `/api/v1/enrollment/secrets/${ids.secretB}`,
  },
];

/** list endpoints: must answer 200 (or 403 for plain users where documented) without any of B's rows */
const lists: { route: string; url: () => string; leaks: (body: any) => boolean }[] = [
  {
    route: 'GET /api/v1/ous',
    url: () => '/api/v1/ous?limit=500',
    leaks: (b) => b.items.some((o: any) => [ids.B, ids.B1].includes(o.id)),
  },
  { route: 'GET /api/v1/ous', url: () => `/api/v1/ous?parent_id=${ids.B}`, leaks: (b) => b.items.length > 0 },
  {
    route: 'GET /api/v1/users',
    url: () => '/api/v1/users?limit=500',
    leaks: (b) => b.items.some((u: any) => u.id === ids.userB),
  },
  { route: 'GET /api/v1/users', url: () => `/api/v1/users?ou_id=${ids.B}`, leaks: (b) => b.items.length > 0 },
  {
    route: 'GET /api/v1/webhooks',
    url: () => '/api/v1/webhooks',
    leaks: (b) => b.items.some((x: any) => x.id === ids.hookB),
  },
  {
    route: 'GET /api/v1/alerts',
    url: () => '/api/v1/alerts',
    leaks: (b) => b.items.some((x: any) => x.device_id === ids.devB),
  },
  {
    route: 'GET /api/v1/alerts/events',
    url: () => '/api/v1/alerts/events',
    leaks: (b) => b.items.some((x: any) => x.device_id === ids.devB),
  },
  {
    route: 'GET /api/v1/devices',
    url: () => '/api/v1/devices?limit=500',
    leaks: (b) => b.items.some((x: any) => x.id === ids.devB),
  },
  { route: 'GET /api/v1/devices', url: () => `/api/v1/devices?ou_id=${ids.B}`, leaks: (b) => b.items.length > 0 },
  {
    route: 'GET /api/v1/enrollment/secrets',
    url: () => '/api/v1/enrollment/secrets?limit=500',
    leaks: (b) => b.items.some((x: any) => x.id === ids.secretB),
  },
  {
    route: 'GET /api/v1/enrollment/secrets',
    url: () => `/api/v1/enrollment/secrets?ou_id=${ids.B}`,
    leaks: (b) => b.items.length > 0,
  },
  {
    route: 'GET /api/v1/audit',
    url: () => '/api/v1/audit?limit=500',
    leaks: (b) =>
      b.items.some(
        (e: any) =>
          (e.target_type === 'ou' && [String(ids.B), String(ids.B1)].includes(e.target_id)) ||
          (e.target_type === 'user' && e.target_id === String(ids.userB)),
      ),
  },
];

const OU_ROLES = ['ou_admin', 'ou_reporter', 'user'] as const;

beforeAll(async () => {
  h = await createHarness();
  ids.A = await h.createOu('A');
  ids.A1 = await h.createOu('A1', ids.A);
  ids.B = await h.createOu('B');
  ids.B1 = await h.createOu('B1', ids.B);
  ids.userB = await h.createUser('bob', 'user', ids.B);
  ids.userA = await h.createUser('alice', 'user', ids.A1);
  const admin = await h.adminToken();
  ids.hookB = (
    await h.req('POST', '/api/v1/webhooks', {
      token: admin,
      body: { ou_id: ids.B, name: 'b-hook', url: 'http://192.0.2.1/' },
    })
  ).body.id;
  for (const [ou, key] of [
    [ids.A, 'devA'],
    [ids.B, 'devB'],
  ] as const) {
    const sec = await h.req('POST', '/api/v1/enrollment/secrets', {
      token: admin,
      body: { ou_id: ou, name: `s${ou}` },
    });
    if (ou === ids.B) ids.secretB = sec.body.id;
    const e = await h.req('POST', '/api/v1/enrollment/enroll', {
      body: {
        secret: sec.body.secret,
        device_serial: `serial-${key}`,
        device_hostname: key,
        device_os: 'Linux',
        device_os_version: '6.1',
        client_type: 'test',
        client_version: '1',
      },
    });
    ids[key] = e.body.device_id;
  }
  for (const role of OU_ROLES) {
    await h.createUser(`a_${role}`, role, ids.A);
    tokens[role] = await h.login(`a_${role}`, `a_${role}-password-123`);
  }
  await h.createUser('greporter', 'global_reporter', null);
  tokens.global_reporter = await h.login('greporter', 'greporter-password-123');
});
afterAll(() => h.close());

describe('the matrix covers every OU-scoped endpoint', () => {
  it('each route of the OpenAPI document is in the matrix or declared not OU-scoped', () => {
    const spec = h.app.swagger() as { paths: Record<string, Record<string, unknown>> };
    const covered = new Set([...cases.map((c) => c.route), ...lists.map((l) => l.route)]);
    const missing: string[] = [];
    for (const [path, ops] of Object.entries(spec.paths)) {
      for (const method of Object.keys(ops)) {
        const key = `${method.toUpperCase()} ${path}`;
        if (!covered.has(key) && !NOT_OU_SCOPED.has(key)) missing.push(key);
      }
    }
    expect(missing).toEqual([]);
  });
});

describe.each(OU_ROLES)('%s of OU A', (role) => {
  it.each(cases.map((c) => [`${c.kind} ${c.route} ${c.url.toString().slice(6, 60)}`, c] as const))(
    '%s',
    async (_n, c) => {
      const r = await h.req(c.route.split(' ')[0] as string, c.url(), { token: tokens[role], body: c.body?.() });
      expectErrorShape(r);
      if (c.kind === 'read') expect(r.status).toBe(404);
      else expect([403, 404]).toContain(r.status);
    },
  );

  it.each(lists.map((l) => [l.url.toString().slice(6, 60), l] as const))(
    'list %s leaks nothing of B',
    async (_n, l) => {
      const r = await h.req('GET', l.url(), { token: tokens[role] });
      if (r.status === 403) {
        expectErrorShape(r);
        return;
      }
      expect(r.status).toBe(200);
      expect(l.leaks(r.body)).toBe(false);
    },
  );
});

describe('global_reporter', () => {
  it.each(cases.filter((c) => c.kind === 'write').map((c) => [c.route, c] as const))(
    'never writes: %s',
    async (_n, c) => {
      const r = await h.req(c.route.split(' ')[0] as string, c.url(), {
        token: tokens.global_reporter,
        body: c.body?.(),
      });
      expect(r.status).toBe(403);
    },
  );

  it('reads everything', async () => {
    expect((await h.req('GET', `/api/v1/ous/${ids.B}`, { token: tokens.global_reporter })).status).toBe(200);
    expect((await h.req('GET', `/api/v1/users/${ids.userB}`, { token: tokens.global_reporter })).status).toBe(200);
  });
});

describe('nothing of B changed', () => {
  it('B, B1 and bob are as they were', async () => {
    const admin = await h.adminToken();
    expect((await h.req('GET', `/api/v1/ous/${ids.B}`, { token: admin })).body.name).toBe('B');
    expect((await h.req('GET', `/api/v1/ous/${ids.B1}`, { token: admin })).status).toBe(200);
    const devB = await h.req('GET', `/api/v1/devices/${ids.devB}`, { token: admin });
    expect(devB.body.labels).toEqual([]);
    expect((await h.req('GET', `/api/v1/devices/${ids.devA}`, { token: admin })).body.ou_id).toBe(ids.A);
    expect((await h.req('GET', `/api/v1/ous/${ids.B}/config`, { token: admin })).body.layer).toBeNull();
    const secrets = await h.req('GET', `/api/v1/enrollment/secrets?ou_id=${ids.B}`, { token: admin });
    expect(secrets.body.items.map((x: any) => [x.name, x.revoked_at])).toEqual([[`s${ids.B}`, null]]);
    expect((await h.req('GET', '/api/v1/webhooks', { token: admin })).body.items.map((w: any) => w.id)).toEqual([
      ids.hookB,
    ]);
    const bob = await h.req('GET', `/api/v1/users/${ids.userB}`, { token: admin });
    expect(bob.body.full_name).toBe('');
    expect((await h.req('GET', `/api/v1/users/${ids.userA}`, { token: admin })).body.ou_id).toBe(ids.A1);
    expect((await h.req('GET', `/api/v1/ous/${ids.A1}`, { token: admin })).body.parent_id).toBe(ids.A);
  });
});

describe('ou_admin within its subtree', () => {
  it('cannot grant a role above its own', async () => {
    for (const role of ['global_admin', 'global_reporter']) {
      const r = await h.req('POST', '/api/v1/users', {
        token: tokens.ou_admin,
        body: { username: `up_${role}`, password: 'escalate-password-1', role, ou_id: null },
      });
      expect(r.status).toBe(403);
    }
  });

  it('can create users and OUs inside its subtree, and read them', async () => {
    const ou = await h.req('POST', '/api/v1/ous', { token: tokens.ou_admin, body: { name: 'A2', parent_id: ids.A } });
    expect(ou.status).toBe(201);
    const u = await h.req('POST', '/api/v1/users', {
      token: tokens.ou_admin,
      body: { username: 'a2rep', password: 'a2rep-password-1', role: 'ou_reporter', ou_id: String(ou.body.id) },
    });
    expect(u.status).toBe(201);
    expect((await h.req('GET', `/api/v1/users/${u.body.id}`, { token: tokens.ou_reporter })).status).toBe(200);
  });

  it('cannot move or delete its own OU, nor create a top-level OU', async () => {
    expect(
      (await h.req('PATCH', `/api/v1/ous/${ids.A}`, { token: tokens.ou_admin, body: { parent_id: ids.A1 } })).status,
    ).toBe(403);
    expect((await h.req('DELETE', `/api/v1/ous/${ids.A}`, { token: tokens.ou_admin })).status).toBe(403);
    expect((await h.req('POST', '/api/v1/ous', { token: tokens.ou_admin, body: { name: 'root2' } })).status).toBe(403);
  });

  it('ou_reporter and user never write, even inside A', async () => {
    for (const role of ['ou_reporter', 'user']) {
      const r = await h.req('PATCH', `/api/v1/ous/${ids.A1}`, { token: tokens[role], body: { name: 'x' } });
      expect(r.status).toBe(403);
    }
  });
});

describe('fleet-wide routes', () => {
  it('only a global_admin changes the global config and fleet settings', async () => {
    for (const role of ['global_reporter', ...OU_ROLES]) {
      const t = tokens[role];
      expect((await h.req('PUT', '/api/v1/config/global', { token: t, body: { doc: {} } })).status).toBe(403);
      expect(
        (await h.req('PATCH', '/api/v1/settings/fleet', { token: t, body: { offline_after_seconds: 60 } })).status,
      ).toBe(403);
    }
    expect((await h.req('GET', '/api/v1/config/global', { token: tokens.global_reporter })).status).toBe(200);
    expect((await h.req('GET', '/api/v1/config/global', { token: tokens.user })).status).toBe(403);
  });
});
