// Byte-level I/O on segments: full writes, reading pending frames back, decoding and checking them.
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import type { ResultEnvelope } from '@rookery/protocol';
import { FRAME_HEADER_BYTES } from './frame.js';
import type { SegmentState } from './recovery.js';

/** Writes all of `buf` (a short write continues); throws the first error (the caller truncates back). */
export async function writeAll(fh: FileHandle, buf: Buffer): Promise<void> {
  for (let done = 0; done < buf.length;) done += (await fh.write(buf, done, buf.length - done)).bytesWritten;
}

/** Pending frames of one segment, `[offset, frame bytes]` in file order. */
export interface SegmentPicks {
  seg: SegmentState;
  picks: [number, number][];
}

/** The oldest pending frames across segments: at most `maxRecords`, and `maxBytes` of frames past the first. */
export function pickPending(segments: SegmentState[], maxRecords: number, maxBytes: number): SegmentPicks[] {
  const out: SegmentPicks[] = [];
  let taken = 0;
  let bytes = 0;
  for (const seg of segments) {
    const picks: [number, number][] = [];
    for (const [offset, length] of seg.pending) {
      if (taken >= maxRecords || (taken > 0 && bytes + length > maxBytes)) break;
      picks.push([offset, length]);
      taken++;
      bytes += length;
    }
    if (picks.length > 0) out.push({ seg, picks });
    if (taken >= maxRecords || bytes >= maxBytes || picks.length < seg.pending.size) break;
  }
  return out;
}

/** Reads the bytes from the first pick's offset to the end of the last one (one read). Throws if unreadable. */
export async function readSpan(file: string, picks: [number, number][]): Promise<Buffer> {
  const start = picks[0]![0];
  const [lastOffset, lastLength] = picks.at(-1)!;
  const span = Buffer.alloc(lastOffset + lastLength - start);
  const fh = await open(file, 'r');
  try {
    const { bytesRead } = await fh.read(span, 0, span.length, start);
    return span.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** The envelope in a frame read back from disk, or undefined when its length, CRC or JSON is wrong. */
export function decodeRecord(frame: Buffer): ResultEnvelope | undefined {
  if (frame.length < FRAME_HEADER_BYTES || frame.readUInt32LE(0) !== frame.length - FRAME_HEADER_BYTES)
    return undefined;
  const payload = frame.subarray(FRAME_HEADER_BYTES);
  if (crc32(payload) !== frame.readUInt32LE(4)) return undefined;
  try {
    const doc = JSON.parse(payload.toString('utf8')) as ResultEnvelope;
    return typeof doc.id === 'string' ? doc : undefined;
  } catch {
    return undefined;
  }
}
