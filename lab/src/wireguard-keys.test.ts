import { describe, expect, it } from 'vitest';
import { generateKeyPair, publicKeyOf } from './wireguard-keys.js';

// RFC 7748 §6.1, Alice's key pair
const alicePrivate = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex').toString(
  'base64',
);
const alicePublic = Buffer.from('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a', 'hex').toString(
  'base64',
);

describe('wireguard keys', () => {
  it('derives the X25519 public key of the RFC 7748 vector', () => {
    expect(publicKeyOf(alicePrivate)).toBe(alicePublic);
  });

  it('generates 32-byte base64 pairs whose public key matches derivation', () => {
    const pair = generateKeyPair();
    expect(Buffer.from(pair.privateKey, 'base64')).toHaveLength(32);
    expect(pair.publicKey).toHaveLength(44);
    expect(publicKeyOf(pair.privateKey)).toBe(pair.publicKey);
    expect(generateKeyPair().privateKey).not.toBe(pair.privateKey);
  });

  it('rejects a key of the wrong length', () => {
    expect(() => publicKeyOf('c2hvcnQ=')).toThrow('32 bytes');
  });
});
