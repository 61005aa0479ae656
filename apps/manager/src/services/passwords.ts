// Password hashing with argon2id (OWASP minimum parameters) and the password policy.
import { hash, verify } from '@node-rs/argon2';
import { badRequest } from '../domain/errors.js';

// OWASP: argon2id, m=19 MiB, t=2, p=1
const OPTIONS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/** Seed 004's sample password and other values that must never guard a real install. */
export const SAMPLE_PASSWORDS = new Set(['admin123', 'admin', 'password', 'changeme']);

export const hashPassword = (password: string) => hash(password, OPTIONS);

// verified against when the user does not exist, so both paths cost one argon2 verify
let dummyHash: Promise<string> | undefined;

/** Verifies `password` against `stored`, or against a dummy hash when there is no user. Never throws. */
export async function verifyPassword(stored: string | undefined, password: string): Promise<boolean> {
  dummyHash ??= hashPassword('rookery-dummy-password');
  const target = stored ?? (await dummyHash);
  const ok = await verify(target, password).catch(() => false);
  return stored !== undefined && ok;
}

/** Length 12–256, not a sample password. @throws AppError 400 */
export function assertPasswordPolicy(password: string, username?: string): void {
  if (password.length < 12) throw badRequest('password must have at least 12 characters', { field: 'password' });
  if (password.length > 256) throw badRequest('password must have at most 256 characters', { field: 'password' });
  if (SAMPLE_PASSWORDS.has(password.toLowerCase()) || (username && password.toLowerCase() === username.toLowerCase())) {
    throw badRequest('password is too easy to guess', { field: 'password' });
  }
}
