// The fleet summary folds per-OU counts into a subtree's children, and reuses the counts for maxAgeMs.
import { describe, expect, it } from 'vitest';
import { foldSummary, type OuCounts } from '../db/queries/fleet.js';
import { FleetSummaryService } from './fleet-summary.js';

const ou = (id: string, path: string, devices: number, more: Partial<OuCounts> = {}): OuCounts => ({
  id,
  path,
  name: `ou-${id}`,
  devices,
  online: devices,
  alerts_warning: 0,
  alerts_critical: 0,
  series: devices * 3,
  series_failing: 0,
  ...more,
});

// 1 ─┬─ 2 ── 9
//    └─ 10 (no devices)
// 3 (root, no devices) ── 4
const COUNTS = [
  ou('1', '/1/', 5, { online: 4, alerts_warning: 1 }),
  ou('2', '/1/2/', 2, { series_failing: 1 }),
  ou('9', '/1/2/9/', 3, { alerts_critical: 2, online: 1 }),
  ou('10', '/1/10/', 0),
  ou('3', '/3/', 0),
  ou('4', '/3/4/', 7),
];

describe('foldSummary', () => {
  it('roots: each root with its descendants, roots without devices anywhere left out', () => {
    expect(foldSummary(COUNTS, '/')).toEqual([
      {
        ou_id: '1',
        name: 'ou-1',
        devices: 10,
        online: 7,
        offline: 3,
        alerts_warning: 1,
        alerts_critical: 2,
        series: 30,
        series_failing: 1,
      },
      {
        ou_id: '3',
        name: 'ou-3',
        devices: 7,
        online: 7,
        offline: 0,
        alerts_warning: 0,
        alerts_critical: 0,
        series: 21,
        series_failing: 0,
      },
    ]);
  });

  it("a subtree: the parent's own devices first (ou_id null), children in id order as text", () => {
    const rows = foldSummary([...COUNTS, ou('100', '/1/100/', 1)], '/1/');
    expect(rows.map((r) => [r.ou_id, r.name, r.devices])).toEqual([
      [null, null, 5],
      ['100', 'ou-100', 1],
      ['2', 'ou-2', 5],
    ]);
  });

  it('a leaf, and an OU path no OU has', () => {
    expect(foldSummary(COUNTS, '/1/2/9/').map((r) => [r.ou_id, r.devices])).toEqual([[null, 3]]);
    expect(foldSummary(COUNTS, '/77/')).toEqual([]);
  });
});

describe('FleetSummaryService', () => {
  it('reads the counts once per maxAgeMs, and callers during a read share it', async () => {
    let now = 1000;
    let reads = 0;
    let release: (() => void) | undefined;
    const svc = new FleetSummaryService(
      async () => {
        reads++;
        await new Promise<void>((r) => (release = r));
        return COUNTS;
      },
      5000,
      () => now,
    );
    const a = svc.summary('/');
    const b = svc.summary('/1/');
    await Promise.resolve();
    release?.();
    expect((await a).length).toBe(2);
    expect((await b).length).toBe(2);
    expect(reads).toBe(1);
    now += 4999;
    await svc.summary('/3/');
    expect(reads).toBe(1);
    now += 1;
    const c = svc.summary('/');
    await Promise.resolve();
    release?.();
    await c;
    expect(reads).toBe(2);
  });

  it('a failed read is not kept: the next summary reads again', async () => {
    let fail = true;
    const svc = new FleetSummaryService(async () => {
      if (fail) throw new Error('db down');
      return COUNTS;
    }, 5000);
    await expect(svc.summary('/')).rejects.toThrow('db down');
    fail = false;
    expect((await svc.summary('/')).length).toBe(2);
  });

  it('maxAgeMs 0 reads for every summary', async () => {
    let reads = 0;
    const svc = new FleetSummaryService(async () => (reads++, COUNTS), 0);
    await svc.summary('/');
    await svc.summary('/');
    expect(reads).toBe(2);
  });
});
