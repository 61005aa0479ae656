import { describe, expect, it } from 'vitest';
import { histBucket } from './result-headline.js';
import { type RollupInput, rollupDeltas } from './rollups.js';

const r = (o: Partial<RollupInput>): RollupInput => ({
  device_id: '2',
  ou_id: '1',
  kind: 'icmp',
  target: 'a',
  at: Date.parse('2026-12-02T10:15:30.000Z'),
  ok: true,
  latency_ms: 1,
  jitter_ms: null,
  loss_pct: null,
  ...o,
});

describe('rollupDeltas', () => {
  it('folds results into UTC minute, hour and day buckets per series', () => {
    const d = rollupDeltas([
      r({ latency_ms: 2, jitter_ms: 0.5, loss_pct: 10 }),
      r({ at: Date.parse('2026-12-02T10:15:59.999Z'), latency_ms: 4, ok: false }),
      r({ at: Date.parse('2026-12-02T10:16:00.000Z'), latency_ms: null }),
    ]);
    expect(d.map((x) => `${x.granularity} ${x.bucket} ${x.count}`)).toEqual([
      'day 2026-12-02T00:00:00.000Z 3',
      'hour 2026-12-02T10:00:00.000Z 3',
      'minute 2026-12-02T10:15:00.000Z 2',
      'minute 2026-12-02T10:16:00.000Z 1',
    ]);
    expect(d[2]).toMatchObject({ ok_count: 1, lat_count: 2, lat_sum: 6, lat_min: 2, lat_max: 4, jitter_sum: 0.5 });
    expect(d[2]).toMatchObject({ jitter_count: 1, loss_sum: 10, loss_count: 1 });
    expect(d[3]).toMatchObject({ lat_count: 0, lat_min: null, lat_max: null });
    const hist = d[0]?.hist as number[];
    expect(hist).toHaveLength(64);
    expect(hist[histBucket(2) - 1]).toBe(1);
    expect(hist[histBucket(4) - 1]).toBe(1);
    expect(hist.reduce((a, b) => a + b, 0)).toBe(2);
  });

  it('orders rows by granularity, device (numerically), kind, target, bucket', () => {
    const d = rollupDeltas([r({ device_id: '10' }), r({ device_id: '9', target: 'b' }), r({ device_id: '9' })]);
    expect(d.filter((x) => x.granularity === 'day').map((x) => `${x.device_id}/${x.target}`)).toEqual([
      '9/a',
      '9/b',
      '10/a',
    ]);
  });
});
