// batchSeries: each series of a batch once, with its newest row, as DISTINCT ON … ORDER BY started_at DESC picked it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resultRow } from '../../testing/result-rows.js';
import { batchSeries, type IngestRow, seriesKey } from './results.js';

const row = (device: string, target: string, at: number): IngestRow => ({
  ...resultRow({ target, at, latency: 1 }),
  device_id: device,
  ou_id: '1',
});

describe('batchSeries', () => {
  it('names each series once with the index of its newest row, the last of equal start times', () => {
    const t = Date.parse('2026-12-07T00:00:00.000Z');
    const rows = [row('1', 'a', t + 1), row('1', 'a', t + 3), row('2', 'a', t), row('1', 'a', t + 2), row('2', 'a', t)];
    expect(batchSeries(rows)).toEqual([
      { device_id: '1', kind: 'tcp', target: 'a', newest: 1 },
      { device_id: '2', kind: 'tcp', target: 'a', newest: 4 },
    ]);
  });

  it('keeps devices, kinds and targets apart even where their text runs together', () => {
    const t = Date.parse('2026-12-07T00:00:00.000Z');
    const rows = [row('1', '2\u0000tcp', t), { ...row('1', 'x', t), kind: 'tcp\u00002' }, row('12', 'x', t)];
    expect(batchSeries(rows).map((s) => s.newest)).toEqual([0, 1, 2]);
  });

  it('matches the newest row per series of any batch (property)', () => {
    const base = Date.parse('2026-12-07T00:00:00.000Z');
    const arb = fc.array(
      fc.record({ device: fc.constantFrom('1', '2', '13'), target: fc.constantFrom('a', 'b', 'a:1'), ms: fc.nat(50) }),
      { maxLength: 60 },
    );
    fc.assert(
      fc.property(arb, (xs) => {
        const rows = xs.map((x) => row(x.device, x.target, base + x.ms * 1000));
        const got = batchSeries(rows);
        const want = new Map<string, number>();
        rows.forEach((r, i) => {
          const k = seriesKey(r.device_id, r.kind, r.target);
          const j = want.get(k);
          if (j === undefined || Date.parse(r.started_at) >= Date.parse((rows[j] as IngestRow).started_at))
            want.set(k, i);
        });
        expect(got.length).toBe(want.size);
        for (const s of got) expect(s.newest).toBe(want.get(seriesKey(s.device_id, s.kind, s.target)));
      }),
      { numRuns: 300 },
    );
  });
});
