// Start-up recovery: scan every segment, truncate torn tails, quarantine corrupt records, drop fully acked segments.
import { open, readdir, readFile, rename, rm, stat, truncate, utimes } from 'node:fs/promises';
import path from 'node:path';
import { FRAME_HEADER_BYTES, scanFrames, type BadRegion, type ScannedFrame } from './frame.js';
import { ackFile, listSegments, readAckLog, type SetAsideDir, segmentFile, syncDir } from './spool-files.js';

/** One segment as the spool tracks it in memory. */
export interface SegmentState {
  seq: number;
  /** bytes in the segment file */
  size: number;
  /** bytes in its ack log */
  ackBytes: number;
  /** frames not yet acknowledged: offset → frame bytes (header included), in append order */
  pending: Map<number, number>;
  /** epoch ms of the newest record (file mtime after a restart) */
  lastAppendAt: number;
}

export interface RecoveryReport {
  segments: SegmentState[];
  /** complete, valid records found (acknowledged or not) */
  records: number;
  /** corrupt regions copied to quarantine/ and removed from their segment */
  quarantined: number;
  /** interrupted appends cut off the end of a segment */
  tornTails: number;
  durationMs: number;
}

const ID_PREFIX = Buffer.from('{"id":"');

/** The result id of a framed envelope (fast path for the `{"id":"…"` prefix the spool writes), or undefined. */
export function recordId(buf: Buffer, frame: ScannedFrame): string | undefined {
  const start = frame.offset + FRAME_HEADER_BYTES;
  const end = start + frame.length;
  if (frame.length > 44 && buf.compare(ID_PREFIX, 0, 7, start, start + 7) === 0 && buf[start + 43] === 0x22) {
    return buf.toString('latin1', start + 7, start + 43);
  }
  try {
    const doc = JSON.parse(buf.toString('utf8', start, end)) as { id?: unknown };
    return typeof doc.id === 'string' && doc.id.length > 0 ? doc.id : undefined;
  } catch {
    return undefined;
  }
}

async function rewriteWithout(file: string, buf: Buffer, keep: ScannedFrame[]): Promise<ScannedFrame[]> {
  const tmp = `${file}.tmp`;
  const parts = keep.map((f) => buf.subarray(f.offset, f.offset + FRAME_HEADER_BYTES + f.length));
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(Buffer.concat(parts));
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
  await syncDir(path.dirname(file));
  let at = 0;
  return keep.map((f) => {
    const moved = { offset: at, length: f.length };
    at += FRAME_HEADER_BYTES + f.length;
    return moved;
  });
}

async function recoverSegment(
  dir: string,
  seq: number,
  quarantine: SetAsideDir,
  nowMs: number,
  report: RecoveryReport,
): Promise<SegmentState | undefined> {
  const file = path.join(dir, segmentFile(seq));
  const [buf, st] = await Promise.all([readFile(file), stat(file)]);
  const scan = scanFrames(buf);
  const corrupt: BadRegion[] = [...scan.corrupt];
  let frames: ScannedFrame[] = [];
  const ids: string[] = [];
  for (const f of scan.frames) {
    const id = recordId(buf, f);
    if (id === undefined) {
      corrupt.push({ offset: f.offset, end: f.offset + FRAME_HEADER_BYTES + f.length });
    } else {
      frames.push(f);
      ids.push(id);
    }
  }
  let size = scan.torn?.offset ?? buf.length;
  if (scan.torn) report.tornTails++;
  if (corrupt.length > 0) {
    for (const r of corrupt) {
      await quarantine.write(`${segmentFile(seq)}-${r.offset}.bin`, buf.subarray(r.offset, r.end), nowMs);
    }
    report.quarantined += corrupt.length;
    // why: without the rewrite the same bytes would be quarantined and counted again at every start
    const moved = await rewriteWithout(file, buf, frames).catch(() => undefined);
    if (moved) {
      frames = moved;
      size = moved.reduce((n, f) => n + FRAME_HEADER_BYTES + f.length, 0);
    }
  }
  // why: a failed truncate is harmless (appends always go to a new segment); it is just found again next start
  if (scan.torn && size === scan.torn.offset) await truncate(file, size).catch(() => undefined);
  // why: the mtime is the age of the newest record (max-age cap); a repair must not make old results young
  if (scan.torn || corrupt.length > 0) await utimes(file, st.atime, st.mtime).catch(() => undefined);
  report.records += frames.length;
  const acked = await readAckLog(path.join(dir, ackFile(seq)));
  const pending = new Map<number, number>();
  frames.forEach((f, i) => {
    if (!acked.ids.has(ids[i]!)) pending.set(f.offset, FRAME_HEADER_BYTES + f.length);
  });
  if (pending.size === 0) {
    await rm(file, { force: true });
    await rm(path.join(dir, ackFile(seq)), { force: true });
    return undefined;
  }
  return { seq, size, ackBytes: acked.bytes, pending, lastAppendAt: st.mtimeMs };
}

/**
 * Recovers the segments in `dir`: every complete record is kept; a torn tail (interrupted append)
 * is truncated; a corrupt region (flipped bytes, bad length) is copied to `quarantine` and cut out
 * of its segment (rewritten via temp file + rename); acknowledged records are skipped and fully
 * acknowledged segments deleted; orphan ack logs and temp files are removed. Throws only when the
 * directory or a segment cannot be read.
 */
export async function recoverSegments(dir: string, quarantine: SetAsideDir, nowMs: number): Promise<RecoveryReport> {
  const started = performance.now();
  const report: RecoveryReport = { segments: [], records: 0, quarantined: 0, tornTails: 0, durationMs: 0 };
  const seqs = await listSegments(dir);
  for (const seq of seqs) {
    const segment = await recoverSegment(dir, seq, quarantine, nowMs, report);
    if (segment) report.segments.push(segment);
  }
  const live = new Set(report.segments.map((s) => ackFile(s.seq)));
  for (const name of await readdir(dir)) {
    if ((name.endsWith('.ack') && !live.has(name)) || name.endsWith('.tmp')) {
      await rm(path.join(dir, name), { force: true });
    }
  }
  report.durationMs = performance.now() - started;
  return report;
}
