// Validation of config layers and effective configs: unknown keys, types, ranges, target syntax, threshold order.
import {
  CONFIG_KEYS,
  CONFIG_LIMITS,
  type ConfigKey,
  type ConfigValues,
  getConfigKey,
  isConfigKey,
  TEST_KINDS,
  type TestKind,
} from './config.js';
import { checkTarget } from './config-targets.js';

/** One problem found in a config document; `key` is the dotted path of the offending value. */
export interface ConfigError {
  key: string;
  code: 'unknown_key' | 'wrong_type' | 'out_of_range' | 'invalid_target' | 'threshold_order' | 'not_an_object';
  message: string;
}

const THRESHOLD_PAIRS = [
  ['latency_warning_ms', 'latency_critical_ms'],
  ['jitter_warning_ms', 'jitter_critical_ms'],
  ['packet_loss_warning_percent', 'packet_loss_critical_percent'],
] as const;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Walks the nested document; reports keys that are neither a leaf key nor a prefix of one. */
function findUnknownKeys(node: unknown, prefix: string, errors: ConfigError[]): void {
  if (!isPlainObject(node)) {
    errors.push({ key: prefix || '(root)', code: 'not_an_object', message: 'expected an object' });
    return;
  }
  for (const [name, child] of Object.entries(node)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (isConfigKey(key)) continue;
    if (CONFIG_KEYS.some((k) => k.startsWith(`${key}.`))) findUnknownKeys(child, key, errors);
    else errors.push({ key, code: 'unknown_key', message: `unknown config key "${key}"` });
  }
}

function checkLeaf(key: ConfigKey, value: unknown): ConfigError[] {
  const [section, kind, leaf] = key.split('.') as [string, string, string | undefined];
  const wrongType = (what: string): ConfigError[] => [{ key, code: 'wrong_type', message: `${key} must be ${what}` }];
  const range = (message: string): ConfigError[] => [{ key, code: 'out_of_range', message: `${key} ${message}` }];
  if (section === 'tests' && leaf === 'enabled') return typeof value === 'boolean' ? [] : wrongType('a boolean');
  if (section === 'tests' && leaf === 'targets') {
    if (!Array.isArray(value)) return wrongType('an array of strings');
    if (value.length > CONFIG_LIMITS.maxTargets) return range(`has more than ${CONFIG_LIMITS.maxTargets} targets`);
    const errors: ConfigError[] = [];
    value.forEach((t, i) => {
      if (typeof t !== 'string') errors.push(...wrongType('an array of strings'));
      else if (t.length > CONFIG_LIMITS.maxTargetLength) errors.push(...range(`[${i}] is too long`));
      else {
        const reason = checkTarget(kind as TestKind, t);
        if (reason) errors.push({ key, code: 'invalid_target', message: `${key}[${i}] "${t}": ${reason}` });
      }
    });
    return errors;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) return wrongType('a number');
  if (key === 'schedule.interval_seconds') {
    const { min, max } = CONFIG_LIMITS.intervalSeconds;
    if (!Number.isInteger(value)) return wrongType('a whole number of seconds');
    return value < min || value > max ? range(`must be between ${min} and ${max} seconds`) : [];
  }
  if (key === 'schedule.offset_percent') {
    const { min, max } = CONFIG_LIMITS.offsetPercent;
    return value < min || value > max ? range(`must be between ${min} and ${max} percent`) : [];
  }
  if (value < 0) return range('must not be negative');
  if (key.endsWith('_percent') && value > 100) return range('must not exceed 100 percent');
  return [];
}

function checkThresholdOrder(doc: unknown): ConfigError[] {
  const errors: ConfigError[] = [];
  for (const [warning, critical] of THRESHOLD_PAIRS) {
    const w = getConfigKey(doc, `thresholds.${warning}`);
    const c = getConfigKey(doc, `thresholds.${critical}`);
    if (typeof w === 'number' && typeof c === 'number' && w > c) {
      errors.push({
        key: `thresholds.${warning}`,
        code: 'threshold_order',
        message: `thresholds.${warning} (${w}) must not exceed thresholds.${critical} (${c})`,
      });
    }
  }
  return errors;
}

/**
 * Validates a layer's partial document (and optionally its locked keys). Checks: unknown keys,
 * wrong types, interval 10..86400 s (whole), offset 0..50 %, target syntax per kind, thresholds
 * non-negative (percentages ≤ 100) and warning ≤ critical where the layer sets both.
 * Never throws; returns [] when valid.
 */
export function validateLayer(doc: unknown, locked: unknown = []): ConfigError[] {
  const errors: ConfigError[] = [];
  findUnknownKeys(doc, '', errors);
  if (!isPlainObject(doc)) return errors;
  for (const key of CONFIG_KEYS) {
    const value = getConfigKey(doc, key);
    if (value !== undefined) errors.push(...checkLeaf(key, value));
  }
  errors.push(...checkThresholdOrder(doc));
  if (!Array.isArray(locked)) {
    errors.push({ key: '(locked)', code: 'wrong_type', message: 'locked must be an array of config keys' });
  } else {
    for (const k of locked) {
      if (typeof k !== 'string' || !isConfigKey(k)) {
        // JSON, not String(): an object element may carry its own toString ({"toString": 0} throws)
        const name = typeof k === 'string' ? k : (JSON.stringify(k) ?? String(k));
        errors.push({ key: name, code: 'unknown_key', message: `cannot lock unknown config key "${name}"` });
      }
    }
  }
  return errors;
}

/**
 * Validates a complete effective config (e.g. the result of a merge): every key present plus
 * the same rules as {@link validateLayer}, including warning ≤ critical across layers.
 */
export function validateConfigValues(values: ConfigValues | unknown): ConfigError[] {
  const errors = validateLayer(values);
  for (const key of CONFIG_KEYS) {
    if (getConfigKey(values, key) === undefined) {
      errors.push({ key, code: 'wrong_type', message: `${key} is missing` });
    }
  }
  return errors;
}

/** The kinds whose targets a config enables, in {@link TEST_KINDS} order. */
export function enabledKinds(values: ConfigValues): TestKind[] {
  return TEST_KINDS.filter((k) => values.tests[k].enabled);
}
