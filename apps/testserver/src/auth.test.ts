// Tests: server key / device credential authentication.
import { describe, expect, it } from 'vitest';
import { authenticate, hashSecret, validateAuthConfig } from './auth.js';

const config = {
  serverKeySha256: [hashSecret('k1'), hashSecret('k2')],
  deviceCredentialSha256: { d1: hashSecret('c1') },
};

describe('authenticate', () => {
  it('accepts any configured server key', () => {
    expect(authenticate(config, { authorization: 'Bearer k2' })).toEqual({ ok: true, principal: 'server-key' });
    expect(authenticate(config, { 'x-server-key': 'k1' })).toEqual({ ok: true, principal: 'server-key' });
  });

  it('binds a device credential to its device id', () => {
    expect(authenticate(config, { 'x-device-id': 'd1', authorization: 'Bearer c1' })).toEqual({
      ok: true,
      principal: 'device:d1',
    });
    expect(authenticate(config, { 'x-device-id': 'd1' })).toEqual({ ok: false, reason: 'missing device credential' });
    expect(authenticate(config, { 'x-device-id': 'd9', authorization: 'Bearer c1' }).ok).toBe(false);
    // a server key presented as a device credential is not one
    expect(authenticate(config, { 'x-device-id': 'd1', authorization: 'Bearer k1' }).ok).toBe(false);
  });

  it('rejects missing, malformed and wrong credentials', () => {
    expect(authenticate(config, {})).toEqual({ ok: false, reason: 'missing credentials' });
    expect(authenticate(config, { authorization: 'Basic azE=' }).ok).toBe(false);
    expect(authenticate(config, { authorization: 'Bearer k3' })).toEqual({ ok: false, reason: 'invalid server key' });
  });
});

describe('validateAuthConfig', () => {
  it('requires 64-hex digests', () => {
    expect(() => validateAuthConfig({ serverKeySha256: ['abc'], deviceCredentialSha256: {} })).toThrow('64 hex');
    expect(() => validateAuthConfig({ serverKeySha256: [], deviceCredentialSha256: { d: 'zz' } })).toThrow('device d');
    expect(validateAuthConfig(config)).toBe(config);
  });
});
