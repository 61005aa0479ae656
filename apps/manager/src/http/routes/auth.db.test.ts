// Login, refresh rotation, logout/password/disable revocation, API keys, throttling, JWT forgery.
import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deriveKey } from '../../services/crypto.js';
import { AUDIENCE, ISSUER } from '../../services/tokens.js';
import { ADMIN, createHarness, expectErrorShape, type Harness, TEST_SECRET_KEY } from '../../testing/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ accountFailureLimit: 3, ipFailureLimit: 1000, lockDuration: 60 });
});
afterAll(() => h.close());

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const key = new Uint8Array(deriveKey(TEST_SECRET_KEY, 'jwt-hs256'));
const now = () => Math.floor(Date.now() / 1000);

async function me(token: string) {
  return h.req('GET', '/api/v1/auth/me', { token });
}

describe('login', () => {
  it('returns tokens and the caller', async () => {
    const r = await h.req('POST', '/api/v1/auth/login', { body: ADMIN });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ token_type: 'Bearer', expires_in: 900 });
    const m = await me(r.body.access_token);
    expect(m.status).toBe(200);
    expect(m.body).toMatchObject({ username: 'admin', role: 'global_admin' });
    expect(m.body.password_hash).toBeUndefined();
  });

  it('answers an unknown user and a wrong password identically', async () => {
    await h.createUser('victor', 'user', null);
    const a = await h.req('POST', '/api/v1/auth/login', {
      body: { username: 'nobody-here', password: 'whatever-password' },
    });
    const b = await h.req('POST', '/api/v1/auth/login', { body: { username: 'victor', password: 'wrong-password-1' } });
    expect(a.status).toBe(401);
    expect(b.status).toBe(401);
    expect(expectErrorShape(a).error).toBe(expectErrorShape(b).error);
    expect(a.body.message).toBe(b.body.message);
  });

  it('locks an account after repeated failures with 429 and Retry-After, even for the right password', async () => {
    await h.createUser('lockme', 'user', null, 'lockme-password-123');
    for (let i = 0; i < 3; i++) {
      const r = await h.req('POST', '/api/v1/auth/login', { body: { username: 'lockme', password: 'nope-nope-nope' } });
      expect(r.status).toBe(401);
    }
    const r = await h.req('POST', '/api/v1/auth/login', {
      body: { username: 'lockme', password: 'lockme-password-123' },
    });
    expect(r.status).toBe(429);
    expect(Number(r.headers['retry-after'])).toBeGreaterThan(0);
    expect(expectErrorShape(r).error).toBe('too_many_requests');
  });

  it('throttles per IP as well', async () => {
    const t = await createHarness({ accountFailureLimit: 1000, ipFailureLimit: 2 });
    try {
      for (const u of ['a1', 'a2']) {
        expect(
          (await t.req('POST', '/api/v1/auth/login', { body: { username: u, password: 'xxxxxxxxxxxx' } })).status,
        ).toBe(401);
      }
      const r = await t.req('POST', '/api/v1/auth/login', { body: ADMIN });
      expect(r.status).toBe(429);
    } finally {
      await t.close();
    }
  });
});

describe('refresh tokens', () => {
  it('rotate, and a replayed token revokes the whole login', async () => {
    const first = (await h.req('POST', '/api/v1/auth/login', { body: ADMIN })).body;
    const second = await h.req('POST', '/api/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
    expect(second.status).toBe(200);
    expect(second.body.refresh_token).not.toBe(first.refresh_token);
    expect((await me(second.body.access_token)).status).toBe(200);
    // replay of the used token: rejected, and the newer tokens of that login die too
    const replay = await h.req('POST', '/api/v1/auth/refresh', { body: { refresh_token: first.refresh_token } });
    expect(replay.status).toBe(401);
    expect((await me(second.body.access_token)).status).toBe(401);
    expect(
      (await h.req('POST', '/api/v1/auth/refresh', { body: { refresh_token: second.body.refresh_token } })).status,
    ).toBe(401);
  });

  it('rejects unknown refresh tokens', async () => {
    const r = await h.req('POST', '/api/v1/auth/refresh', { body: { refresh_token: 'rkr_not-a-token' } });
    expect(r.status).toBe(401);
  });
});

describe('revocation takes effect on the next request', () => {
  it('logout kills the access token and its refresh token', async () => {
    const t = (await h.req('POST', '/api/v1/auth/login', { body: ADMIN })).body;
    expect((await h.req('POST', '/api/v1/auth/logout', { token: t.access_token })).status).toBe(204);
    expect((await me(t.access_token)).status).toBe(401);
    expect((await h.req('POST', '/api/v1/auth/refresh', { body: { refresh_token: t.refresh_token } })).status).toBe(
      401,
    );
  });

  it('password change kills every older token', async () => {
    await h.createUser('pwchange', 'user', null, 'pwchange-password-1');
    const t1 = await h.login('pwchange', 'pwchange-password-1');
    const t2 = await h.login('pwchange', 'pwchange-password-1');
    const r = await h.req('POST', '/api/v1/auth/password', {
      token: t1,
      body: { current_password: 'pwchange-password-1', new_password: 'pwchange-password-2' },
    });
    expect(r.status).toBe(204);
    expect((await me(t1)).status).toBe(401);
    expect((await me(t2)).status).toBe(401);
    expect(
      (await h.req('POST', '/api/v1/auth/login', { body: { username: 'pwchange', password: 'pwchange-password-1' } }))
        .status,
    ).toBe(401);
    expect((await me(await h.login('pwchange', 'pwchange-password-2'))).status).toBe(200);
  });

  it('rejects a weak new password with 400 and changes nothing', async () => {
    await h.createUser('weakpw', 'user', null, 'weakpw-password-1');
    const t = await h.login('weakpw', 'weakpw-password-1');
    const r = await h.req('POST', '/api/v1/auth/password', {
      token: t,
      body: { current_password: 'weakpw-password-1', new_password: 'admin123' },
    });
    expect(r.status).toBe(400);
    expect((await me(t)).status).toBe(200);
  });

  it('disabling a user kills its tokens and API keys', async () => {
    const id = await h.createUser('todisable', 'user', null, 'todisable-pass-1');
    const t = await h.login('todisable', 'todisable-pass-1');
    const k = await h.req('POST', '/api/v1/api-keys', { token: t, body: { name: 'ci' } });
    expect(k.status).toBe(201);
    const r = await h.req('PATCH', `/api/v1/users/${id}`, { token: await h.adminToken(), body: { disabled: true } });
    expect(r.status).toBe(200);
    expect((await me(t)).status).toBe(401);
    expect((await h.req('GET', '/api/v1/auth/me', { headers: { 'x-api-key': k.body.key } })).status).toBe(401);
  });
});

describe('API keys', () => {
  it('work as Bearer and X-API-Key, are shown once, and die when revoked', async () => {
    const t = await h.adminToken();
    const created = await h.req('POST', '/api/v1/api-keys', { token: t, body: { name: 'automation' } });
    expect(created.status).toBe(201);
    const keyValue: string = created.body.key;
    expect(keyValue.startsWith(created.body.prefix)).toBe(true);
    expect((await me(keyValue)).status).toBe(200);
    expect((await h.req('GET', '/api/v1/auth/me', { headers: { 'x-api-key': keyValue } })).status).toBe(200);
    const list = await h.req('GET', '/api/v1/api-keys', { token: t });
    const listed = list.body.items.find((k: { id: number }) => k.id === created.body.id);
    expect(listed.key).toBeUndefined();
    expect(listed.last_used_at).not.toBeNull();
    expect((await h.req('DELETE', `/api/v1/api-keys/${created.body.id}`, { token: t })).status).toBe(204);
    expect((await me(keyValue)).status).toBe(401);
  });

  it('refuses an expiry in the past', async () => {
    const r = await h.req('POST', '/api/v1/api-keys', {
      token: await h.adminToken(),
      body: { name: 'old', expires_at: '2001-01-01T00:00:00Z' },
    });
    expect(r.status).toBe(400);
  });

  it('cannot revoke another user’s key', async () => {
    await h.createUser('keyowner', 'user', null, 'keyowner-pass-1');
    const k = await h.req('POST', '/api/v1/api-keys', {
      token: await h.login('keyowner', 'keyowner-pass-1'),
      body: { name: 'x' },
    });
    const r = await h.req('DELETE', `/api/v1/api-keys/${k.body.id}`, { token: await h.adminToken() });
    expect(r.status).toBe(404);
    expect((await me(k.body.key)).status).toBe(200);
  });
});

describe('forged tokens are 401', () => {
  const claims = () => ({
    sub: '1',
    tv: 0,
    jti: crypto.randomUUID(),
    iat: now(),
    exp: now() + 600,
    iss: ISSUER,
    aud: AUDIENCE,
  });

  it('accepts a correctly signed token (control)', async () => {
    const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256' }).sign(key);
    expect((await me(token)).status).toBe(200);
  });

  it.each([
    ['alg none', () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims())}.`],
    ['alg None with signature stripped', () => `${b64({ alg: 'None' })}.${b64(claims())}.`],
    [
      'HS512 instead of HS256',
      () => {
        const head = `${b64({ alg: 'HS512' })}.${b64(claims())}`;
        return `${head}.${createHmac('sha512', key).update(head).digest('base64url')}`;
      },
    ],
    [
      'RS256 header with HMAC signature',
      () => {
        const head = `${b64({ alg: 'RS256' })}.${b64(claims())}`;
        return `${head}.${createHmac('sha256', key).update(head).digest('base64url')}`;
      },
    ],
  ])('%s', async (_name, make) => {
    const r = await me(make());
    expect(r.status).toBe(401);
    expectErrorShape(r);
  });

  it('expired', async () => {
    const token = await new SignJWT({ ...claims(), iat: now() - 1000, exp: now() - 100 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(key);
    expect((await me(token)).status).toBe(401);
  });

  it('wrong audience / wrong issuer', async () => {
    for (const over of [{ aud: 'someone-else' }, { iss: 'evil' }]) {
      const token = await new SignJWT({ ...claims(), ...over }).setProtectedHeader({ alg: 'HS256' }).sign(key);
      expect((await me(token)).status).toBe(401);
    }
  });

  it('tampered payload (role escalation of another user id)', async () => {
    const token = await new SignJWT({ ...claims(), sub: '2' }).setProtectedHeader({ alg: 'HS256' }).sign(key);
    const [head, , sig] = (await new SignJWT(claims()).setProtectedHeader({ alg: 'HS256' }).sign(key)).split('.');
    const tampered = `${head}.${token.split('.')[1]}.${sig}`;
    expect((await me(tampered)).status).toBe(401);
  });

  it('signed with another key', async () => {
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('x'.repeat(32)));
    expect((await me(token)).status).toBe(401);
  });

  it('stale token_version (issued before a password change)', async () => {
    const token = await new SignJWT({ ...claims(), tv: 99 }).setProtectedHeader({ alg: 'HS256' }).sign(key);
    expect((await me(token)).status).toBe(401);
  });

  it('garbage and missing credentials', async () => {
    expect((await me('not.a.jwt')).status).toBe(401);
    expect((await h.req('GET', '/api/v1/auth/me')).status).toBe(401);
    expect(
      (await h.req('GET', '/api/v1/auth/me', { headers: { authorization: 'Basic YWRtaW46YWRtaW4=' } })).status,
    ).toBe(401);
  });
});
