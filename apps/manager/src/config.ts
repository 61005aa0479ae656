// Manager configuration: parsed once from flags and environment; nothing else reads process.env.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { DEFAULT_INGEST_QUEUE } from './services/ingest-queue.js';
import { SAMPLE_PASSWORDS } from './services/passwords.js';

export interface ManagerConfig {
  /** address to listen on. @default 127.0.0.1 */
  host: string;
  /** TCP port; 0 picks a free one. @default 8080 */
  port: number;
  /** data dir for the embedded database and generated secrets. @default ./data */
  dataDir: string;
  /** PostgreSQL server URL; undefined runs the embedded engine in dataDir */
  databaseUrl: string | undefined;
  /** development mode: allows sample secrets */
  dev: boolean;
  /** SECRET_KEY as given (resolved later for the embedded default) */
  secretKey: string | undefined;
  /** ADMIN_USERNAME / ADMIN_PASSWORD: first global admin when no user exists */
  adminUsername: string | undefined;
  adminPassword: string | undefined;
  /** pino level. @default info */
  logLevel: string;
  /** ROOKERY_OUTBOUND_ALLOW: hosts/addresses webhooks may reach although loopback/link-local (comma list) */
  outboundAllow: string[];
  /**
   * ROOKERY_INGEST_LINGER_MS: on a busy replica, how long an upload waits for others to share its
   * transaction (0 turns the window off). @default 20
   */
  ingestLingerMs: number;
  /**
   * --workers / ROOKERY_WORKERS: manager processes behind the one port (`auto`: one per CPU). Each is a
   * replica, as on separate hosts (cluster.ts). @default 1
   */
  workers: number;
  /**
   * PGOPTIONS: PostgreSQL settings for each of the manager's sessions, as libpq takes them
   * (`-c name=value …`); the session's time zone stays UTC.
   */
  pgOptions: string | undefined;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** The seed's sample values that must never guard a real install. */
const SAMPLE_SECRET_KEYS = new Set(['your-secret-key-here-change-in-production', 'changeme', 'secret', 'change-me']);

export interface CliFlags {
  listen?: string;
  data?: string;
  databaseUrl?: string;
  dev?: boolean;
  logLevel?: string;
  workers?: string;
}

/** Most worker processes --workers may ask for. */
export const MAX_WORKERS = 64;

/** Parses --workers / ROOKERY_WORKERS: a whole number 1–64 or `auto` (one per CPU). @throws ConfigError */
export function parseWorkers(v: string | undefined, cpus = availableParallelism()): number {
  if (v === undefined || v === '') return 1;
  if (v === 'auto') return Math.min(MAX_WORKERS, Math.max(1, cpus));
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > MAX_WORKERS) {
    throw new ConfigError(`--workers must be a whole number 1–${MAX_WORKERS} or "auto", got "${v}"`);
  }
  return n;
}

/** Parses `HOST:PORT` (IPv6 as `[::1]:8080`). @throws ConfigError */
export function parseListen(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  const port = Number(m?.[3]);
  if (!m || port > 65535) throw new ConfigError(`--listen must be HOST:PORT, got "${s}"`);
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port };
}

/** Longest collection window ROOKERY_INGEST_LINGER_MS may ask for, ms. */
export const MAX_INGEST_LINGER_MS = 1000;

/** Parses ROOKERY_INGEST_LINGER_MS (whole ms, 0–1000). @throws ConfigError */
function lingerMs(v: string | undefined): number {
  if (v === undefined || v === '') return DEFAULT_INGEST_QUEUE.lingerMs ?? 0;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n > MAX_INGEST_LINGER_MS) {
    throw new ConfigError(`ROOKERY_INGEST_LINGER_MS must be whole milliseconds 0–${MAX_INGEST_LINGER_MS}, got "${v}"`);
  }
  return n;
}

export function loadConfig(flags: CliFlags, env: NodeJS.ProcessEnv): ManagerConfig {
  const listen = parseListen(flags.listen ?? env.ROOKERY_LISTEN ?? '127.0.0.1:8080');
  return {
    ...listen,
    dataDir: path.resolve(flags.data ?? env.ROOKERY_DATA ?? 'data'),
    databaseUrl: flags.databaseUrl ?? (env.DATABASE_URL || undefined),
    dev: flags.dev ?? false,
    secretKey: env.SECRET_KEY || undefined,
    adminUsername: env.ADMIN_USERNAME || undefined,
    adminPassword: env.ADMIN_PASSWORD || undefined,
    logLevel: flags.logLevel ?? env.LOG_LEVEL ?? 'info',
    outboundAllow: (env.ROOKERY_OUTBOUND_ALLOW ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    ingestLingerMs: lingerMs(env.ROOKERY_INGEST_LINGER_MS),
    workers: parseWorkers(flags.workers ?? env.ROOKERY_WORKERS),
    pgOptions: env.PGOPTIONS || undefined,
  };
}

/**
 * Checks secrets before anything starts: sample values are refused outside --dev.
 * @throws ConfigError
 */
export function assertSafeSecrets(c: ManagerConfig): void {
  if (c.dev) return;
  if (c.secretKey !== undefined && (SAMPLE_SECRET_KEYS.has(c.secretKey) || c.secretKey.length < 32)) {
    throw new ConfigError(
      'SECRET_KEY is a sample value or shorter than 32 characters; set a random one (or use --dev)',
    );
  }
  if (
    c.adminPassword !== undefined &&
    (SAMPLE_PASSWORDS.has(c.adminPassword.toLowerCase()) || c.adminPassword.length < 12)
  ) {
    throw new ConfigError(
      'ADMIN_PASSWORD is a sample value or shorter than 12 characters; choose another (or use --dev)',
    );
  }
  if (c.databaseUrl && !c.secretKey) {
    throw new ConfigError('SECRET_KEY is required with a PostgreSQL server (every replica must share it)');
  }
}

/** SECRET_KEY, or for the embedded default one generated once and kept 0600 in the data dir. */
export async function resolveSecretKey(c: ManagerConfig): Promise<string> {
  if (c.secretKey) return c.secretKey;
  const file = path.join(c.dataDir, 'secret-key');
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (existing) return existing;
  const key = randomBytes(32).toString('base64url');
  await writeFile(file, key, { mode: 0o600, flag: 'wx' }).catch(async (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  return (await readFile(file, 'utf8')).trim();
}
