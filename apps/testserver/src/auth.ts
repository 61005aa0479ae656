// Optional authentication (seed 004): server keys and device credentials, stored as SHA-256
// digests and compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';

export interface AuthConfig {
  /** SHA-256 hex digests of accepted server keys (sent as `Authorization: Bearer KEY` or `X-Server-Key`) */
  serverKeySha256: string[];
  /** device id → SHA-256 hex digest of its credential (sent as `X-Device-Id` + `Authorization: Bearer`) */
  deviceCredentialSha256: Record<string, string>;
}

export type AuthOutcome = { ok: true; principal: string } | { ok: false; reason: string };

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

function sameDigest(a: Buffer, hex: string): boolean {
  const b = Buffer.from(hex, 'hex');
  return b.length === a.length && timingSafeEqual(a, b);
}

/** SHA-256 hex of a secret, as stored in an AuthConfig. */
export function hashSecret(secret: string): string {
  return digest(secret).toString('hex');
}

/** Checks that every digest is 64 hex chars; throws Error naming the bad entry. */
export function validateAuthConfig(config: AuthConfig): AuthConfig {
  const hex = /^[0-9a-f]{64}$/i;
  for (const k of config.serverKeySha256)
    if (!hex.test(k)) throw new Error('auth: serverKeySha256 entries must be 64 hex chars');
  for (const [id, k] of Object.entries(config.deviceCredentialSha256)) {
    if (!hex.test(k)) throw new Error(`auth: credential digest of device ${id} must be 64 hex chars`);
  }
  return config;
}

/** Decides whether request headers carry an accepted server key or device credential. */
export function authenticate(config: AuthConfig, headers: Record<string, string | string[] | undefined>): AuthOutcome {
  const header = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const bearer = /^Bearer\s+(\S+)$/i.exec(header('authorization') ?? '')?.[1];
  const deviceId = header('x-device-id');
  if (deviceId !== undefined) {
    const want = config.deviceCredentialSha256[deviceId];
    if (!bearer) return { ok: false, reason: 'missing device credential' };
    // hash even for unknown devices so timing does not tell which ids exist
    const got = digest(bearer);
    if (want !== undefined && sameDigest(got, want)) return { ok: true, principal: `device:${deviceId}` };
    return { ok: false, reason: 'invalid device credential' };
  }
  const key = header('x-server-key') ?? bearer;
  if (!key) return { ok: false, reason: 'missing credentials' };
  const got = digest(key);
  let match = false;
  for (const want of config.serverKeySha256) match = sameDigest(got, want) || match;
  return match ? { ok: true, principal: 'server-key' } : { ok: false, reason: 'invalid server key' };
}
