// Tests of layer validation and target syntax.
import { Value } from '@sinclair/typebox/value';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigLayerDoc, mergeLayers } from './config.js';
import { checkTarget } from './config-targets.js';
import { validateConfigValues, validateLayer } from './config-validate.js';

const codes = (doc: unknown, locked?: unknown) => validateLayer(doc, locked).map((e) => `${e.code}:${e.key}`);

describe('validateLayer', () => {
  it('accepts an empty layer and a full valid one', () => {
    expect(validateLayer({})).toEqual([]);
    const full = {
      tests: {
        http: { enabled: true, targets: ['http://127.0.0.1:8080/echo', 'https://example.test/'] },
        tcp: { enabled: true, targets: ['127.0.0.1:22', '[::1]:443', 'dns.google:853'] },
        udp: { enabled: false, targets: ['localhost:5201'] },
        icmp: { enabled: true, targets: ['127.0.0.1', '::1', 'host-1.lan'] },
        dns: { enabled: true, targets: ['example.test@127.0.0.1', 'example.test@127.0.0.1:5353', 'a.test@[::1]:53'] },
        traceroute: { enabled: false, targets: [] },
      },
      schedule: { interval_seconds: 10, offset_percent: 50 },
      thresholds: { latency_warning_ms: 0, latency_critical_ms: 0, packet_loss_critical_percent: 100 },
    };
    expect(validateLayer(full, ['tests.http.enabled', 'schedule.offset_percent'])).toEqual([]);
    expect(Value.Check(ConfigLayerDoc, full)).toBe(true);
  });

  it('reports unknown keys at any depth, and non-objects', () => {
    expect(codes({ tests: { smtp: {} }, schedul: {}, thresholds: { foo: 1 } })).toEqual([
      'unknown_key:tests.smtp',
      'unknown_key:schedul',
      'unknown_key:thresholds.foo',
    ]);
    expect(codes({ tests: { http: { enabled: true, extra: 1 } } })).toEqual(['unknown_key:tests.http.extra']);
    expect(codes([])).toEqual(['not_an_object:(root)']);
    expect(codes({ tests: 5 })).toEqual(['not_an_object:tests']);
    expect(codes({}, ['tests.http.nope', 3])).toEqual(['unknown_key:tests.http.nope', 'unknown_key:3']);
    expect(codes({}, 'tests.http.enabled')).toEqual(['wrong_type:(locked)']);
  });

  it('reports wrong types', () => {
    expect(
      codes({
        tests: { http: { enabled: 'yes', targets: 'http://x' }, tcp: { targets: [1] } },
        schedule: { interval_seconds: 30.5, offset_percent: '5' },
        thresholds: { jitter_warning_ms: Number.NaN },
      }),
    ).toEqual([
      'wrong_type:tests.http.enabled',
      'wrong_type:tests.http.targets',
      'wrong_type:tests.tcp.targets',
      'wrong_type:schedule.interval_seconds',
      'wrong_type:schedule.offset_percent',
      'wrong_type:thresholds.jitter_warning_ms',
    ]);
  });

  it('enforces interval 10..86400 s and offset 0..50 % at the boundaries', () => {
    for (const ok of [10, 86_400]) expect(codes({ schedule: { interval_seconds: ok } })).toEqual([]);
    for (const bad of [9, 86_401, 0, -10]) {
      expect(codes({ schedule: { interval_seconds: bad } })).toEqual(['out_of_range:schedule.interval_seconds']);
    }
    for (const ok of [0, 50, 12.5]) expect(codes({ schedule: { offset_percent: ok } })).toEqual([]);
    for (const bad of [-0.1, 50.1]) {
      expect(codes({ schedule: { offset_percent: bad } })).toEqual(['out_of_range:schedule.offset_percent']);
    }
  });

  it('requires non-negative thresholds, percentages ≤ 100, and warning ≤ critical within the layer', () => {
    expect(codes({ thresholds: { latency_warning_ms: -1 } })).toEqual(['out_of_range:thresholds.latency_warning_ms']);
    expect(codes({ thresholds: { packet_loss_warning_percent: 101 } })).toEqual([
      'out_of_range:thresholds.packet_loss_warning_percent',
    ]);
    expect(codes({ thresholds: { jitter_warning_ms: 201, jitter_critical_ms: 200 } })).toEqual([
      'threshold_order:thresholds.jitter_warning_ms',
    ]);
    expect(codes({ thresholds: { jitter_warning_ms: 200, jitter_critical_ms: 200 } })).toEqual([]);
  });

  it('catches a threshold order broken across layers in the merged values', () => {
    const { values } = mergeLayers([{ id: 'ou:1', doc: { thresholds: { latency_warning_ms: 900 } } }]);
    expect(validateConfigValues(values).map((e) => e.code)).toEqual(['threshold_order']);
    expect(validateConfigValues({ tests: {} }).length).toBeGreaterThan(10);
  });

  it('reports each invalid target with its index', () => {
    const errors = validateLayer({ tests: { tcp: { targets: ['127.0.0.1:22', 'nohost', 'h:0'] } } });
    expect(errors.map((e) => e.message)).toEqual([
      'tests.tcp.targets[1] "nohost": expected host:port with port 1-65535',
      'tests.tcp.targets[2] "h:0": expected host:port with port 1-65535',
    ]);
    expect(codes({ tests: { http: { targets: Array(101).fill('http://a/') } } })).toEqual([
      'out_of_range:tests.http.targets',
    ]);
  });

  it('names a locked entry that is no key, whatever it is (fast-check found {"toString": 0})', () => {
    expect(validateLayer({}, [{ toString: 0 }, 7, null]).map((e) => e.key)).toEqual(['{"toString":0}', '7', 'null']);
  });

  it('never throws on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (doc, locked) => {
        expect(Array.isArray(validateLayer(doc, locked))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe('checkTarget', () => {
  const valid: [Parameters<typeof checkTarget>[0], string][] = [
    ['http', 'https://127.0.0.1:8443/path?q=1'],
    ['http', 'http://[::1]:8080/'],
    ['tcp', 'localhost:1'],
    ['tcp', 'a.b-c.example:65535'],
    ['udp', '[fe80::1]:53'],
    ['icmp', '10.0.0.1'],
    ['icmp', 'fe80::1'],
    ['traceroute', 'router.lan'],
    ['dns', 'example.test@127.0.0.53'],
    ['dns', 'example.test@::1'],
    ['tcp', 'tcp://127.0.0.1:22'],
    ['tcp', 'tls://localhost:443'],
    ['tcp', 'ssh://server'],
    ['tcp', 'ssh://server:2222'],
    ['icmp', '[::1]'],
  ];
  const invalid: [Parameters<typeof checkTarget>[0], string][] = [
    ['http', 'ftp://host/'],
    ['http', 'not a url'],
    ['tcp', '127.0.0.1:65536'],
    ['tcp', '::1:80'],
    ['tcp', 'host:port'],
    ['udp', ' host:53'],
    ['icmp', '256.1.1.1'],
    ['icmp', 'bad_host!'],
    ['icmp', ''],
    ['traceroute', 'host:80'],
    ['dns', 'name@'],
    ['dns', '@127.0.0.1'],
    ['dns', 'example.test'],
    ['dns', 'example.test@resolver.lan'],
    ['tcp', 'http://host:80'],
    ['tcp', 'tls://host'],
  ];
  it.each(valid)('accepts %s %s', (kind, t) => expect(checkTarget(kind, t)).toBeNull());
  it.each(invalid)('rejects %s %j', (kind, t) => expect(checkTarget(kind, t)).toEqual(expect.any(String)));
});
