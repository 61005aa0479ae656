// WireGuard key pairs with node:crypto X25519, in the base64 form `wg genkey` / `wg pubkey` use.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';

/** A WireGuard key pair, each key 32 bytes in standard base64 (44 characters). */
export interface WireguardKeyPair {
  privateKey: string;
  publicKey: string;
}

function fromBase64Url(text: string): string {
  return Buffer.from(text, 'base64url').toString('base64');
}

/** Generates a key pair; the public key equals what `wg pubkey` prints for the private key. */
export function generateKeyPair(): WireguardKeyPair {
  const { privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  if (!jwk.d || !jwk.x) throw new Error('x25519 key export failed');
  return { privateKey: fromBase64Url(jwk.d), publicKey: fromBase64Url(jwk.x) };
}

/** The public key of a base64 private key (like `wg pubkey`); throws on a malformed key. */
export function publicKeyOf(privateKey: string): string {
  const raw = Buffer.from(privateKey, 'base64');
  if (raw.length !== 32) throw new Error('a WireGuard private key is 32 bytes of base64');
  const key = createPrivateKey({
    key: { kty: 'OKP', crv: 'X25519', d: raw.toString('base64url'), x: '' },
    format: 'jwk',
  });
  const x = createPublicKey(key).export({ format: 'jwk' }).x;
  if (!x) throw new Error('x25519 public key export failed');
  return fromBase64Url(x);
}
