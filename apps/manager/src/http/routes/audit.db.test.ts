// The audit log: every administrative change recorded with before/after, secrets redacted, paged, scoped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness } from '../../testing/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(() => h.close());

describe('audit log', () => {
  it('records creates, updates and deletes with the actor and no secrets', async () => {
    const admin = await h.adminToken();
    const ou = await h.createOu('Audited');
    const uid = await h.createUser('audited', 'user', ou, 'audited-password-1');
    await h.req('PATCH', `/api/v1/users/${uid}`, {
      token: admin,
      body: { full_name: 'Audi Ted', password: 'audited-password-2' },
    });
    await h.req('DELETE', `/api/v1/users/${uid}`, { token: admin });
    const r = await h.req('GET', '/api/v1/audit?limit=50', { token: admin });
    expect(r.status).toBe(200);
    const actions = r.body.items.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['ou.create', 'user.create', 'user.update', 'user.delete']));
    const update = r.body.items.find((e: { action: string }) => e.action === 'user.update');
    expect(update.actor_name).toBe('admin');
    expect(update.before.full_name).toBe('');
    expect(update.after.full_name).toBe('Audi Ted');
    expect(update.after.password).toBe('[redacted]');
    expect(JSON.stringify(r.body)).not.toMatch(/argon2|audited-password/);
    expect(update.request_id).toBeTruthy();
  });

  it('pages newest first', async () => {
    const admin = await h.adminToken();
    for (let i = 0; i < 5; i++) await h.createOu(`page${i}`);
    const first = await h.req('GET', '/api/v1/audit?limit=2', { token: admin });
    const second = await h.req('GET', `/api/v1/audit?limit=2&cursor=${first.body.next_cursor}`, { token: admin });
    expect(first.body.items[0].id).toBeGreaterThan(first.body.items[1].id);
    expect(second.body.items[0].id).toBeLessThan(first.body.items[1].id);
  });

  it('an ou_reporter sees the changes of its subtree and not others', async () => {
    const mine = await h.createOu('ReporterHome');
    const other = await h.createOu('Elsewhere');
    await h.createOu('ChildOfHome', mine);
    await h.createOu('ChildOfElsewhere', other);
    await h.createUser('rep', 'ou_reporter', mine);
    const t = await h.login('rep', 'rep-password-123');
    const r = await h.req('GET', '/api/v1/audit?action=ou.create&limit=500', { token: t });
    const names = r.body.items.map((e: { after: { name: string } }) => e.after.name);
    expect(names).toContain('ChildOfHome');
    expect(names).not.toContain('ChildOfElsewhere');
  });

  it('plain users get 403', async () => {
    await h.createUser('plain', 'user', null);
    const r = await h.req('GET', '/api/v1/audit', { token: await h.login('plain', 'plain-password-123') });
    expect(r.status).toBe(403);
  });
});

describe('request ids', () => {
  it('every answer carries x-request-id: the caller’s own when well-formed, a fresh uuid otherwise', async () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    const ok = await h.req('GET', '/healthz', { headers: { 'x-request-id': 'trace-42.a_b' } });
    expect([ok.status, ok.headers['x-request-id']]).toEqual([200, 'trace-42.a_b']);
    const unauth = await h.req('GET', '/api/v1/audit');
    expect(unauth.status).toBe(401);
    expect(unauth.headers['x-request-id']).toMatch(uuid);
    const missing = await h.req('GET', '/api/v1/no-such-route', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(missing.status).toBe(404);
    expect(missing.headers['x-request-id']).toMatch(uuid);
    const bad = await h.req('POST', '/api/v1/auth/login', {
      rawBody: '{',
      headers: { 'content-type': 'application/json' },
    });
    expect(bad.status).toBe(400);
    expect(bad.headers['x-request-id']).toMatch(uuid);
  });
});
