// Test helpers for the spool: result envelopes with fresh UUIDv7 ids, temp spool directories, segment inspection.
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ResultEnvelope } from '@rookery/protocol';
import { newResultId } from '../tasks/result-id.js';

/** A valid envelope; `pad` grows the metrics to make records bigger; `startedAtMs` defaults to a fixed 2023 time. */
export function envelope(n: number, pad = 0, startedAtMs = 1_700_000_000_000 + n * 1000): ResultEnvelope {
  return {
    id: newResultId(),
    result: {
      kind: 'tcp',
      target: `127.0.0.1:${1000 + (n % 60000)}`,
      ok: true,
      startedAt: new Date(startedAtMs).toISOString(),
      durationMs: n % 97,
      metrics: { n, connect_ms: 0.25, ...(pad > 0 ? { pad: 'p'.repeat(pad) } : {}) },
    },
  };
}

/** A fresh directory under the OS temp dir (`rk-spool-…`). */
export function tempSpoolDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'rk-spool-'));
}

/** Names of the segment files in `dir`, sorted. */
export async function segmentNames(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.endsWith('.seg')).sort();
}

/** Bytes of one segment file. */
export function readSegment(dir: string, name: string): Promise<Buffer> {
  return readFile(path.join(dir, name));
}
