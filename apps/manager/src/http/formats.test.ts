// The date-time fast path answers exactly as ajv-formats' full check: it may only say yes where that does.
import { fullFormats } from 'ajv-formats/dist/formats.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCanonicalDateTime } from '../domain/iso-time.js';
import { dateTimeFormat } from './formats.js';

const full = (fullFormats['date-time'] as { validate: (s: string) => boolean }).validate;

/** `YYYY-MM-DDTHH:MM:SS.sssZ` with every field drawn from a range wider than the valid one. */
const canonicalShaped = fc
  .tuple(
    fc.integer({ min: 0, max: 9999 }),
    fc.integer({ min: 0, max: 19 }),
    fc.integer({ min: 0, max: 39 }),
    fc.integer({ min: 0, max: 29 }),
    fc.integer({ min: 0, max: 69 }),
    fc.integer({ min: 0, max: 69 }),
    fc.integer({ min: 0, max: 999 }),
  )
  .map(([y, mo, d, h, mi, s, ms]) => {
    const p = (n: number, w: number) => String(n).padStart(w, '0');
    return `${p(y, 4)}-${p(mo, 2)}-${p(d, 2)}T${p(h, 2)}:${p(mi, 2)}:${p(s, 2)}.${p(ms, 3)}Z`;
  });

describe('date-time format', () => {
  it('says yes to what Date#toISOString writes for years 0–9999', () => {
    fc.assert(
      fc.property(fc.integer({ min: -62_167_219_200_000, max: 253_402_300_799_999 }), (t) => {
        expect(isCanonicalDateTime(new Date(t).toISOString())).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('answers as ajv-formats for any text of the canonical shape, and for any text at all', () => {
    for (const arb of [canonicalShaped, fc.string({ maxLength: 30 }), fc.string({ unit: 'binary', maxLength: 30 })]) {
      fc.assert(
        fc.property(arb, (s) => {
          if (isCanonicalDateTime(s)) expect(full(s)).toBe(true);
          expect(dateTimeFormat.validate(s)).toBe(full(s));
        }),
        { numRuns: 20_000 },
      );
    }
  });

  it.each([
    ['2024-02-29T12:00:00.000Z', true, true],
    ['2023-02-29T12:00:00.000Z', false, false],
    ['2026-04-31T00:00:00.000Z', false, false],
    ['2026-12-06T24:00:00.000Z', false, false],
    ['2026-12-06T23:59:60.000Z', false, true], // a leap second: the full check decides
    ['2026-12-06t10:00:00.000z', false, true], // lower case: the full check decides
    ['2026-12-06T10:00:00+02:00', false, true],
    ['2026-12-06T10:00:00.00xZ', false, false],
    ['2026-12-06 10:00:00.000Z', false, true],
  ])('%s: fast %s, format %s', (s, fast, valid) => {
    expect(isCanonicalDateTime(s)).toBe(fast);
    expect(dateTimeFormat.validate(s)).toBe(valid);
    expect(full(s)).toBe(valid);
  });
});
