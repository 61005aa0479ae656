// Agent settings parsed once at the edge from CLI flags > JSON file > environment; nothing else reads process.env.
import { homedir } from 'node:os';
import path from 'node:path';
import {
  type ConfigLayer,
  type ConfigLayerDoc,
  type ConfigValues,
  mergeLayers,
  setConfigKey,
  TEST_KINDS,
  validateLayer,
} from '@rookery/protocol';
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/** What the daemon runs with. */
export interface AgentSettings {
  /** manager base URL, http(s); required */
  managerUrl: string;
  /** enrollment secret; needed only when no credential is stored */
  enrollmentSecret: string | undefined;
  /** directory for credential.json and status.json; @default /var/lib/rookery-agent as root, else ~/.rookery-agent */
  stateDir: string;
  /** device serial override; @default /etc/machine-id */
  deviceSerial: string | undefined;
  /** hostname override; @default os.hostname() */
  deviceHostname: string | undefined;
  /** stop after this many seconds (tests, one-shot runs); @default run until signalled */
  runSeconds: number | undefined;
  /** pino level; @default info */
  logLevel: string;
  /** result spool directory; @default <stateDir>/spool */
  spoolDir: string;
  /** cap on the spool's size in bytes (oldest results dropped beyond it); @default 64 MiB, at least 64 KiB */
  spoolMaxBytes: number;
  /** results older than this many seconds are dropped; @default 7 days, at least 60 */
  spoolMaxAgeSeconds: number;
  /** the local ENV/file config, used only while not enrolled */
  localConfig: ConfigValues;
  /** which source set each local key: "env", "file" or "default" */
  localProvenance: Record<string, string>;
}

/** Flags commander hands over (all optional strings). */
export interface AgentFlags {
  manager?: string;
  enrollSecret?: string;
  stateDir?: string;
  config?: string;
  deviceSerial?: string;
  deviceHostname?: string;
  runSeconds?: string;
  logLevel?: string;
  spoolDir?: string;
  spoolMaxBytes?: string;
  spoolMaxAgeSeconds?: string;
}

/** Shape of the optional `--config FILE` JSON document. */
export const AgentConfigFile = Type.Object(
  {
    manager_url: Type.Optional(Type.String()),
    enrollment_secret: Type.Optional(Type.String()),
    state_dir: Type.Optional(Type.String()),
    device_serial: Type.Optional(Type.String()),
    device_hostname: Type.Optional(Type.String()),
    run_seconds: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    log_level: Type.Optional(Type.String()),
    spool_dir: Type.Optional(Type.String()),
    /** bytes, or a string with a unit: "64MiB" */
    spool_max_bytes: Type.Optional(Type.Union([Type.Integer({ minimum: 1 }), Type.String()])),
    spool_max_age_seconds: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    /** fallback config, same partial document as a manager config layer */
    local_config: Type.Optional(Type.Unknown()),
  },
  { additionalProperties: false },
);
export type AgentConfigFile = Static<typeof AgentConfigFile>;

/** Bad configuration: the message names the source and the key. */
export class AgentConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AgentConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function parseBool(name: string, raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off', ''].includes(v)) return false;
  throw new AgentConfigError(`${name}: expected true or false, got "${raw}"`);
}

function parsePositive(name: string, raw: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new AgentConfigError(`${name}: expected a positive number, got "${raw}"`);
  }
  return n;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** Parses a byte size: an integer with an optional binary unit (`65536`, `512KiB`, `64MiB`, `1g`). */
export function parseByteSize(name: string, raw: string): number {
  const m = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(raw);
  const unit = SIZE_UNITS[m?.[2]?.toLowerCase() ?? 'x'];
  if (!m || unit === undefined) {
    throw new AgentConfigError(`${name}: expected a size like 67108864 or 64MiB, got "${raw}"`);
  }
  return Number(m[1]) * unit;
}

function atLeast(name: string, value: number, min: number, what: string): number {
  if (value < min) throw new AgentConfigError(`${name}: must be at least ${what}, got ${value}`);
  return value;
}

/** The local config layer the seed's environment names describe (only keys that are set). */
export function envLayerDoc(env: Record<string, string | undefined>): ConfigLayerDoc {
  const doc: Record<string, unknown> = {};
  for (const kind of TEST_KINDS) {
    const upper = kind.toUpperCase();
    const enabled = env[`ENABLE_${upper}_TEST`];
    if (enabled !== undefined) setConfigKey(doc, `tests.${kind}.enabled`, parseBool(`ENABLE_${upper}_TEST`, enabled));
    const targets = env[`${upper}_TARGETS`];
    if (targets !== undefined) {
      const list = targets
        .split(',')
        .map((t) => t.trim())
        .filter((t) => t.length > 0);
      setConfigKey(doc, `tests.${kind}.targets`, list);
    }
  }
  const interval = env.TEST_INTERVAL_SECONDS;
  if (interval !== undefined) {
    const n = Number(interval);
    if (interval.trim() === '' || !Number.isFinite(n)) {
      throw new AgentConfigError(`TEST_INTERVAL_SECONDS: expected a number of seconds, got "${interval}"`);
    }
    setConfigKey(doc, 'schedule.interval_seconds', n);
  }
  return doc as ConfigLayerDoc;
}

function checkLayer(source: string, doc: unknown): ConfigLayerDoc {
  const errors = validateLayer(doc);
  if (errors.length > 0) throw new AgentConfigError(`${source}: ${errors.map((e) => e.message).join('; ')}`);
  return doc as ConfigLayerDoc;
}

function checkManagerUrl(raw: string | undefined): string {
  if (!raw) throw new AgentConfigError('manager URL missing: pass --manager URL or set MANAGER_URL');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AgentConfigError(`manager URL "${raw}" is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AgentConfigError(`manager URL "${raw}" must use http or https`);
  }
  return url.toString().replace(/\/+$/, '');
}

/** Default state directory: /var/lib/rookery-agent for root, else ~/.rookery-agent. */
export function defaultStateDir(uid: number | undefined, home = homedir()): string {
  return uid === 0 ? '/var/lib/rookery-agent' : path.join(home, '.rookery-agent');
}

/**
 * Builds the settings with precedence CLI flags > config file > environment > defaults.
 * `file` is the parsed `--config` JSON (the caller reads it). Throws {@link AgentConfigError}
 * naming the offending source and key; never reads process.env itself.
 */
export function resolveAgentSettings(input: {
  flags: AgentFlags;
  env: Record<string, string | undefined>;
  file?: unknown;
  uid?: number;
}): AgentSettings {
  const { flags, env } = input;
  if (input.file !== undefined && !Value.Check(AgentConfigFile, input.file)) {
    const first = [...Value.Errors(AgentConfigFile, input.file)][0];
    throw new AgentConfigError(`config file: ${first?.path || '(root)'} ${first?.message ?? 'invalid'}`);
  }
  const file = (input.file ?? {}) as AgentConfigFile;
  /** first non-empty value, in precedence order */
  const pick = (...values: (string | undefined)[]) => values.find((v) => v !== undefined && v !== '');

  const layers: ConfigLayer[] = [{ id: 'env', doc: checkLayer('environment', envLayerDoc(env)) }];
  if (file.local_config !== undefined)
    layers.push({ id: 'file', doc: checkLayer('config file local_config', file.local_config) });
  const merged = mergeLayers(layers);

  const stateDir = path.resolve(pick(flags.stateDir, file.state_dir) ?? defaultStateDir(input.uid));
  const maxBytesRaw = pick(flags.spoolMaxBytes, file.spool_max_bytes?.toString(), env.SPOOL_MAX_BYTES);
  const maxAgeRaw = pick(flags.spoolMaxAgeSeconds, file.spool_max_age_seconds?.toString(), env.SPOOL_MAX_AGE_SECONDS);
  const runRaw = pick(flags.runSeconds, file.run_seconds?.toString(), env.RUN_SECONDS);
  const logLevel = pick(flags.logLevel, file.log_level, env.LOG_LEVEL) ?? 'info';
  if (!LOG_LEVELS.includes(logLevel))
    throw new AgentConfigError(`log level "${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  return {
    managerUrl: checkManagerUrl(pick(flags.manager, file.manager_url, env.MANAGER_URL)),
    enrollmentSecret: pick(flags.enrollSecret, file.enrollment_secret, env.ENROLLMENT_SECRET),
    stateDir,
    deviceSerial: pick(flags.deviceSerial, file.device_serial, env.DEVICE_SERIAL),
    deviceHostname: pick(flags.deviceHostname, file.device_hostname, env.DEVICE_HOSTNAME),
    runSeconds: runRaw === undefined ? undefined : parsePositive('RUN_SECONDS', runRaw),
    logLevel,
    spoolDir: path.resolve(pick(flags.spoolDir, file.spool_dir, env.SPOOL_DIR) ?? path.join(stateDir, 'spool')),
    spoolMaxBytes:
      maxBytesRaw === undefined
        ? 64 * 1024 ** 2
        : atLeast('SPOOL_MAX_BYTES', parseByteSize('SPOOL_MAX_BYTES', maxBytesRaw), 65536, '64KiB'),
    spoolMaxAgeSeconds:
      maxAgeRaw === undefined
        ? 7 * 24 * 3600
        : atLeast('SPOOL_MAX_AGE_SECONDS', parsePositive('SPOOL_MAX_AGE_SECONDS', maxAgeRaw), 60, '60 seconds'),
    localConfig: merged.values,
    localProvenance: merged.provenance,
  };
}
