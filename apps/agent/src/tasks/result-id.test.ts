// Tests of the UUIDv7 result-id generator: layout, embedded time, strict order under a stalled or stepped-back clock.
import { describe, expect, it } from 'vitest';
import { newResultId, UUIDV7_PATTERN, UuidV7Generator, uuidV7Time } from './result-id.js';

describe('UuidV7Generator', () => {
  it('lays out version 7, variant 10 and the millisecond timestamp (RFC 9562 example time)', () => {
    // RFC 9562 appendix A.6: 2022-02-22T19:22:22Z = 0x017F22E279B0 → "017f22e2-79b0-7…"
    const gen = new UuidV7Generator(() => 0x017f22e279b0);
    const id = gen.next();
    expect(id).toMatch(UUIDV7_PATTERN);
    expect(id.startsWith('017f22e2-79b0-7')).toBe(true);
    expect(uuidV7Time(id)).toBe(Date.parse('2022-02-22T19:22:22Z'));
    expect(newResultId()).toMatch(UUIDV7_PATTERN);
  });

  it('keeps the full 48-bit range', () => {
    const max = 2 ** 48 - 1;
    const id = new UuidV7Generator(() => max).next();
    expect(id.startsWith('ffffffff-ffff-7')).toBe(true);
    expect(uuidV7Time(id)).toBe(max);
  });

  it('is strictly increasing (as text) within one millisecond, across counter overflow', () => {
    const gen = new UuidV7Generator(() => 1_700_000_000_000);
    const ids = Array.from({ length: 10_000 }, () => gen.next());
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    // 10k ids in one frozen millisecond borrow a few following milliseconds, never more than needed
    expect(uuidV7Time(ids.at(-1)!) - 1_700_000_000_000).toBeLessThanOrEqual(5);
  });

  it('stays ordered when the clock steps back', () => {
    let now = 2_000_000;
    const gen = new UuidV7Generator(() => now);
    const a = gen.next();
    now -= 60_000;
    const b = gen.next();
    now += 120_000;
    const c = gen.next();
    expect(b > a).toBe(true);
    expect(c > b).toBe(true);
    expect(uuidV7Time(b)).toBe(2_000_000);
    expect(uuidV7Time(c)).toBe(2_060_000);
  });
});
