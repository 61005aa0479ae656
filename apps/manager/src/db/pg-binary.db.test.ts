// Binary array parameters decode in PostgreSQL to exactly the values encoded, NULLs and edge values included.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/test-db.js';
import { type BinaryElement, binaryArray, RecordArrayWriter } from './pg-binary.js';

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

describe('RecordArrayWriter', () => {
  interface Row {
    id: string;
    n: string;
    s: string | null;
    at: number;
    f: number | null;
    b: boolean;
    j: string | null;
  }
  /** the rows as a binary array of rk_test_rec; uuid, int8 and bool fields are NOT NULL in the writer's use */
  const encode = (rows: Row[]) => {
    const w = new RecordArrayWriter(oid, rows.length);
    for (const r of rows) {
      w.record(7);
      w.uuid(r.id);
      w.int8(r.n);
      w.text(r.s);
      w.timestamptz(r.at);
      w.float8(r.f);
      w.bool(r.b);
      w.json(r.j);
      w.endRecord();
    }
    return w.done();
  };
  let oid = 0;
  beforeAll(async () => {
    await t.pool.query(
      'CREATE TYPE rk_test_rec AS (id uuid, n bigint, s text, at timestamptz, f float8, b boolean, j json)',
    );
    oid = Number((await t.pool.query(`SELECT 'rk_test_rec'::regtype::oid AS o`)).rows[0].o);
  });

  /** The rows as PostgreSQL decodes them: each field as text, times as ms since the epoch. */
  async function decodedRows(rows: Row[]) {
    const r = await t.pool.query(
      `SELECT id::text, n::text, s, (extract(epoch FROM at) * 1000)::float8 AS at, f::text, b, j::text
       FROM unnest($1::rk_test_rec[]) WITH ORDINALITY AS u(id, n, s, at, f, b, j, k) ORDER BY k`,
      [encode(rows)],
    );
    return r.rows as { id: string | null; n: string | null; s: string | null; at: number | null; j: string | null }[];
  }

  it('every field type, edge values and NULLs arrive as sent', async () => {
    const rows: Row[] = [
      {
        id: '0190B7A28C1E7D3F9A4B5C6D7E8F9A0B',
        n: '-9223372036854775808',
        s: '',
        at: Date.parse('1999-12-31T23:59:59.999Z'),
        f: -0.5,
        b: false,
        j: '{"a":[1,2.5],"q":"é \\"x\\""}',
      },
      { id: '00000000-0000-0000-0000-000000000000', n: '0', s: null, at: 0, f: null, b: true, j: null },
      {
        id: '00000000-0000-0000-0000-000000000001',
        n: '9007199254740993',
        s: 'a\u{1F600}\u00e9,"\\',
        at: Date.parse('2026-12-07T04:30:00.123Z'),
        f: 1.7976931348623157e308,
        b: true,
        j: 'null',
      },
    ];
    // as PostgreSQL prints them: uuids lower case with hyphens, floats as text
    const printed = ['0190b7a2-8c1e-7d3f-9a4b-5c6d7e8f9a0b', rows[1]?.id, rows[2]?.id];
    const floats = ['-0.5', null, '1.7976931348623157e+308'];
    expect(await decodedRows(rows)).toEqual(rows.map((r, i) => ({ ...r, id: printed[i], f: floats[i] })));
    expect(await decodedRows([])).toEqual([]);
    // 3 bytes of UTF-8 per UTF-16 unit, the most there is: the buffer must grow to hold them all
    const wide = '\u20ac'.repeat(1000);
    const [w] = await decodedRows([{ id: '0'.repeat(32), n: '1', s: wide, at: 0, f: 1, b: true, j: `"${wide}"` }]);
    expect(w).toMatchObject({ s: wide, j: `"${wide}"` });
  });

  it('any text and any time a result can carry arrive as sent (the buffer is never too small)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            s: fc.string({ unit: 'binary', maxLength: 300 }).map((s) => s.replace(/\u0000/g, '')),
            at: fc.integer({ min: Date.parse('1970-01-01T00:00:00Z'), max: Date.parse('2200-01-01T00:00:00Z') }),
          }),
          { maxLength: 30 },
        ),
        async (xs) => {
          const rows = xs.map((x) => ({
            id: '0'.repeat(32),
            n: '1',
            s: x.s,
            at: x.at,
            f: null,
            b: false,
            j: JSON.stringify(x.s),
          }));
          const back = await decodedRows(rows);
          expect(back.map((r) => r.s)).toEqual(xs.map((x) => x.s));
          expect(back.map((r) => r.j)).toEqual(xs.map((x) => JSON.stringify(x.s)));
          expect(back.map((r) => r.at)).toEqual(xs.map((x) => x.at));
        },
      ),
      { numRuns: 50 },
    );
  });

  it('refuses a time that is not whole milliseconds', () => {
    expect(() => encode([{ id: '0'.repeat(32), n: '1', s: null, at: 1.5, f: null, b: false, j: null }])).toThrow(
      /whole milliseconds/,
    );
  });
});
