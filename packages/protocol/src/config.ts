// Config model shared by manager and agent: schemas, dotted keys, defaults, per-key layered merge, jittered draws.
import { Type, type Static } from '@sinclair/typebox';

/** Probe kinds an agent can run; each has a `tests.<kind>` section in the config. */
export const TEST_KINDS = ['http', 'tcp', 'udp', 'icmp', 'dns', 'traceroute'] as const;
export type TestKind = (typeof TEST_KINDS)[number];

/** Limits every layer and every effective config must respect. */
export const CONFIG_LIMITS = {
  /** test interval bounds, seconds */
  intervalSeconds: { min: 10, max: 86_400 },
  /** jitter around the test interval, percent */
  offsetPercent: { min: 0, max: 50 },
  /** targets per kind */
  maxTargets: 100,
  /** characters per target */
  maxTargetLength: 2048,
} as const;

export const TestKindConfig = Type.Object(
  {
    enabled: Type.Boolean(),
    targets: Type.Array(Type.String({ minLength: 1, maxLength: CONFIG_LIMITS.maxTargetLength }), {
      maxItems: CONFIG_LIMITS.maxTargets,
    }),
  },
  { title: 'TestKindConfig' },
);
export type TestKindConfig = Static<typeof TestKindConfig>;

export const TestsConfig = Type.Object(
  {
    http: TestKindConfig,
    tcp: TestKindConfig,
    udp: TestKindConfig,
    icmp: TestKindConfig,
    dns: TestKindConfig,
    traceroute: TestKindConfig,
  },
  { title: 'TestsConfig' },
);
export type TestsConfig = Static<typeof TestsConfig>;

export const ScheduleSettings = Type.Object(
  {
    interval_seconds: Type.Integer({
      minimum: CONFIG_LIMITS.intervalSeconds.min,
      maximum: CONFIG_LIMITS.intervalSeconds.max,
      description: 'nominal time between test runs, seconds',
    }),
    offset_percent: Type.Number({
      minimum: CONFIG_LIMITS.offsetPercent.min,
      maximum: CONFIG_LIMITS.offsetPercent.max,
      description: 'each run is drawn within ±offset_percent of interval_seconds',
    }),
  },
  { title: 'ScheduleSettings' },
);
export type ScheduleSettings = Static<typeof ScheduleSettings>;

export const Thresholds = Type.Object(
  {
    latency_warning_ms: Type.Number({ minimum: 0 }),
    latency_critical_ms: Type.Number({ minimum: 0 }),
    jitter_warning_ms: Type.Number({ minimum: 0 }),
    jitter_critical_ms: Type.Number({ minimum: 0 }),
    packet_loss_warning_percent: Type.Number({ minimum: 0, maximum: 100 }),
    packet_loss_critical_percent: Type.Number({ minimum: 0, maximum: 100 }),
  },
  { title: 'Thresholds' },
);
export type Thresholds = Static<typeof Thresholds>;

/** The complete set of settings a merge produces (the wire config minus the per-response draws). */
export const ConfigValues = Type.Object(
  { tests: TestsConfig, schedule: ScheduleSettings, thresholds: Thresholds },
  { title: 'ConfigValues' },
);
export type ConfigValues = Static<typeof ConfigValues>;

const PartialKind = Type.Partial(TestKindConfig, { additionalProperties: false });

/** A layer's partial, nested document: any subset of the leaf keys of {@link ConfigValues}. */
export const ConfigLayerDoc = Type.Object(
  {
    tests: Type.Optional(
      Type.Object(
        {
          http: Type.Optional(PartialKind),
          tcp: Type.Optional(PartialKind),
          udp: Type.Optional(PartialKind),
          icmp: Type.Optional(PartialKind),
          dns: Type.Optional(PartialKind),
          traceroute: Type.Optional(PartialKind),
        },
        { additionalProperties: false },
      ),
    ),
    schedule: Type.Optional(Type.Partial(ScheduleSettings, { additionalProperties: false })),
    thresholds: Type.Optional(Type.Partial(Thresholds, { additionalProperties: false })),
  },
  { title: 'ConfigLayerDoc', additionalProperties: false },
);
export type ConfigLayerDoc = Static<typeof ConfigLayerDoc>;

const THRESHOLD_NAMES = [
  'latency_warning_ms',
  'latency_critical_ms',
  'jitter_warning_ms',
  'jitter_critical_ms',
  'packet_loss_warning_percent',
  'packet_loss_critical_percent',
] as const satisfies readonly (keyof Thresholds)[];

/** Every leaf key in dotted form. Arrays (targets) are leaves: a layer replaces them whole. */
export const CONFIG_KEYS = [
  ...TEST_KINDS.flatMap((k) => [`tests.${k}.enabled`, `tests.${k}.targets`] as const),
  'schedule.interval_seconds',
  'schedule.offset_percent',
  ...THRESHOLD_NAMES.map((t) => `thresholds.${t}` as const),
] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

/** True when `key` is one of {@link CONFIG_KEYS}. */
export function isConfigKey(key: string): key is ConfigKey {
  return (CONFIG_KEYS as readonly string[]).includes(key);
}

/** Default test interval, seconds. */
export const DEFAULT_INTERVAL_SECONDS = 300;
/** Default jitter around the test interval, percent. */
export const DEFAULT_OFFSET_PERCENT = 15;
/** Config check-in window, seconds (seed: 30–60 min). */
export const DEFAULT_CHECKIN_MIN_SECONDS = 1800;
export const DEFAULT_CHECKIN_MAX_SECONDS = 3600;

/** Built-in values under every merge (layer id {@link DEFAULT_LAYER_ID}); thresholds as in the seed. */
export const DEFAULT_CONFIG_VALUES: ConfigValues = {
  tests: {
    http: { enabled: true, targets: [] },
    tcp: { enabled: true, targets: [] },
    udp: { enabled: false, targets: [] },
    icmp: { enabled: true, targets: [] },
    dns: { enabled: false, targets: [] },
    traceroute: { enabled: false, targets: [] },
  },
  schedule: { interval_seconds: DEFAULT_INTERVAL_SECONDS, offset_percent: DEFAULT_OFFSET_PERCENT },
  thresholds: {
    latency_warning_ms: 100,
    latency_critical_ms: 500,
    jitter_warning_ms: 50,
    jitter_critical_ms: 200,
    packet_loss_warning_percent: 1.0,
    packet_loss_critical_percent: 5.0,
  },
};

/** Provenance id of the built-in defaults (keys no layer sets). */
export const DEFAULT_LAYER_ID = 'default';

/** Value type of one leaf key. */
export type ConfigLeaf = boolean | number | string[];

/** Reads the value at a dotted key of a (possibly partial) nested document; undefined when absent. */
export function getConfigKey(doc: unknown, key: string): unknown {
  let node: unknown = doc;
  for (const part of key.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    if (!Object.hasOwn(node, part)) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

/** Writes `value` at a dotted key of a nested document, creating intermediate objects. Mutates `doc`. */
export function setConfigKey(doc: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = doc;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

/** Flattens a layer document to its present leaf keys (unknown keys are skipped; validate first). */
export function flattenLayerDoc(doc: ConfigLayerDoc): Map<ConfigKey, ConfigLeaf> {
  const out = new Map<ConfigKey, ConfigLeaf>();
  for (const key of CONFIG_KEYS) {
    const v = getConfigKey(doc, key);
    if (v !== undefined) out.set(key, v as ConfigLeaf);
  }
  return out;
}

/** One step of the inheritance chain: global default → OU (root first) → device. */
export interface ConfigLayer {
  /** provenance id: "global", "ou:<id>", "device:<id>" */
  id: string;
  /** the keys this layer sets */
  doc: ConfigLayerDoc;
  /** keys no later layer may override (the value in force at this layer is pinned) */
  locked?: readonly ConfigKey[];
}

/** A value a later layer set for a key an earlier layer had locked; it was not applied. */
export interface IgnoredOverride {
  key: ConfigKey;
  /** layer whose value was ignored */
  layer: string;
  /** layer that locked the key */
  locked_by: string;
  value: ConfigLeaf;
}

export interface MergeResult {
  /** the effective values */
  values: ConfigValues;
  /** for every key, the id of the layer its value came from ({@link DEFAULT_LAYER_ID} if none set it) */
  provenance: Record<ConfigKey, string>;
  /** for every locked key, the id of the first layer that locked it */
  locked: Partial<Record<ConfigKey, string>>;
  /** overrides dropped because of a lock, in layer order */
  ignored: IgnoredOverride[];
}

/**
 * Merges layers per leaf key, in order (first = highest in the tree, e.g. global; last = device).
 * A later layer's value replaces the earlier one (arrays included, never concatenated) unless an
 * earlier layer locked the key; then the later value is reported in `ignored`. A lock pins the value
 * in force at the locking layer, whether that layer set it or inherited it. Pure; never throws.
 */
export function mergeLayers(layers: readonly ConfigLayer[]): MergeResult {
  const values = structuredClone(DEFAULT_CONFIG_VALUES) as unknown as Record<string, unknown>;
  const provenance = Object.fromEntries(CONFIG_KEYS.map((k) => [k, DEFAULT_LAYER_ID])) as Record<ConfigKey, string>;
  const locked: Partial<Record<ConfigKey, string>> = {};
  const ignored: IgnoredOverride[] = [];
  for (const layer of layers) {
    for (const [key, value] of flattenLayerDoc(layer.doc)) {
      const lockedBy = locked[key];
      if (lockedBy !== undefined) {
        ignored.push({ key, layer: layer.id, locked_by: lockedBy, value: structuredClone(value) });
        continue;
      }
      setConfigKey(values, key, structuredClone(value));
      provenance[key] = layer.id;
    }
    for (const key of layer.locked ?? []) {
      if (isConfigKey(key) && locked[key] === undefined) locked[key] = layer.id;
    }
  }
  return { values: values as unknown as ConfigValues, provenance, locked, ignored };
}

/** Random source returning a float in [0, 1), like Math.random. */
export type Rng = () => number;

/**
 * Draws one test interval within ±offsetPercent of `intervalSeconds`, rounded to whole seconds and
 * never outside that band (nor below 1 s).
 * @param intervalSeconds nominal interval, seconds (integer)
 * @param offsetPercent jitter, percent of the interval (0 = no jitter)
 * @param rng random source, default Math.random
 */
export function drawTestInterval(intervalSeconds: number, offsetPercent: number, rng: Rng = Math.random): number {
  const spread = (intervalSeconds * Math.max(0, offsetPercent)) / 100;
  const lo = Math.max(1, Math.ceil(intervalSeconds - spread));
  const hi = Math.max(lo, Math.floor(intervalSeconds + spread));
  const drawn = Math.round(intervalSeconds - spread + rng() * 2 * spread);
  return Math.min(hi, Math.max(lo, drawn));
}

/**
 * Draws a config check-in delay, whole seconds uniformly in [minSeconds, maxSeconds].
 * @param minSeconds lower bound, default 1800
 * @param maxSeconds upper bound (raised to minSeconds if smaller), default 3600
 * @param rng random source, default Math.random
 */
export function drawCheckin(
  minSeconds = DEFAULT_CHECKIN_MIN_SECONDS,
  maxSeconds = DEFAULT_CHECKIN_MAX_SECONDS,
  rng: Rng = Math.random,
): number {
  const lo = Math.ceil(minSeconds);
  const hi = Math.max(lo, Math.floor(maxSeconds));
  return Math.min(hi, lo + Math.floor(rng() * (hi - lo + 1)));
}
