// Small crypto helpers: random tokens, SHA-256 digests for high-entropy secrets, AES-GCM sealing.
import { createCipheriv, createDecipheriv, hash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

/** Random URL-safe token with `bytes` of entropy (default 32 = 256 bits), optionally prefixed. */
export function randomToken(prefix = '', bytes = 32): string {
  return prefix + randomBytes(bytes).toString('base64url');
}

/**
 * SHA-256 hex of a high-entropy secret (API keys, refresh tokens, device credentials). Fine for
 * random tokens; passwords go through argon2id instead. One-shot `crypto.hash` (Node ≥ 20.12): about a third
 * of `createHash(…).update(…).digest(…)`'s cost for a short string, and every agent request hashes its credential.
 */
export const sha256 = (s: string) => hash('sha256', s, 'hex');

export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** Derives a purpose-bound 32-byte key from the manager's SECRET_KEY. */
export function deriveKey(secretKey: string, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secretKey, 'rookery', purpose, 32));
}

/** AES-256-GCM seal → `v1.iv.tag.ciphertext` (base64url). Used for TOTP secrets at rest. */
export function seal(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update(plaintext, 'utf8'), c.final()]);
  return ['v1', iv, c.getAuthTag(), ct].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

/** Opens what `seal` produced. @throws Error when tampered or sealed with another key */
export function open(key: Buffer, sealed: string): string {
  const [v, iv, tag, ct] = sealed.split('.');
  if (v !== 'v1' || !iv || !tag || !ct) throw new Error('malformed sealed value');
  const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
  d.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
}
