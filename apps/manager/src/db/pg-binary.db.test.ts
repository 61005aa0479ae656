// Binary array parameters decode in PostgreSQL to exactly the values encoded, NULLs and edge values included.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/test-db.js';
import { type BinaryElement, binaryArray } from './pg-binary.js';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

/** The array as PostgreSQL decodes it, each element rendered as text (NULL as null). */
async function decoded(type: BinaryElement, values: readonly unknown[]): Promise<(string | null)[]> {
  const buf = binaryArray(type, values as never);
  const r = await t.pool.query<{ v: string | null }>(
    `SELECT v::text AS v FROM unnest($1::${type}[]) WITH ORDINALITY AS u(v, n) ORDER BY n`,
    [buf],
  );
  return r.rows.map((x) => x.v);
}

describe('binaryArray', () => {
  it('uuid: with or without hyphens, any case; NULL', async () => {
    expect(
      await decoded('uuid', [
        '0190b7a2-8c1e-7d3f-9a4b-5c6d7e8f9a0b',
        'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF',
        null,
        '00000000000000000000000000000000',
      ]),
    ).toEqual([
      '0190b7a2-8c1e-7d3f-9a4b-5c6d7e8f9a0b',
      'ffffffff-ffff-ffff-ffff-ffffffffffff',
      null,
      '00000000-0000-0000-0000-000000000000',
    ]);
  });

  it('int8: small, negative, around 2^32 and 2^53, the int64 limits', async () => {
    const vals = [
      '0',
      '1',
      '-1',
      '4294967295',
      '4294967296',
      '-4294967297',
      '9007199254740993',
      '9223372036854775807',
      '-9223372036854775808',
    ];
    expect(await decoded('int8', [...vals, null])).toEqual([...vals, null]);
  });

  it('float8, bool and NULLs', async () => {
    expect(await decoded('float8', [0, -0.5, 1.734, 1e-300, 1.7976931348623157e308, null])).toEqual([
      '0',
      '-0.5',
      '1.734',
      '1e-300',
      '1.7976931348623157e+308',
      null,
    ]);
    expect(await decoded('bool', [true, false, null])).toEqual(['true', 'false', null]);
  });

  it('text and json: any Unicode (but U+0000) arrives as sent, the empty string too', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.option(
            fc.string({ unit: 'binary' }).map((s) => s.replace(/\u0000/g, '')),
            { nil: null },
          ),
          { maxLength: 20 },
        ),
        async (vals) => {
          expect(await decoded('text', vals)).toEqual(vals);
        },
      ),
      { numRuns: 50 },
    );
    const doc = JSON.stringify({ a: 'é "q" \\ {x}', n: [1, 2.5], z: null });
    expect(await decoded('json', [doc, null])).toEqual([doc, null]);
  });

  it('an empty array', async () => {
    expect(await decoded('uuid', [])).toEqual([]);
  });

  it('refuses values that are not of the type', () => {
    for (const bad of [
      'not-a-uuid',
      '0190b7a2-8c1e-7d3f-9a4b-5c6d7e8f9a0',
      '0190b7a2-8c1e-7d3f-9a4b-5c6d7e8f9a0g',
      '0190b7a28-c1e-7d3f-9a4b-5c6d7e8f9a0b',
      '0190b7a2-8c1e-7d3f-9a4b+5c6d7e8f9a0b',
      'ffffffffffffffffffffffffffffffff0',
      'fffffffffffffffffffffffffffffff\u00e9',
      'fffffffffffffffffffffffffffffff\u0660',
    ])
      expect(() => binaryArray('uuid', [bad]), bad).toThrow(/not a uuid/);
    expect(() => binaryArray('int8', ['1.5'])).toThrow(/not an int8/);
    expect(() => binaryArray('int8', ['12x'])).toThrow(/not an int8/);
  });
});
