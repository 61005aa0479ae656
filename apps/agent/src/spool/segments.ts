// The spool's segment files: the open segment, group writes with the disk-full policy, size/age caps, removal.
import { type FileHandle, open, rm } from 'node:fs/promises';
import path from 'node:path';
import type { SegmentState } from './recovery.js';
import { writeAll } from './segment-io.js';
import { ackFile, isNoSpace, segmentFile, syncDir, type ThrottledLog } from './spool-files.js';
import type { SpoolEventCounts } from './types.js';

export interface SegmentLimits {
  /** segment + ack-log bytes */
  maxBytes: number;
  /** milliseconds since a segment's newest record */
  maxAgeMs: number;
  /** seal a segment once the next write would pass this size */
  segmentBytes: number;
}

/**
 * The ordered segments (oldest first) and the one open for appends. Callers serialise access
 * (the spool's lock). Drops are counted in `counts` and logged through `events` (throttled).
 */
export class Segments {
  private active: { seg: SegmentState; fh: FileHandle } | undefined;
  private nextSeq: number;

  constructor(
    private readonly dir: string,
    readonly list: SegmentState[],
    private readonly limits: SegmentLimits,
    private readonly counts: SpoolEventCounts,
    private readonly events: ThrottledLog,
    private readonly now: () => number,
  ) {
    this.nextSeq = (list.at(-1)?.seq ?? 0) + 1;
  }

  get bytes(): number {
    return this.list.reduce((n, s) => n + s.size + s.ackBytes, 0);
  }

  get backlog(): number {
    return this.list.reduce((n, s) => n + s.pending.size, 0);
  }

  /** Room left in the open segment (a full segment's worth when none is open or it is empty). */
  get room(): number {
    const limit = Math.min(this.limits.segmentBytes, this.limits.maxBytes);
    return limit - (this.active?.seg.size ?? 0);
  }

  isActive(seg: SegmentState): boolean {
    return this.active?.seg === seg;
  }

  /**
   * Appends frames as one write and one fdatasync, into the open segment or a fresh one. Before
   * writing, the oldest segments are dropped to stay under max bytes; on ENOSPC/EDQUOT the oldest
   * segment is dropped and the write retried (the same policy for a full disk). Throws when the
   * frames cannot be written (disk full with other data, I/O error); the segment is then cut back.
   */
  async write(frames: Buffer[]): Promise<void> {
    const buf = Buffer.concat(frames);
    if (buf.length > this.limits.maxBytes) {
      throw new Error(`${buf.length} bytes do not fit the spool cap of ${this.limits.maxBytes}`);
    }
    await this.makeRoom(buf.length);
    const used = this.active?.seg.size ?? 0;
    if (used > 0 && used + buf.length > this.limits.segmentBytes) await this.seal();
    for (;;) {
      this.active ??= await this.create();
      const { seg, fh } = this.active;
      try {
        await writeAll(fh, buf);
        break;
      } catch (err) {
        await fh.truncate(seg.size).catch(() => undefined);
        const oldest = this.list.find((s) => s.size > 0);
        if (!isNoSpace(err) || !oldest) throw err;
        await this.drop([oldest], 'dropped_overflow');
      }
    }
    const { seg, fh } = this.active;
    // why: a failed fsync leaves the data in the page cache; it is reported, not retried (fsyncgate)
    await fh.datasync().catch((err: Error) => this.events.warn('fsync', { err: err.message }, 'spool fsync failed'));
    for (const frame of frames) {
      seg.pending.set(seg.size, frame.length);
      seg.size += frame.length;
    }
    seg.lastAppendAt = this.now();
  }

  /** Closes the open segment; deletes it when nothing in it is pending. */
  async seal(): Promise<void> {
    const active = this.active;
    if (!active) return;
    this.active = undefined;
    await active.fh.close().catch(() => undefined);
    if (active.seg.pending.size === 0) await this.remove(active.seg);
  }

  /** Drops the oldest segments until `incoming` more bytes fit under max bytes. */
  async makeRoom(incoming: number): Promise<void> {
    for (let oldest = this.list.find((s) => s.size > 0); oldest && this.bytes + incoming > this.limits.maxBytes;) {
      await this.drop([oldest], 'dropped_overflow');
      oldest = this.list.find((s) => s.size > 0);
    }
  }

  /** Drops segments whose newest record is older than max age. */
  async expire(): Promise<void> {
    const cutoff = this.now() - this.limits.maxAgeMs;
    const old = this.list.filter((s) => s.size > 0 && s.lastAppendAt < cutoff);
    if (old.length > 0) await this.drop(old, 'dropped_expired');
  }

  /** Deletes a segment and its ack log (closing it first when open). */
  async remove(seg: SegmentState): Promise<void> {
    const i = this.list.indexOf(seg);
    if (i >= 0) this.list.splice(i, 1);
    if (this.active?.seg === seg) {
      await this.active.fh.close().catch(() => undefined);
      this.active = undefined;
    }
    await rm(path.join(this.dir, segmentFile(seg.seq)), { force: true }).catch(() => undefined);
    await rm(path.join(this.dir, ackFile(seg.seq)), { force: true }).catch(() => undefined);
  }

  private async drop(victims: SegmentState[], counter: 'dropped_overflow' | 'dropped_expired'): Promise<void> {
    const results = victims.reduce((n, s) => n + s.pending.size, 0);
    for (const s of victims) await this.remove(s);
    this.counts[counter] += results;
    if (results === 0) return;
    const why = counter === 'dropped_overflow' ? 'spool full: dropped the oldest results' : 'dropped expired results';
    this.events.warn(counter, { results, segments: victims.length, max_bytes: this.limits.maxBytes }, why);
  }

  private async create(): Promise<{ seg: SegmentState; fh: FileHandle }> {
    const seq = this.nextSeq++;
    const fh = await open(path.join(this.dir, segmentFile(seq)), 'a', 0o600);
    await syncDir(this.dir);
    const seg: SegmentState = { seq, size: 0, ackBytes: 0, pending: new Map(), lastAppendAt: this.now() };
    this.list.push(seg);
    return { seg, fh };
  }
}
