// Spool record framing `[u32 length LE][u32 crc32 LE][JSON bytes]` and the pure scan that recovery trusts.
import { crc32 } from 'node:zlib';

/** Bytes before the payload: length and CRC-32, both unsigned 32-bit little-endian. */
export const FRAME_HEADER_BYTES = 8;
/** Largest payload a frame may declare; larger lengths are treated as corruption. */
export const MAX_RECORD_BYTES = 1024 * 1024;

/** Frames one payload. Throws RangeError for an empty payload or one over {@link MAX_RECORD_BYTES}. */
export function encodeFrame(payload: Buffer): Buffer {
  if (payload.length === 0 || payload.length > MAX_RECORD_BYTES) {
    throw new RangeError(`spool record of ${payload.length} bytes (allowed 1…${MAX_RECORD_BYTES})`);
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32LE(payload.length, 0);
  frame.writeUInt32LE(crc32(payload), 4);
  payload.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/** A complete frame found by {@link scanFrames}. */
export interface ScannedFrame {
  /** where the frame starts in the buffer */
  offset: number;
  /** payload length (the frame is 8 bytes longer) */
  length: number;
}

/** A region of bytes that did not form a valid frame, followed by a valid one or ending the buffer. */
export interface BadRegion {
  offset: number;
  end: number;
}

export interface ScanResult {
  frames: ScannedFrame[];
  /** corrupt regions (bad CRC, impossible length): each is quarantined and counted once */
  corrupt: BadRegion[];
  /** an incomplete last frame (interrupted write): the buffer is valid up to `torn.offset` */
  torn: BadRegion | undefined;
}

/** True when a frame with a plausible header and matching CRC starts at `offset`. */
export function frameAt(buf: Buffer, offset: number): boolean {
  if (offset + FRAME_HEADER_BYTES > buf.length) return false;
  const length = buf.readUInt32LE(offset);
  const end = offset + FRAME_HEADER_BYTES + length;
  if (length === 0 || length > MAX_RECORD_BYTES || end > buf.length) return false;
  return crc32(buf.subarray(offset + FRAME_HEADER_BYTES, end)) === buf.readUInt32LE(offset + 4);
}

/** Next offset after `from` where a valid frame starts, or undefined. */
function resync(buf: Buffer, from: number): number | undefined {
  for (let p = from; p + FRAME_HEADER_BYTES < buf.length; p++) if (frameAt(buf, p)) return p;
  return undefined;
}

/**
 * Splits a segment's bytes into valid frames and bad regions. A frame that fails its checks is
 * skipped up to the next offset where a valid frame starts (its declared end first, then a byte
 * scan). Bad bytes that run to the end are a torn tail when they look like an interrupted append
 * (fewer than 8 bytes, only zero bytes, or a declared length past the end whose present bytes fail
 * the CRC), and a
 * corrupt region otherwise (a complete frame with a bad CRC, or a damaged length whose payload
 * still matches the CRC). Never throws.
 */
export function scanFrames(buf: Buffer): ScanResult {
  const frames: ScannedFrame[] = [];
  const corrupt: BadRegion[] = [];
  let offset = 0;
  while (offset < buf.length) {
    if (frameAt(buf, offset)) {
      const length = buf.readUInt32LE(offset);
      frames.push({ offset, length });
      offset += FRAME_HEADER_BYTES + length;
      continue;
    }
    const declaredEnd =
      offset + FRAME_HEADER_BYTES <= buf.length ? offset + FRAME_HEADER_BYTES + buf.readUInt32LE(offset) : Infinity;
    const next = declaredEnd < buf.length && frameAt(buf, declaredEnd) ? declaredEnd : resync(buf, offset + 1);
    if (next !== undefined) {
      corrupt.push({ offset, end: next });
      offset = next;
      continue;
    }
    const region = { offset, end: buf.length };
    if (isTornTail(buf, offset, declaredEnd)) return { frames, corrupt, torn: region };
    corrupt.push(region);
    return { frames, corrupt, torn: undefined };
  }
  return { frames, corrupt, torn: undefined };
}

function isTornTail(buf: Buffer, offset: number, declaredEnd: number): boolean {
  if (declaredEnd === Infinity) return true;
  if (buf.subarray(offset).every((b) => b === 0)) return true; // zero-filled blocks after a power loss
  if (declaredEnd <= buf.length) return false; // complete frame, bad CRC: corrupt
  const present = buf.subarray(offset + FRAME_HEADER_BYTES);
  return present.length === 0 || crc32(present) !== buf.readUInt32LE(offset + 4);
}
