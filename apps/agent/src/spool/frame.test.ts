// Tests of spool framing: round trip, a cut at every byte (torn tail), a flipped byte anywhere (one corrupt region).
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FRAME_HEADER_BYTES, MAX_RECORD_BYTES, scanFrames } from './frame.js';

const payload = (i: number, pad = 0) =>
  Buffer.from(JSON.stringify({ id: `0190a5c0-0000-7000-8000-${String(i).padStart(12, '0')}`, pad: 'x'.repeat(pad) }));

function segmentOf(payloads: Buffer[]) {
  const frames = payloads.map(encodeFrame);
  const starts: number[] = [];
  let at = 0;
  for (const f of frames) {
    starts.push(at);
    at += f.length;
  }
  return { buf: Buffer.concat(frames), starts, ends: frames.map((f, i) => starts[i]! + f.length) };
}

describe('frames', () => {
  it('uses the standard CRC-32 (check value of "123456789" is cbf43926)', () => {
    expect(crc32('123456789').toString(16)).toBe('cbf43926');
    const f = encodeFrame(Buffer.from('123456789'));
    expect(f.readUInt32LE(0)).toBe(9);
    expect(f.readUInt32LE(4)).toBe(0xcbf43926);
    expect(f.subarray(FRAME_HEADER_BYTES).toString()).toBe('123456789');
  });

  it('refuses empty and oversized payloads', () => {
    expect(() => encodeFrame(Buffer.alloc(0))).toThrow(RangeError);
    expect(() => encodeFrame(Buffer.alloc(MAX_RECORD_BYTES + 1, 0x20))).toThrow(/allowed 1…/);
  });

  it('round-trips any sequence of payloads', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(300), { minLength: 0, maxLength: 20 }), (pads) => {
        const payloads = pads.map((p, i) => payload(i, p));
        const { buf, starts } = segmentOf(payloads);
        const scan = scanFrames(buf);
        expect(scan.corrupt).toEqual([]);
        expect(scan.torn).toBeUndefined();
        expect(scan.frames.map((f) => f.offset)).toEqual(starts);
        expect(scan.frames.map((f) => f.length)).toEqual(payloads.map((p) => p.length));
      }),
    );
  });

  it('a cut at every byte keeps exactly the complete frames before it and reports the rest as torn', () => {
    const { buf, starts, ends } = segmentOf([payload(1, 5), payload(2, 40), payload(3, 0), payload(4, 17)]);
    for (let cut = 0; cut <= buf.length; cut++) {
      const scan = scanFrames(buf.subarray(0, cut));
      const complete = ends.filter((e) => e <= cut).length;
      expect(scan.frames.map((f) => f.offset)).toEqual(starts.slice(0, complete));
      expect(scan.corrupt).toEqual([]);
      const boundary = cut === 0 || ends.includes(cut);
      expect(scan.torn).toEqual(boundary ? undefined : { offset: ends[complete - 1] ?? 0, end: cut });
    }
  });

  it('a zero-filled tail (power loss) is torn, not corrupt', () => {
    const { buf, ends } = segmentOf([payload(1), payload(2)]);
    const scan = scanFrames(Buffer.concat([buf, Buffer.alloc(4096)]));
    expect(scan.frames).toHaveLength(2);
    expect(scan.torn).toEqual({ offset: ends[1], end: ends[1]! + 4096 });
    expect(scan.corrupt).toEqual([]);
  });

  it('a flipped byte anywhere loses exactly the frame holding it, as one corrupt region', () => {
    const { buf, starts, ends } = segmentOf([payload(1, 3), payload(2, 30), payload(3, 0), payload(4, 9)]);
    for (let at = 0; at < buf.length; at++) {
      for (const mask of [0x01, 0x80, 0xff, 0x5a]) {
        const bad = Buffer.from(buf);
        bad[at] = bad[at]! ^ mask;
        const hit = ends.findIndex((e) => at < e);
        const scan = scanFrames(bad);
        expect(scan.frames.map((f) => f.offset)).toEqual(starts.filter((_, i) => i !== hit));
        expect(scan.corrupt).toEqual([{ offset: starts[hit], end: ends[hit] }]);
        expect(scan.torn).toBeUndefined();
      }
    }
  });

  it('resynchronises after garbage inserted between frames', () => {
    const { buf, ends } = segmentOf([payload(1), payload(2)]);
    const garbage = Buffer.from('not a frame at all, \u0000\u0001 just noise');
    const tail = encodeFrame(payload(3));
    const scan = scanFrames(Buffer.concat([buf, garbage, tail]));
    expect(scan.frames).toHaveLength(3);
    expect(scan.corrupt).toEqual([{ offset: ends[1], end: ends[1]! + garbage.length }]);
  });
});
