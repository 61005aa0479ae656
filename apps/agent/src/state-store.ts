// The state directory: credential.json (0600) and status.json, written atomically.
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type AgentState, ConfigValues, DEVICE_CREDENTIAL_PREFIX } from '@rookery/protocol';
import { Value } from '@sinclair/typebox/value';
import type { UploadStatus } from './link/result-uploader.js';

/** What enrollment leaves behind; reused on restart. */
export interface StoredCredential {
  device_id: number;
  ou_id: number;
  device_credential: string;
  device_serial: string;
  manager_url: string;
  enrolled_at: string;
}

/** What `rookery agent status` shows; rewritten by the daemon on every change. */
export interface AgentStatus {
  state: AgentState;
  pid: number;
  manager_url: string;
  device_serial: string;
  device_id: number | null;
  ou_id: number | null;
  /** "manager" once a config check-in succeeded, else "local" */
  config_source: 'manager' | 'local';
  config_name: string | null;
  config_version: number | null;
  last_checkin_at: string | null;
  next_checkin_at: string | null;
  last_test_run_at: string | null;
  next_test_run_at: string | null;
  last_heartbeat_at: string | null;
  /** how the last heartbeat travelled (absent in status files of older agents) */
  last_heartbeat_via?: 'stream' | 'http' | null;
  stream_connected: boolean;
  /** spool and upload counters; null when the agent runs without a spool */
  spool?: UploadStatus | null;
  updated_at: string;
}

/** The last manager config, so a restart measures with it before the first check-in. */
export interface CachedConfig {
  config_name: string;
  config_version: number;
  values: ConfigValues;
  saved_at: string;
}

export const CREDENTIAL_FILE = 'credential.json';
export const CONFIG_FILE = 'config.json';
export const STATUS_FILE = 'status.json';

async function writeAtomic(file: string, data: unknown, mode: number): Promise<void> {
  const tmp = `${file}.${randomUUID()}.tmp`;
  await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode });
  await chmod(tmp, mode); // why: writeFile's mode is filtered by the umask
  await rename(tmp, file);
}

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function isCredential(v: unknown): v is StoredCredential {
  const c = v as StoredCredential;
  return (
    typeof c === 'object' &&
    c !== null &&
    Number.isInteger(c.device_id) &&
    Number.isInteger(c.ou_id) &&
    typeof c.device_credential === 'string' &&
    c.device_credential.startsWith(DEVICE_CREDENTIAL_PREFIX) &&
    typeof c.device_serial === 'string' &&
    typeof c.manager_url === 'string'
  );
}

/** Where the agent keeps its state (port; {@link StateStore} on disk, an in-memory fake in tests). */
export interface AgentStore {
  /** shown in messages */
  readonly dir: string;
  loadCredential(): Promise<StoredCredential | undefined>;
  saveCredential(credential: StoredCredential): Promise<void>;
  clearCredential(): Promise<void>;
  saveConfig(config: CachedConfig): Promise<void>;
  loadConfig(): Promise<CachedConfig | undefined>;
  saveStatus(status: AgentStatus): Promise<void>;
  loadStatus(): Promise<AgentStatus | undefined>;
}

/** Files in one state directory (created 0700 on first write). */
export class StateStore implements AgentStore {
  constructor(readonly dir: string) {}

  private async ensureDir(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
  }

  /** The stored credential, or undefined when absent. Throws on a corrupt file rather than re-enrolling silently. */
  async loadCredential(): Promise<StoredCredential | undefined> {
    const raw = await readJson(path.join(this.dir, CREDENTIAL_FILE));
    if (raw === undefined) return undefined;
    if (!isCredential(raw)) throw new Error(`${path.join(this.dir, CREDENTIAL_FILE)} is not a valid credential file`);
    return raw;
  }

  /** Stores the credential with mode 0600. */
  async saveCredential(credential: StoredCredential): Promise<void> {
    await this.ensureDir();
    await writeAtomic(path.join(this.dir, CREDENTIAL_FILE), credential, 0o600);
  }

  /** Forgets the credential and the cached config (revoked or unknown to the manager). */
  async clearCredential(): Promise<void> {
    await rm(path.join(this.dir, CREDENTIAL_FILE), { force: true });
    await rm(path.join(this.dir, CONFIG_FILE), { force: true });
  }

  async saveConfig(config: CachedConfig): Promise<void> {
    await this.ensureDir();
    await writeAtomic(path.join(this.dir, CONFIG_FILE), config, 0o600);
  }

  /** The cached manager config; undefined when absent or not matching the contract. */
  async loadConfig(): Promise<CachedConfig | undefined> {
    const raw = (await readJson(path.join(this.dir, CONFIG_FILE)).catch(() => undefined)) as CachedConfig | undefined;
    if (!raw || !Number.isInteger(raw.config_version) || !Value.Check(ConfigValues, raw.values)) return undefined;
    return raw;
  }

  async saveStatus(status: AgentStatus): Promise<void> {
    await this.ensureDir();
    await writeAtomic(path.join(this.dir, STATUS_FILE), status, 0o644);
  }

  async loadStatus(): Promise<AgentStatus | undefined> {
    return (await readJson(path.join(this.dir, STATUS_FILE))) as AgentStatus | undefined;
  }
}
