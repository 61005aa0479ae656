// Property and example tests of the config model: per-key merge, provenance, locks, jittered draws.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONFIG_KEYS,
  type ConfigKey,
  type ConfigLayer,
  type ConfigLayerDoc,
  type ConfigLeaf,
  DEFAULT_CONFIG_VALUES,
  DEFAULT_LAYER_ID,
  drawCheckin,
  drawTestInterval,
  getConfigKey,
  mergeLayers,
  setConfigKey,
} from './config.js';
import { validateConfigValues } from './config-validate.js';

/** A valid leaf value for `key` (targets are opaque strings here: the merge never inspects them). */
function leafArb(key: ConfigKey): fc.Arbitrary<ConfigLeaf> {
  if (key.endsWith('.enabled')) return fc.boolean();
  if (key.endsWith('.targets'))
    return fc.array(fc.constantFrom('a.example:1', 'b.example:2', '127.0.0.1:3'), { maxLength: 3 });
  if (key === 'schedule.interval_seconds') return fc.integer({ min: 10, max: 86_400 });
  if (key === 'schedule.offset_percent') return fc.integer({ min: 0, max: 50 });
  return fc.integer({ min: 0, max: 100 });
}

const layerArb = (id: string): fc.Arbitrary<ConfigLayer & { flat: Map<ConfigKey, ConfigLeaf> }> =>
  fc
    .tuple(
      fc
        .subarray([...CONFIG_KEYS])
        .chain((keys) =>
          fc.tuple(...keys.map((k) => leafArb(k).map((v) => [k, v] as const))).map((pairs) => new Map(pairs)),
        ),
      fc.subarray([...CONFIG_KEYS], { maxLength: 4 }),
    )
    .map(([flat, locked]) => {
      const doc: Record<string, unknown> = {};
      for (const [k, v] of flat) setConfigKey(doc, k, v);
      return { id, doc: doc as ConfigLayerDoc, locked, flat };
    });

const chainArb = fc
  .integer({ min: 0, max: 5 })
  .chain((n) =>
    fc.tuple(...['global', ...Array.from({ length: n }, (_, i) => `ou:${i + 1}`), 'device:42'].map(layerArb)),
  );

/** Reference model: walk layers in order, first lock wins, later values replace earlier ones. */
function expected(layers: (ConfigLayer & { flat: Map<ConfigKey, ConfigLeaf> })[], key: ConfigKey) {
  let value = getConfigKey(DEFAULT_CONFIG_VALUES, key);
  let from = DEFAULT_LAYER_ID;
  let lockedBy: string | undefined;
  for (const layer of layers) {
    if (layer.flat.has(key) && lockedBy === undefined) {
      value = layer.flat.get(key);
      from = layer.id;
    }
    if (lockedBy === undefined && layer.locked?.includes(key)) lockedBy = layer.id;
  }
  return { value, from, lockedBy };
}

describe('mergeLayers', () => {
  it('gives every key the value and provenance of the last layer that set it before any lock', () => {
    fc.assert(
      fc.property(chainArb, (layers) => {
        const result = mergeLayers(layers);
        for (const key of CONFIG_KEYS) {
          const want = expected(layers, key);
          expect(getConfigKey(result.values, key)).toEqual(want.value);
          expect(result.provenance[key]).toBe(want.from);
          expect(result.locked[key]).toBe(want.lockedBy);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never lets a layer below a lock change the locked key, and reports each ignored value', () => {
    fc.assert(
      fc.property(chainArb, (layers) => {
        const result = mergeLayers(layers);
        for (const [key, lockedBy] of Object.entries(result.locked) as [ConfigKey, string][]) {
          const lockIndex = layers.findIndex((l) => l.id === lockedBy);
          const atLock = mergeLayers(layers.slice(0, lockIndex + 1));
          expect(getConfigKey(result.values, key)).toEqual(getConfigKey(atLock.values, key));
          const below = layers.slice(lockIndex + 1).filter((l) => l.flat.has(key));
          const reported = result.ignored.filter((i) => i.key === key);
          expect(reported.map((i) => i.layer)).toEqual(below.map((l) => l.id));
          expect(reported.every((i) => i.locked_by === lockedBy)).toBe(true);
        }
        const lockedKeys = new Set(Object.keys(result.locked));
        expect(result.ignored.every((i) => lockedKeys.has(i.key))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('replaces target arrays instead of concatenating them', () => {
    const { values, provenance } = mergeLayers([
      { id: 'global', doc: { tests: { tcp: { enabled: true, targets: ['a.example:1', 'b.example:2'] } } } },
      { id: 'ou:3', doc: { tests: { tcp: { targets: ['c.example:3'] } } } },
    ]);
    expect(values.tests.tcp).toEqual({ enabled: true, targets: ['c.example:3'] });
    expect(provenance['tests.tcp.enabled']).toBe('global');
    expect(provenance['tests.tcp.targets']).toBe('ou:3');
  });

  it('pins an inherited value when a layer locks a key it does not set', () => {
    const { values, ignored, provenance } = mergeLayers([
      { id: 'global', doc: { schedule: { interval_seconds: 600 } } },
      { id: 'ou:1', doc: {}, locked: ['schedule.interval_seconds'] },
      { id: 'device:9', doc: { schedule: { interval_seconds: 60, offset_percent: 5 } } },
    ]);
    expect(values.schedule).toEqual({ interval_seconds: 600, offset_percent: 5 });
    expect(provenance['schedule.interval_seconds']).toBe('global');
    expect(ignored).toEqual([{ key: 'schedule.interval_seconds', layer: 'device:9', locked_by: 'ou:1', value: 60 }]);
  });

  it('returns the defaults, all from "default", for no layers, without aliasing them', () => {
    const result = mergeLayers([]);
    expect(result.values).toEqual(DEFAULT_CONFIG_VALUES);
    expect(new Set(Object.values(result.provenance))).toEqual(new Set([DEFAULT_LAYER_ID]));
    result.values.tests.http.targets.push('x');
    expect(DEFAULT_CONFIG_VALUES.tests.http.targets).toEqual([]);
    expect(validateConfigValues(DEFAULT_CONFIG_VALUES)).toEqual([]);
  });
});

describe('drawTestInterval', () => {
  it('stays within ±offset over 10 000 draws for any interval and offset', () => {
    fc.assert(
      fc.property(fc.integer({ min: 10, max: 86_400 }), fc.double({ min: 0, max: 50, noNaN: true }), (i, o) => {
        const draws = Array.from({ length: 10_000 }, () => drawTestInterval(i, o));
        expect(draws.every(Number.isInteger)).toBe(true);
        expect(Math.min(...draws)).toBeGreaterThanOrEqual(i * (1 - o / 100) - 1e-9);
        expect(Math.max(...draws)).toBeLessThanOrEqual(i * (1 + o / 100) + 1e-9);
      }),
      { numRuns: 20 },
    );
  });

  it('reaches both ends of the band and is exact with no offset', () => {
    expect(drawTestInterval(300, 15, () => 0)).toBe(255);
    expect(drawTestInterval(300, 15, () => 0.999_999_9)).toBe(345);
    expect(drawTestInterval(300, 0, () => 0.7)).toBe(300);
    const seen = new Set(Array.from({ length: 10_000 }, () => drawTestInterval(300, 15)));
    expect(Math.min(...seen)).toBeLessThan(260);
    expect(Math.max(...seen)).toBeGreaterThan(340);
  });
});

describe('drawCheckin', () => {
  it('stays within [min, max] over 10 000 draws and defaults to 30–60 min', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 0, max: 10_000 }), (min, width) => {
        const draws = Array.from({ length: 10_000 }, () => drawCheckin(min, min + width));
        expect(draws.every(Number.isInteger)).toBe(true);
        expect(Math.min(...draws)).toBeGreaterThanOrEqual(min);
        expect(Math.max(...draws)).toBeLessThanOrEqual(min + width);
      }),
      { numRuns: 20 },
    );
    expect(drawCheckin(undefined, undefined, () => 0)).toBe(1800);
    expect(drawCheckin(undefined, undefined, () => 0.999_999_9)).toBe(3600);
  });
});
