// Tests: curl -w reference: argv and parser.
import { describe, expect, it } from 'vitest';
import { curlArgs, curlConnectMs, curlTtfbMs, parseCurlTimings } from './curl.js';

describe('curl reference', () => {
  it('asks for fresh connections and one write-out line per URL', () => {
    const args = curlArgs('http://127.0.0.1:1/x', 2);
    expect(args.filter((a) => a === 'http://127.0.0.1:1/x')).toHaveLength(2);
    expect(args).toContain('Connection: close');
  });

  it('parses write-out lines (captured from curl 7.88) into ms phases', () => {
    const out =
      '0.000021 0.000112 0.000000 0.000135 0.000460 0.000483\n0.000015 0.000090 0.000000 0.000101 0.000388 0.000401\n0.000013 0.000000 0.000000 0.000000 0.000000 0.000123\ncurl: (7) junk\n';
    const t = parseCurlTimings(out);
    expect(t).toHaveLength(2);
    expect(curlConnectMs(t[0]!)).toBeCloseTo(0.091, 6);
    expect(curlTtfbMs(t[0]!)).toBeCloseTo(0.325, 6);
    expect(t[1]?.total).toBeCloseTo(0.401, 6);
  });
});
