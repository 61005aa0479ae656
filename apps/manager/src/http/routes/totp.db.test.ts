// TOTP MFA: setup (URI + QR), verify, login with codes, single use per step, ±1 step, recovery codes.
import { Secret, TOTP } from 'otpauth';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createHarness, expectErrorShape, type Harness } from '../../testing/harness.js';

let h: Harness;
let secret: string;
let recovery: string[];
const PW = 'mfa-user-password-1';

const code = (offsetSteps = 0) =>
  new TOTP({ secret: Secret.fromBase32(secret), digits: 6, period: 30, algorithm: 'SHA1' }).generate({
    timestamp: Date.now() + offsetSteps * 30_000,
  });
const login = (extra: Record<string, string> = {}) =>
  h.req('POST', '/api/v1/auth/login', { body: { username: 'mfa', password: PW, ...extra } });

beforeAll(async () => {
  // start 1 s into a 30 s step so that "current step" cannot roll over mid-suite
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
  vi.setSystemTime(Math.floor(Date.now() / 30_000) * 30_000 + 30_000 + 1000);
  h = await createHarness();
  await h.createUser('mfa', 'user', null, PW);
  const t = await h.login('mfa', PW);
  const setup = await h.req('POST', '/api/v1/auth/totp/setup', { token: t });
  expect(setup.status).toBe(200);
  expect(setup.body.otpauth_uri).toMatch(/^otpauth:\/\/totp\/Rookery:mfa\?/);
  expect(setup.body.qr_code_data_url).toMatch(/^data:image\/png;base64,/);
  secret = setup.body.secret;
  // not active until verified
  expect((await login()).status).toBe(200);
  const bad = await h.req('POST', '/api/v1/auth/totp/verify', {
    token: t,
    body: { code: code() === '000000' ? '111111' : '000000' },
  });
  expect(bad.status).toBe(400);
  const ok = await h.req('POST', '/api/v1/auth/totp/verify', { token: t, body: { code: code(-1) } });
  expect(ok.status).toBe(200);
  recovery = ok.body.recovery_codes;
  expect(recovery).toHaveLength(10);
});
afterAll(async () => {
  await h.close();
  vi.useRealTimers();
});

describe('login with TOTP', () => {
  it('asks for the code once the password is right', async () => {
    const r = await login();
    expect(r.status).toBe(401);
    expect(expectErrorShape(r).error).toBe('totp_required');
  });

  it('accepts the current step once and rejects its reuse', async () => {
    const c = code(0);
    expect((await login({ totp: c })).status).toBe(200);
    const again = await login({ totp: c });
    expect(again.status).toBe(401);
    expect(again.body.error).toBe('invalid_totp');
  });

  it('accepts the next step (+1) but never a step older than the last used one', async () => {
    expect((await login({ totp: code(1) })).status).toBe(200);
    expect((await login({ totp: code(0) })).status).toBe(401);
  });

  it('rejects codes two steps away', async () => {
    expect((await login({ totp: code(3) })).status).toBe(401);
    expect((await login({ totp: code(-2) })).status).toBe(401);
  });

  it('accepts a recovery code once', async () => {
    const rc = recovery[0] as string;
    expect((await login({ recovery_code: rc })).status).toBe(200);
    expect((await login({ recovery_code: rc })).status).toBe(401);
  });

  it('disabling needs the password and a valid code', async () => {
    const t = await h.login('mfa', PW, { recovery_code: recovery[1] as string });
    const wrong = await h.req('POST', '/api/v1/auth/totp/disable', {
      token: t,
      body: { password: 'not-the-password', code: code(1) },
    });
    expect(wrong.status).toBe(401);
    // code(1) was used at login above: single use holds here too
    const reused = await h.req('POST', '/api/v1/auth/totp/disable', {
      token: t,
      body: { password: PW, code: code(1) },
    });
    expect(reused.status).toBe(401);
  });
});

describe('disable', () => {
  it('turns TOTP off with password + fresh code, after which the password alone logs in', async () => {
    vi.setSystemTime(Date.now() + 60_000);
    const t = await h.login('mfa', PW, { recovery_code: recovery[2] as string });
    const r = await h.req('POST', '/api/v1/auth/totp/disable', { token: t, body: { password: PW, code: code(0) } });
    expect(r.status).toBe(204);
    expect((await login()).status).toBe(200);
  });
});
