// How an upload's start time becomes the text rows, alerts and the live feed compare.
import { describe, expect, it } from 'vitest';
import { canonicalTime } from './results.js';

const canon = (s: string) => canonicalTime(s, Date.parse(s));

describe('canonicalTime', () => {
  it('keeps the form Date#toISOString writes', () => {
    for (const s of ['2026-12-06T01:02:03.456Z', '2024-02-29T23:59:59.999Z', '1999-12-31T00:00:00.000Z'])
      expect(canon(s)).toBe(s);
  });

  it('rewrites every other form the date-time format admits into it', () => {
    expect(canon('2026-12-06t01:02:03.456z')).toBe('2026-12-06T01:02:03.456Z');
    expect(canon('2026-12-06 01:02:03Z')).toBe('2026-12-06T01:02:03.000Z');
    expect(canon('2026-12-06T03:02:03.456+02:00')).toBe('2026-12-06T01:02:03.456Z');
    expect(canon('2026-12-06T01:02:03.4567Z')).toBe('2026-12-06T01:02:03.456Z');
  });

  it('never keeps a text whose day rolled over in parsing', () => {
    // the schema refuses these; if one got through, the stored text still matches the stored time
    expect(canon('2026-02-30T00:00:00.000Z')).toBe('2026-03-02T00:00:00.000Z');
    expect(canon('2026-02-29T24:00:00.000Z')).toBe('2026-03-02T00:00:00.000Z');
    expect(canon('2026-04-30T24:00:00.000Z')).toBe('2026-05-01T00:00:00.000Z');
  });
});
