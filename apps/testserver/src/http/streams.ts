// Body streaming with backpressure: send N bytes of incompressible data, count (and bound) uploads.
import { randomBytes } from 'node:crypto';
import type { Req, Res } from './respond.js';

const CHUNK = randomBytes(64 * 1024);

/** Writes `bytes` of pseudo-random data, waiting for 'drain'; stops early when the client leaves. */
export async function writeBytes(res: Res, bytes: number): Promise<void> {
  let closed = false;
  const onClose = () => {
    closed = true;
  };
  res.once('close', onClose);
  let left = bytes;
  while (left > 0 && !closed) {
    const n = Math.min(left, CHUNK.length);
    left -= n;
    const ok = res.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
    if (!ok && !closed) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.once('drain', done);
        res.once('close', done);
      });
    }
  }
  res.off('close', onClose);
  if (!closed) res.end();
}

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`body larger than ${limit} bytes`);
    this.name = 'BodyTooLarge';
  }
}

/**
 * Reads the request body, keeping at most `keep` bytes and counting all; throws BodyTooLarge once
 * more than `limit` bytes arrive (content-length is checked up front).
 */
export async function readBody(req: Req, limit: number, keep: number): Promise<{ bytes: number; kept: Buffer }> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLarge(limit);
  const parts: Buffer[] = [];
  let bytes = 0;
  let keptBytes = 0;
  for await (const chunk of req) {
    bytes += chunk.length;
    if (bytes > limit) throw new BodyTooLarge(limit);
    if (keptBytes < keep) {
      const part = chunk.subarray(0, keep - keptBytes);
      parts.push(part);
      keptBytes += part.length;
    }
  }
  return { bytes, kept: Buffer.concat(parts) };
}
