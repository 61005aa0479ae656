// The on-disk result spool: checksummed append-only segments, group-commit fsync, size/age caps, acks, counters.
import { appendFile, type FileHandle, mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import type { ResultEnvelope } from '@rookery/protocol';
import type { Logger } from 'pino';
import { encodeFrame, FRAME_HEADER_BYTES } from './frame.js';
import { recoverSegments, type SegmentState } from './recovery.js';
import {
  ackFile,
  isNoSpace,
  QUARANTINE_DIR,
  REJECTED_DIR,
  SetAsideDir,
  segmentFile,
  syncDir,
  ThrottledLog,
} from './spool-files.js';

export interface SpoolOptions {
  /** spool directory, created with mode 0700 */
  dir: string;
  /** cap on segment + ack-log bytes; the oldest segments are dropped beyond it; @default 64 MiB */
  maxBytes?: number;
  /** results older than this are dropped, whole segments at a time, milliseconds; @default 7 days */
  maxAgeMs?: number;
  /** a segment is sealed once the next append would pass this size; @default maxBytes/16 within 4 KiB…4 MiB */
  segmentBytes?: number;
  logger: Logger;
  /** @default Date.now */
  now?: () => number;
}

/** What the spool did since the process started; `backlog`, `bytes` and `segments` are the state on disk now. */
export interface SpoolCounters {
  appended: number;
  /** acknowledged by the manager (accepted) and removed */
  uploaded: number;
  /** refused by the manager (422 batch or per-record) and moved to rejected/ */
  rejected: number;
  /** dropped, oldest first, to stay under max bytes or because the disk was full */
  dropped_overflow: number;
  /** dropped because older than max age */
  dropped_expired: number;
  /** new results that could not be written at all (disk full with other data, I/O error, too large) */
  dropped_unwritable: number;
  /** corrupt regions (normally one record each) copied to quarantine/ */
  quarantined: number;
  /** interrupted appends cut off at recovery */
  torn_tails: number;
  /** records lost because their segment file vanished or became unreadable */
  lost: number;
  /** results waiting for upload */
  backlog: number;
  bytes: number;
  segments: number;
}

/** A record read back for upload; `seq`/`offset` locate it for {@link Spool.ack}. */
export interface SpooledRecord {
  seq: number;
  offset: number;
  envelope: ResultEnvelope;
}

type Counts = Omit<SpoolCounters, 'backlog' | 'bytes' | 'segments'>;
type Waiter = { frame: Buffer; resolve: (stored: boolean) => void };

const MiB = 1024 * 1024;

/**
 * Results are appended before upload and removed only once acknowledged. `append` resolves after
 * the record is written and fdatasync'ed (appends arriving during a sync share the next one:
 * group commit). Never throws on disk trouble: a result that cannot be stored resolves `false`
 * and is counted. Open with {@link Spool.open}.
 */
export class Spool {
  readonly maxBytes: number;
  readonly maxAgeMs: number;
  readonly segmentBytes: number;
  private active: { seg: SegmentState; fh: FileHandle } | undefined;
  private nextSeq: number;
  private queue: Waiter[] = [];
  private draining: Promise<void> | undefined;
  private lock: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly counts: Counts = {
    appended: 0,
    uploaded: 0,
    rejected: 0,
    dropped_overflow: 0,
    dropped_expired: 0,
    dropped_unwritable: 0,
    quarantined: 0,
    torn_tails: 0,
    lost: 0,
  };
  private readonly listeners = new Set<() => void>();
  private readonly events: ThrottledLog;
  private readonly now: () => number;

  private constructor(
    private readonly options: SpoolOptions,
    private readonly segments: SegmentState[],
    private readonly quarantine: SetAsideDir,
    private readonly rejectedDir: SetAsideDir,
  ) {
    this.maxBytes = options.maxBytes ?? 64 * MiB;
    this.maxAgeMs = options.maxAgeMs ?? 7 * 24 * 3600_000;
    this.segmentBytes = options.segmentBytes ?? Math.min(4 * MiB, Math.max(4096, Math.floor(this.maxBytes / 16)));
    this.now = options.now ?? Date.now;
    this.events = new ThrottledLog(options.logger, this.now);
    this.nextSeq = (segments.at(-1)?.seq ?? 0) + 1;
  }

  /**
   * Creates the directory, recovers what a previous run left (see {@link recoverSegments}), then
   * applies the caps. Throws only when the directory cannot be created or read.
   */
  static async open(options: SpoolOptions): Promise<Spool> {
    const now = options.now ?? Date.now;
    await mkdir(options.dir, { recursive: true, mode: 0o700 });
    const cap = Math.max(64 * 1024, Math.floor((options.maxBytes ?? 64 * MiB) / 8));
    const quarantine = new SetAsideDir(path.join(options.dir, QUARANTINE_DIR), cap);
    const rejected = new SetAsideDir(path.join(options.dir, REJECTED_DIR), cap);
    await Promise.all([quarantine.open(), rejected.open()]);
    const report = await recoverSegments(options.dir, quarantine, now());
    const spool = new Spool(options, report.segments, quarantine, rejected);
    spool.counts.quarantined = report.quarantined;
    spool.counts.torn_tails = report.tornTails;
    const fields = {
      dir: options.dir,
      records: report.records,
      backlog: spool.backlog,
      segments: report.segments.length,
      quarantined: report.quarantined,
      torn_tails: report.tornTails,
      duration_ms: Math.round(report.durationMs),
    };
    if (report.quarantined > 0) options.logger.warn(fields, 'spool recovered; corrupt records quarantined');
    else options.logger.info(fields, 'spool recovered');
    await spool.exclusive(async () => {
      await spool.expireLocked();
      await spool.makeRoom(0);
    });
    return spool;
  }

  get dir(): string {
    return this.options.dir;
  }

  /** Results waiting for upload. */
  get backlog(): number {
    return this.segments.reduce((n, s) => n + s.pending.size, 0);
  }

  counters(): SpoolCounters {
    const bytes = this.segments.reduce((n, s) => n + s.size + s.ackBytes, 0);
    return { ...this.counts, backlog: this.backlog, bytes, segments: this.segments.length };
  }

  /** Calls `listener` after records were stored; returns the unsubscribe function. */
  onAppend(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stores one result durably; resolves true once on disk, false when it was dropped (counted, logged). */
  append(envelope: ResultEnvelope): Promise<boolean> {
    let frame: Buffer;
    try {
      if (this.closed) throw new Error('spool closed');
      frame = encodeFrame(Buffer.from(JSON.stringify(envelope)));
    } catch (err) {
      this.unwritable(1, err);
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      this.queue.push({ frame, resolve });
      this.startDrain();
    });
  }

  /** The oldest pending records, at most `maxRecords` and (past the first) `maxBytes` of frames. */
  readBatch(maxRecords: number, maxBytes: number): Promise<SpooledRecord[]> {
    return this.exclusive(() => this.readLocked(maxRecords, maxBytes));
  }

  /** Removes acknowledged (or set-aside) records; a segment is deleted once all its records are. */
  ack(records: SpooledRecord[], outcome: 'uploaded' | 'rejected' = 'uploaded'): Promise<void> {
    return this.exclusive(() => this.ackLocked(records, outcome));
  }

  /** Moves refused records to rejected/ (one JSON file with the reason), then removes them. */
  async setAside(records: SpooledRecord[], reason: Record<string, unknown>): Promise<void> {
    if (records.length === 0) return;
    const doc = { rejected_at: new Date(this.now()).toISOString(), ...reason, results: records.map((r) => r.envelope) };
    const ok = await this.rejectedDir.write(`${records[0]!.envelope.id}.json`, JSON.stringify(doc), this.now());
    if (!ok) this.events.warn('reject_write', { results: records.length }, 'could not write rejected/; dropping them');
    await this.ack(records, 'rejected');
  }

  /** Drops segments whose newest record is older than max age (also done before every append). */
  expire(): Promise<void> {
    return this.exclusive(() => this.expireLocked());
  }

  /** Waits for queued appends, then closes the open segment. Later appends resolve false. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.draining) await this.draining;
    await this.exclusive(() => this.seal());
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private startDrain(): void {
    this.draining ??= this.exclusive(() => this.drain()).finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0) this.startDrain();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      await this.expireLocked();
      const group = this.takeGroup();
      let stored = false;
      try {
        await this.writeGroup(group);
        stored = true;
      } catch (err) {
        this.unwritable(group.length, err);
        await this.seal(); // why: the next append starts a fresh segment after an I/O error
      }
      for (const w of group) w.resolve(stored);
      if (stored) for (const l of this.listeners) l();
    }
  }

  /** Queued frames that fit the open segment (a fresh one when the first does not); at least one. */
  private takeGroup(): Waiter[] {
    const limit = Math.min(this.segmentBytes, this.maxBytes);
    const used = this.active?.seg.size ?? 0;
    const room = used > 0 && used + this.queue[0]!.frame.length > limit ? limit : limit - used;
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || bytes + this.queue[n]!.frame.length <= room)) {
      bytes += this.queue[n]!.frame.length;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async writeGroup(group: Waiter[]): Promise<void> {
    const buf = Buffer.concat(group.map((w) => w.frame));
    if (buf.length > this.maxBytes) throw new Error(`${buf.length} bytes do not fit the spool cap of ${this.maxBytes}`);
    await this.makeRoom(buf.length);
    if (this.active && this.active.seg.size > 0 && this.active.seg.size + buf.length > this.segmentBytes) {
      await this.seal();
    }
    for (;;) {
      this.active ??= await this.createSegment();
      const { seg, fh } = this.active;
      try {
        for (let done = 0; done < buf.length;) done += (await fh.write(buf, done, buf.length - done)).bytesWritten;
        break;
      } catch (err) {
        await fh.truncate(seg.size).catch(() => undefined);
        const oldest = this.segments.find((s) => s.size > 0);
        if (!isNoSpace(err) || !oldest) throw err;
        // overflow policy on a full disk as well: the oldest results make room for the newest
        await this.drop([oldest], 'dropped_overflow');
      }
    }
    const { seg, fh } = this.active;
    await fh.datasync().catch((err: Error) => this.events.warn('fsync', { err: err.message }, 'spool fsync failed'));
    for (const w of group) {
      seg.pending.set(seg.size, w.frame.length);
      seg.size += w.frame.length;
    }
    seg.lastAppendAt = this.now();
    this.counts.appended += group.length;
  }

  private async createSegment(): Promise<{ seg: SegmentState; fh: FileHandle }> {
    const seq = this.nextSeq++;
    const fh = await open(path.join(this.dir, segmentFile(seq)), 'a', 0o600);
    await syncDir(this.dir);
    const seg: SegmentState = { seq, size: 0, ackBytes: 0, pending: new Map(), lastAppendAt: this.now() };
    this.segments.push(seg);
    return { seg, fh };
  }

  /** Closes the open segment; deletes it when nothing in it is pending. */
  private async seal(): Promise<void> {
    const active = this.active;
    if (!active) return;
    this.active = undefined;
    await active.fh.close().catch(() => undefined);
    if (active.seg.pending.size === 0) await this.remove(active.seg);
  }

  /** Drops the oldest segments until `incoming` more bytes fit under max bytes. */
  private async makeRoom(incoming: number): Promise<void> {
    const total = () => this.segments.reduce((n, s) => n + s.size + s.ackBytes, 0);
    for (let oldest = this.segments.find((s) => s.size > 0); oldest && total() + incoming > this.maxBytes;) {
      await this.drop([oldest], 'dropped_overflow');
      oldest = this.segments.find((s) => s.size > 0);
    }
  }

  private async expireLocked(): Promise<void> {
    const cutoff = this.now() - this.maxAgeMs;
    const old = this.segments.filter((s) => s.size > 0 && s.lastAppendAt < cutoff);
    if (old.some((s) => s === this.active?.seg)) await this.seal();
    if (old.length > 0) await this.drop(old, 'dropped_expired');
  }

  private async drop(victims: SegmentState[], counter: 'dropped_overflow' | 'dropped_expired'): Promise<void> {
    const results = victims.reduce((n, s) => n + s.pending.size, 0);
    for (const s of victims) await this.remove(s);
    this.counts[counter] += results;
    const why = counter === 'dropped_overflow' ? 'spool full: dropped the oldest results' : 'dropped expired results';
    if (results > 0) {
      this.events.warn(counter, { results, segments: victims.length, max_bytes: this.maxBytes }, why);
    }
  }

  private async remove(seg: SegmentState): Promise<void> {
    const i = this.segments.indexOf(seg);
    if (i >= 0) this.segments.splice(i, 1);
    if (this.active?.seg === seg) {
      await this.active.fh.close().catch(() => undefined);
      this.active = undefined;
    }
    await rm(path.join(this.dir, segmentFile(seg.seq)), { force: true }).catch(() => undefined);
    await rm(path.join(this.dir, ackFile(seg.seq)), { force: true }).catch(() => undefined);
  }

  private async readLocked(maxRecords: number, maxBytes: number): Promise<SpooledRecord[]> {
    const out: SpooledRecord[] = [];
    let taken = 0;
    let bytes = 0;
    const full = (length: number) => taken >= maxRecords || (taken > 0 && bytes + length > maxBytes);
    for (const seg of [...this.segments]) {
      const picks: [number, number][] = [];
      for (const [offset, length] of seg.pending) {
        if (full(length)) break;
        picks.push([offset, length]);
        taken++;
        bytes += length;
      }
      if (picks.length > 0) await this.readRecords(seg, picks, out);
      if (full(1)) break;
    }
    return out;
  }

  private async readRecords(seg: SegmentState, picks: [number, number][], out: SpooledRecord[]): Promise<void> {
    const start = picks[0]![0];
    const [lastOffset, lastLength] = picks.at(-1)!;
    const span = Buffer.alloc(lastOffset + lastLength - start);
    try {
      const fh = await open(path.join(this.dir, segmentFile(seg.seq)), 'r');
      try {
        await fh.read(span, 0, span.length, start);
      } finally {
        await fh.close();
      }
    } catch (err) {
      this.counts.lost += seg.pending.size;
      this.options.logger.error(
        { err: (err as Error).message, seq: seg.seq },
        'spool segment unreadable; its results are lost',
      );
      return this.remove(seg);
    }
    for (const [offset, length] of picks) {
      const frame = span.subarray(offset - start, offset - start + length);
      const envelope = decodeRecord(frame);
      if (envelope) out.push({ seq: seg.seq, offset, envelope });
      else {
        seg.pending.delete(offset);
        this.counts.quarantined++;
        await this.quarantine.write(`${segmentFile(seg.seq)}-${offset}.bin`, frame, this.now());
        this.events.warn('quarantine', { seq: seg.seq, offset }, 'corrupt spool record quarantined');
      }
    }
  }

  private async ackLocked(records: SpooledRecord[], outcome: 'uploaded' | 'rejected'): Promise<void> {
    const bySeq = new Map<number, SpooledRecord[]>();
    for (const r of records) {
      const list = bySeq.get(r.seq);
      if (list) list.push(r);
      else bySeq.set(r.seq, [r]);
    }
    for (const [seq, list] of bySeq) {
      const seg = this.segments.find((s) => s.seq === seq);
      if (!seg) continue; // dropped meanwhile (overflow or age)
      const ids = list.filter((r) => seg.pending.delete(r.offset)).map((r) => r.envelope.id);
      this.counts[outcome] += ids.length;
      if (seg.pending.size === 0 && this.active?.seg !== seg) await this.remove(seg);
      else if (ids.length > 0) {
        const text = `${ids.join('\n')}\n`;
        try {
          await appendFile(path.join(this.dir, ackFile(seq)), text, { mode: 0o600 });
          seg.ackBytes += text.length;
        } catch (err) {
          const msg = 'could not write a spool ack log; those results may be uploaded again after a restart';
          this.events.warn('ack_write', { err: (err as Error).message }, msg);
        }
      }
    }
  }

  private unwritable(results: number, err: unknown): void {
    this.counts.dropped_unwritable += results;
    this.events.warn('unwritable', { results, err: (err as Error).message }, 'could not spool results; dropped');
  }
}

/** The envelope in a frame read back from disk, or undefined when its length, CRC or JSON is wrong. */
function decodeRecord(frame: Buffer): ResultEnvelope | undefined {
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
