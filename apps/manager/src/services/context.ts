// What every service needs: the database, the manager's keys and its tunables.
import type { Db } from '../db/database.js';

export interface AuthSettings {
  /** access-token lifetime, seconds. @default 900 */
  accessTokenTtl: number;
  /** refresh-token lifetime, seconds. @default 1209600 (14 days) */
  refreshTokenTtl: number;
  /** failed logins per account before a lock. @default 5 */
  accountFailureLimit: number;
  /** failed logins per IP before a lock. @default 20 */
  ipFailureLimit: number;
  /** window in which failures count, seconds. @default 900 */
  failureWindow: number;
  /** lock duration once a limit is hit, seconds. @default 300 */
  lockDuration: number;
}

export const DEFAULT_AUTH_SETTINGS: AuthSettings = {
  accessTokenTtl: 900,
  refreshTokenTtl: 14 * 86_400,
  accountFailureLimit: 5,
  ipFailureLimit: 20,
  failureWindow: 900,
  lockDuration: 300,
};

export interface ServiceContext {
  db: Db;
  /** the manager's SECRET_KEY; other keys are derived from it per purpose */
  secretKey: string;
  auth: AuthSettings;
}

/** Who did it and where, for audit entries. */
export interface Actor {
  id: string | null;
  name: string;
  requestId: string | null;
}
