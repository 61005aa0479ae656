// The on-disk result spool: checksummed append-only segments, group-commit fsync, size/age caps, acks, counters.
import { appendFile, mkdir, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { ResultEnvelope } from '@rookery/protocol';
import { encodeFrame } from './frame.js';
import { recoverSegments, type SegmentState } from './recovery.js';
import { decodeRecord, pickPending, readSpan } from './segment-io.js';
import { Segments } from './segments.js';
import { ackFile, QUARANTINE_DIR, REJECTED_DIR, SetAsideDir, segmentFile, ThrottledLog } from './spool-files.js';
import { type SpoolCounters, type SpooledRecord, type SpoolOptions, zeroCounts } from './types.js';

export type { SpoolCounters, SpooledRecord, SpoolOptions } from './types.js';

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
  private readonly segments: Segments;
  private queue: Waiter[] = [];
  private draining: Promise<void> | undefined;
  private lock: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly counts = zeroCounts();
  private readonly listeners = new Set<() => void>();
  private readonly events: ThrottledLog;
  private readonly now: () => number;

  private constructor(
    private readonly options: SpoolOptions,
    fsBytes: number,
    recovered: SegmentState[],
    private readonly quarantine: SetAsideDir,
    private readonly rejectedDir: SetAsideDir,
  ) {
    this.maxBytes = options.maxBytes ?? 64 * MiB;
    this.maxAgeMs = options.maxAgeMs ?? 7 * 24 * 3600_000;
    const sizeFor = Math.min(this.maxBytes, fsBytes);
    this.segmentBytes = options.segmentBytes ?? Math.min(4 * MiB, Math.max(4096, Math.floor(sizeFor / 16)));
    this.now = options.now ?? Date.now;
    this.events = new ThrottledLog(options.logger, this.now);
    const limits = { maxBytes: this.maxBytes, maxAgeMs: this.maxAgeMs, segmentBytes: this.segmentBytes };
    this.segments = new Segments(options.dir, recovered, limits, this.counts, this.events, this.now);
  }

  /**
   * Creates the directory, recovers what a previous run left (see {@link recoverSegments}), then
   * applies the caps. Throws only when the directory cannot be created or read.
   */
  static async open(options: SpoolOptions): Promise<Spool> {
    const { dir, logger } = options;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const cap = Math.max(64 * 1024, Math.floor((options.maxBytes ?? 64 * MiB) / 8));
    const quarantine = new SetAsideDir(path.join(dir, QUARANTINE_DIR), cap);
    const rejected = new SetAsideDir(path.join(dir, REJECTED_DIR), cap);
    await Promise.all([quarantine.open(), rejected.open()]);
    const report = await recoverSegments(dir, quarantine, (options.now ?? Date.now)());
    const fs = await statfs(dir).catch(() => undefined);
    const spool = new Spool(options, fs ? fs.blocks * fs.bsize : Infinity, report.segments, quarantine, rejected);
    spool.counts.quarantined = report.quarantined;
    spool.counts.torn_tails = report.tornTails;
    const { records, quarantined, tornTails: torn_tails } = report;
    const fields = { dir, records, backlog: spool.backlog, segments: report.segments.length, quarantined, torn_tails };
    const duration_ms = Math.round(report.durationMs);
    if (quarantined > 0) logger.warn({ ...fields, duration_ms }, 'spool recovered; corrupt records quarantined');
    else logger.info({ ...fields, duration_ms }, 'spool recovered');
    const room = fs ? fs.bavail * fs.bsize + spool.segments.bytes : Infinity;
    if (room < spool.maxBytes) {
      const msg = 'spool cap exceeds the free disk space; when the disk fills, the oldest results are dropped';
      logger.warn({ max_bytes: spool.maxBytes, disk_room_bytes: room }, msg);
    }
    await spool.exclusive(async () => {
      await spool.segments.expire();
      await spool.segments.makeRoom(0);
    });
    return spool;
  }

  get dir(): string {
    return this.options.dir;
  }

  /** Results waiting for upload. */
  get backlog(): number {
    return this.segments.backlog;
  }

  counters(): SpoolCounters {
    const { bytes, backlog, list } = this.segments;
    return { ...this.counts, backlog, bytes, segments: list.length };
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
    return this.exclusive(() => this.segments.expire());
  }

  /** Waits for queued appends, then closes the open segment. Later appends resolve false. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.draining) await this.draining;
    await this.exclusive(() => this.segments.seal());
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

  /** Group commit: everything queued while the previous write+fsync ran goes out in the next one. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      await this.segments.expire();
      const group = this.takeGroup();
      let stored = false;
      try {
        await this.segments.write(group.map((w) => w.frame));
        this.counts.appended += group.length;
        stored = true;
      } catch (err) {
        this.unwritable(group.length, err);
        await this.segments.seal(); // why: the next append starts a fresh segment after an I/O error
      }
      for (const w of group) w.resolve(stored);
      if (stored) for (const l of this.listeners) l();
    }
  }

  /** Queued frames that fit the open segment (a fresh one when the first does not); at least one. */
  private takeGroup(): Waiter[] {
    const full = Math.min(this.segmentBytes, this.maxBytes);
    const room = this.queue[0]!.frame.length > this.segments.room ? full : this.segments.room;
    let bytes = 0;
    let n = 0;
    while (n < this.queue.length && (n === 0 || bytes + this.queue[n]!.frame.length <= room)) {
      bytes += this.queue[n]!.frame.length;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async readLocked(maxRecords: number, maxBytes: number): Promise<SpooledRecord[]> {
    const out: SpooledRecord[] = [];
    for (const { seg, picks } of pickPending(this.segments.list, maxRecords, maxBytes)) {
      const start = picks[0]![0];
      let span: Buffer;
      try {
        span = await readSpan(path.join(this.dir, segmentFile(seg.seq)), picks);
      } catch (err) {
        this.counts.lost += seg.pending.size;
        const msg = 'spool segment unreadable; its results are lost';
        this.options.logger.error({ err: (err as Error).message, seq: seg.seq }, msg);
        await this.segments.remove(seg);
        continue;
      }
      for (const [offset, length] of picks) {
        const frame = span.subarray(offset - start, offset - start + length);
        const envelope = decodeRecord(frame);
        if (envelope) out.push({ seq: seg.seq, offset, envelope });
        else await this.quarantineRecord(seg, offset, frame);
      }
    }
    return out;
  }

  private async quarantineRecord(seg: SegmentState, offset: number, frame: Buffer): Promise<void> {
    seg.pending.delete(offset);
    this.counts.quarantined++;
    await this.quarantine.write(`${segmentFile(seg.seq)}-${offset}.bin`, frame, this.now());
    this.events.warn('quarantine', { seq: seg.seq, offset }, 'corrupt spool record quarantined');
  }

  private async ackLocked(records: SpooledRecord[], outcome: 'uploaded' | 'rejected'): Promise<void> {
    const bySeq = new Map<number, SpooledRecord[]>();
    for (const r of records) bySeq.set(r.seq, [...(bySeq.get(r.seq) ?? []), r]);
    for (const [seq, list] of bySeq) {
      const seg = this.segments.list.find((s) => s.seq === seq);
      if (!seg) continue; // dropped meanwhile (overflow or age)
      const ids = list.filter((r) => seg.pending.delete(r.offset)).map((r) => r.envelope.id);
      this.counts[outcome] += ids.length;
      if (seg.pending.size === 0 && !this.segments.isActive(seg)) await this.segments.remove(seg);
      else if (ids.length > 0) await this.logAcks(seg, ids);
    }
  }

  /** Ack log lines (no fsync: a lost ack only means that result is uploaded again, and deduplicated by id). */
  private async logAcks(seg: SegmentState, ids: string[]): Promise<void> {
    const text = `${ids.join('\n')}\n`;
    try {
      await appendFile(path.join(this.dir, ackFile(seg.seq)), text, { mode: 0o600 });
      seg.ackBytes += text.length;
    } catch (err) {
      const msg = 'could not write a spool ack log; those results may be uploaded again after a restart';
      this.events.warn('ack_write', { err: (err as Error).message }, msg);
    }
  }

  private unwritable(results: number, err: unknown): void {
    this.counts.dropped_unwritable += results;
    this.events.warn('unwritable', { results, err: (err as Error).message }, 'could not spool results; dropped');
  }
}
