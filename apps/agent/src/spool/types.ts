// Types of the spool's API: options, counters, records read back for upload.
import type { ResultEnvelope } from '@rookery/protocol';
import type { Logger } from 'pino';

export interface SpoolOptions {
  /** spool directory, created with mode 0700 */
  dir: string;
  /** cap on segment + ack-log bytes; the oldest segments are dropped beyond it; @default 64 MiB */
  maxBytes?: number;
  /** results older than this are dropped, whole segments at a time, milliseconds; @default 7 days */
  maxAgeMs?: number;
  /**
   * a segment is sealed once the next append would pass this size; @default 1/16 of max bytes or of
   * the file system's size, whichever is smaller, within 4 KiB…4 MiB
   */
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

/** A record read back for upload; `seq`/`offset` locate it for `Spool.ack`. */
export interface SpooledRecord {
  seq: number;
  offset: number;
  envelope: ResultEnvelope;
}

/** The event counters (everything but the state on disk). */
export type SpoolEventCounts = Omit<SpoolCounters, 'backlog' | 'bytes' | 'segments'>;

/** All event counters at zero. */
export function zeroCounts(): SpoolEventCounts {
  return {
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
}
