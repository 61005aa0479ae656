// Export lines: NDJSON that parses back to the stored result, CSV that an RFC 4180 reader splits back into the
// same cells, with formula-like text defused.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  acceptsGzip,
  CSV_COLUMNS,
  CSV_HEADER,
  csvText,
  type ExportRow,
  exportLines,
  ndjsonLine,
} from './result-export.js';

/** A strict RFC 4180 reader (quoted fields, doubled quotes, CRLF records): the reference for the writer. */
function readCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"' && field === '') {
      i++;
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted field');
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += text[i++];
      }
      if (i < text.length && text[i] !== ',' && !text.startsWith('\r\n', i))
        throw new Error(`junk after quote at ${i}`);
    } else if (text[i] === ',') {
      record.push(field);
      field = '';
      i++;
    } else if (text.startsWith('\r\n', i)) {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      i += 2;
    } else {
      if (text[i] === '"' || text[i] === '\n' || text[i] === '\r')
        throw new Error(`bare ${JSON.stringify(text[i])} at ${i}`);
      field += text[i++];
    }
  }
  if (field !== '' || record.length) throw new Error('last record without CRLF');
  return records;
}

const row = (o: Partial<ExportRow> = {}): ExportRow => ({
  id: '01938f5e-8f4a-7c3b-9a2d-5e6f7a8b9c0d',
  device_id: '42',
  kind: 'icmp',
  target: '10.0.0.1',
  started_at: '2026-12-07T03:30:00.123Z',
  duration_ms: 1000,
  ok: true,
  error_code: null,
  error_message: null,
  latency_ms: 0.731,
  jitter_ms: 0.02,
  loss_pct: 0,
  metrics: '{"rtt":{"avgMs":0.731},"lossPct":0}',
  ...o,
});

const anyText = fc.string({ unit: 'binary', maxLength: 40 });
const anyRow = fc.record({
  target: anyText,
  error: fc.option(fc.tuple(anyText, anyText)),
  latency: fc.option(fc.double({ noNaN: true, noDefaultInfinity: true })),
  metrics: fc.dictionary(anyText, fc.oneof(anyText, fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean())),
  ok: fc.boolean(),
});
const toRow = (x: {
  target: string;
  error: [string, string] | null;
  latency: number | null;
  metrics: Record<string, unknown>;
  ok: boolean;
}) =>
  row({
    target: x.target,
    error_code: x.error?.[0] ?? null,
    error_message: x.error?.[1] ?? null,
    latency_ms: x.latency,
    ok: x.ok,
    metrics: JSON.stringify(x.metrics),
  });

describe('NDJSON', () => {
  it('is one line per result that parses to the raw listing’s item, metrics included', () => {
    const r = row({ ok: false, error_code: 'timeout', error_message: 'no reply\nat all', latency_ms: null });
    const line = ndjsonLine(r);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      id: r.id,
      device_id: 42,
      kind: 'icmp',
      target: '10.0.0.1',
      started_at: '2026-12-07T03:30:00.123Z',
      duration_ms: 1000,
      ok: false,
      error: { code: 'timeout', message: 'no reply\nat all' },
      latency_ms: null,
      jitter_ms: 0.02,
      loss_pct: 0,
      metrics: { rtt: { avgMs: 0.731 }, lossPct: 0 },
    });
  });

  it('round-trips any text and metrics', () => {
    fc.assert(
      fc.property(anyRow, (x) => {
        const r = toRow(x);
        const back = JSON.parse(ndjsonLine(r));
        expect(back.target).toBe(r.target);
        expect(back.error).toEqual(r.error_code === null ? null : { code: r.error_code, message: r.error_message });
        // JSON has no negative zero
        expect(back.latency_ms).toBe(r.latency_ms === null ? null : r.latency_ms + 0);
        expect(back.metrics).toEqual(JSON.parse(r.metrics));
      }),
    );
  });
});

describe('CSV', () => {
  it('has a header and one CRLF record per result, nulls as empty cells', () => {
    const text = CSV_HEADER + exportLines('csv', [row(), row({ latency_ms: null, jitter_ms: null, loss_pct: null })]);
    const [header, a, b] = readCsv(text);
    expect(header).toEqual([...CSV_COLUMNS]);
    expect(a).toEqual([
      '01938f5e-8f4a-7c3b-9a2d-5e6f7a8b9c0d',
      '42',
      'icmp',
      '10.0.0.1',
      '2026-12-07T03:30:00.123Z',
      '1000',
      'true',
      '',
      '',
      '0.731',
      '0.02',
      '0',
      '{"rtt":{"avgMs":0.731},"lossPct":0}',
    ]);
    expect(b?.slice(9, 12)).toEqual(['', '', '']);
  });

  it('quotes commas, quotes and line breaks, and defuses text that a spreadsheet would run as a formula', () => {
    expect(csvText('a,b')).toBe('"a,b"');
    expect(csvText('say "hi"')).toBe('"say ""hi"""');
    expect(csvText('two\r\nlines')).toBe('"two\r\nlines"');
    expect(csvText('=HYPERLINK("http://x")')).toBe(`"'=HYPERLINK(""http://x"")"`);
    for (const s of ['+1', '-1', '@SUM(A1)', '\tx', '\rx'])
      expect(csvText(s).replace(/^"/, '').startsWith(`'`)).toBe(true);
    expect(csvText('-1', false)).toBe('-1');
    expect(csvText('https://example.com/?a=1')).toBe('https://example.com/?a=1');
  });

  it('any text reads back as the same cells (formula-like text with its leading quote)', () => {
    fc.assert(
      fc.property(fc.array(anyRow, { maxLength: 5 }), (xs) => {
        const rows = xs.map(toRow);
        const records = readCsv(exportLines('csv', rows));
        expect(records).toHaveLength(rows.length);
        records.forEach((cells, i) => {
          const r = rows[i] as ExportRow;
          const defused = (s: string) => (/^[=+\-@\t\r]/.test(s) ? `'${s}` : s);
          expect(cells).toHaveLength(CSV_COLUMNS.length);
          expect(cells[3]).toBe(defused(r.target));
          expect(cells[7]).toBe(r.error_code === null ? '' : defused(r.error_code));
          expect(cells[8]).toBe(r.error_message === null ? '' : defused(r.error_message));
          expect(cells[9]).toBe(r.latency_ms === null ? '' : String(r.latency_ms));
          expect(cells[12]).toBe(r.metrics);
        });
      }),
    );
  });
});

describe('Accept-Encoding', () => {
  it('gzip when named or matched by * with a quality above 0', () => {
    for (const h of ['gzip', 'gzip, deflate, br', 'br;q=1.0, gzip;q=0.5', 'x-gzip', '*', 'deflate, *;q=0.1', 'GZIP'])
      expect(acceptsGzip(h), h).toBe(true);
    expect(acceptsGzip(['deflate', 'gzip'])).toBe(true);
  });

  it('not when absent, refused (q=0, also over *), or only other codings', () => {
    for (const h of [undefined, '', 'identity', 'br, deflate', 'gzip;q=0', 'gzip;q=0, *', '*;q=0', 'gzip;q=abc'])
      expect(acceptsGzip(h), String(h)).toBe(false);
  });
});
