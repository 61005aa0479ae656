// Per-account and per-IP throttling of login and TOTP attempts.
import type { Db } from '../db/database.js';
import { clearFailures, lockedFor, recordFailure } from '../db/queries/throttle.js';
import { tooManyRequests } from '../domain/errors.js';
import type { AuthSettings } from './context.js';

export const accountKey = (username: string) => `account:${username.toLowerCase()}`;
export const ipKey = (ip: string) => `ip:${ip}`;

/** @throws AppError 429 with Retry-After when any key is locked */
export async function assertNotThrottled(db: Db, keys: string[]): Promise<void> {
  for (const key of keys) {
    const s = await lockedFor(db, key);
    if (s > 0) throw tooManyRequests(s);
  }
}

/** Counts a failure against the account and the IP. */
export async function countFailure(db: Db, s: AuthSettings, username: string, ip: string): Promise<void> {
  await recordFailure(db, accountKey(username), s.accountFailureLimit, s.failureWindow, s.lockDuration);
  await recordFailure(db, ipKey(ip), s.ipFailureLimit, s.failureWindow, s.lockDuration);
}

export const clearAccountFailures = (db: Db, username: string) => clearFailures(db, accountKey(username));
