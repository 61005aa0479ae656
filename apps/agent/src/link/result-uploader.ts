// Uploads spooled results in batches: same batch → same Idempotency-Key, capped full-jitter backoff, 401/422/429 rules.
import { createHash } from 'node:crypto';
import { MAX_RESULTS_PER_UPLOAD, type Rng, type UploadResponse } from '@rookery/protocol';
import type { Logger } from 'pino';
import type { SpoolCounters, SpooledRecord } from '../spool/spool.js';
import { Backoff, type BackoffOptions } from './backoff.js';
import { logLinkError, ManagerHttpError, requestedDelayMs, UnauthorizedError } from './errors.js';
import type { ManagerApi } from './manager-api.js';

/** The parts of the spool the uploader uses (port; the real one is `Spool`). */
export interface UploadSource {
  readonly backlog: number;
  readBatch(maxRecords: number, maxBytes: number): Promise<SpooledRecord[]>;
  ack(records: SpooledRecord[]): Promise<void>;
  setAside(records: SpooledRecord[], reason: Record<string, unknown>): Promise<void>;
  expire(): Promise<void>;
  onAppend(listener: () => void): () => void;
  counters(): SpoolCounters;
}

export interface ResultUploaderOptions {
  spool: UploadSource;
  api: Pick<ManagerApi, 'uploadResults'>;
  logger: Logger;
  /** results per upload; @default 500 (the contract allows 1000) */
  batchRecords?: number;
  /** bytes of spooled records per upload (past the first record); @default 1 MiB (the contract allows 4) */
  batchBytes?: number;
  /** retry delays: full jitter, @default 1 s doubling to 5 min; Retry-After is a floor */
  backoff?: BackoffOptions;
  rng?: Rng;
  /** with nothing to upload, check the age cap this often, milliseconds; @default 60000 */
  idleCheckMs?: number;
}

/** Upload state for status.json, beside the spool counters. */
export interface UploadStatus extends SpoolCounters {
  upload_batches: number;
  last_upload_at: string | null;
  last_upload_error: string | null;
}

/** A deterministic Idempotency-Key for a batch: a UUIDv8 made of SHA-256 over its ids, so a retry reuses it. */
export function batchIdempotencyKey(ids: string[]): string {
  const h = createHash('sha256').update(ids.join('\n')).digest();
  h[6] = 0x80 | (h[6]! & 0x0f);
  h[8] = 0x80 | (h[8]! & 0x3f);
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

type Outcome = { next: 'now' } | { next: 'wait'; ms: number } | { next: 'pause' };

/**
 * Drains the spool to `POST /api/v1/results/upload` while a credential is set. Accepted ids are
 * deleted; per-record rejections and a 422 batch go to rejected/; 429 and transient failures wait
 * (full-jitter backoff, at least Retry-After) and retry the same batch with the same key; 401 calls
 * the credential's `onRefused` and pauses until a new credential is set — nothing is dropped.
 */
export class ResultUploader {
  private credential: string | undefined;
  private onRefused: (() => void) | undefined;
  private readonly backoff: Backoff;
  private readonly batchRecords: number;
  private readonly batchBytes: number;
  private running: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;
  /** waiting for work (not backing off): an append ends the wait */
  private idle = false;
  /** records per upload now: halved after a 413, back to the maximum after a success */
  private batchLimit: number;
  private stopping = false;
  private readonly abort = new AbortController();
  private batches = 0;
  private lastUploadAt: number | undefined;
  private lastError: string | null = null;
  private readonly unsubscribe: () => void;

  constructor(private readonly options: ResultUploaderOptions) {
    this.backoff = new Backoff({
      initialMs: 1000,
      maxMs: 300_000,
      rng: options.rng,
      ...options.backoff,
      jitter: 'full',
    });
    this.batchRecords = Math.min(options.batchRecords ?? 500, MAX_RESULTS_PER_UPLOAD);
    this.batchLimit = this.batchRecords;
    this.batchBytes = options.batchBytes ?? 1024 * 1024;
    this.unsubscribe = options.spool.onAppend(() => this.wake('append'));
  }

  get backlog(): number {
    return this.options.spool.backlog;
  }

  status(): UploadStatus {
    return {
      ...this.options.spool.counters(),
      upload_batches: this.batches,
      last_upload_at: this.lastUploadAt === undefined ? null : new Date(this.lastUploadAt).toISOString(),
      last_upload_error: this.lastError,
    };
  }

  /** Uploads with `credential` from now on (starting the loop); `undefined` pauses. */
  setCredential(credential: string | undefined, onRefused?: () => void): void {
    if (this.stopping) return;
    this.credential = credential;
    this.onRefused = onRefused;
    this.backoff.reset();
    this.running ??= this.loop().catch((err: unknown) => {
      this.options.logger.error({ err: (err as Error).message }, 'result uploader crashed');
    });
    this.wake('credential');
  }

  /**
   * Tries to upload what is spooled for at most `flushMs` (no backoff waits; the first failure
   * ends it), then stops. Whatever is left stays in the spool for the next start.
   */
  async stop(flushMs = 3000): Promise<void> {
    this.stopping = true;
    this.unsubscribe();
    const timer = setTimeout(() => this.abort.abort(), flushMs);
    this.wake('stop');
    await this.running;
    clearTimeout(timer);
    this.abort.abort();
  }

  private wake(reason: 'append' | 'credential' | 'stop'): void {
    if (reason !== 'append' || this.idle) this.wakeUp?.();
  }

  /** Waits `ms` or until woken (appends wake it only while idle). */
  private wait(ms: number, idle: boolean): Promise<void> {
    this.idle = idle;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        this.idle = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  private async loop(): Promise<void> {
    const { spool } = this.options;
    const idleMs = this.options.idleCheckMs ?? 60_000;
    while (!this.abort.signal.aborted) {
      const credential = this.credential;
      if (!credential || spool.backlog === 0) {
        if (this.stopping) return;
        await spool.expire();
        await this.wait(idleMs, true);
        continue;
      }
      const records = await spool.readBatch(this.batchLimit, this.batchBytes);
      if (records.length === 0) continue; // all of them were corrupt and got quarantined
      const outcome = await this.upload(credential, records);
      if (outcome.next === 'now') continue;
      if (this.stopping) return;
      if (outcome.next === 'wait') await this.wait(outcome.ms, false);
    }
  }

  private async upload(credential: string, records: SpooledRecord[]): Promise<Outcome> {
    const { api, logger, spool } = this.options;
    const ids = records.map((r) => r.envelope.id);
    let res: UploadResponse;
    try {
      res = await api.uploadResults(
        credential,
        { results: records.map((r) => r.envelope) },
        { signal: this.abort.signal, idempotencyKey: batchIdempotencyKey(ids) },
      );
    } catch (err) {
      return this.failed(err, credential, records);
    }
    this.backoff.reset();
    this.batchLimit = this.batchRecords;
    this.batches++;
    this.lastUploadAt = Date.now();
    this.lastError = null;
    const accepted = new Set(res.accepted);
    const refused = new Map(res.rejected.filter((r) => !accepted.has(r.id)).map((r) => [r.id, r]));
    await spool.ack(records.filter((r) => accepted.has(r.envelope.id)));
    const setAside = records.filter((r) => refused.has(r.envelope.id));
    if (setAside.length > 0) {
      const rejected = setAside.map((r) => refused.get(r.envelope.id)!);
      await spool.setAside(setAside, { status: 200, rejected });
      logger.warn({ results: setAside.length, first: rejected[0] }, 'manager rejected results; moved to rejected/');
    }
    const unanswered = records.filter((r) => !accepted.has(r.envelope.id) && !refused.has(r.envelope.id)).length;
    logger.debug({ results: records.length, stored: res.stored, unanswered }, 'results uploaded');
    if (unanswered <= 0) return { next: 'now' };
    logger.warn({ unanswered }, 'upload answer left some results unmentioned; retrying them later');
    return { next: 'wait', ms: this.backoff.next() };
  }

  private async failed(err: unknown, credential: string, records: SpooledRecord[]): Promise<Outcome> {
    const { logger, spool } = this.options;
    if (this.abort.signal.aborted) return { next: 'pause' };
    this.lastError = (err as Error).message;
    if (err instanceof UnauthorizedError) {
      logLinkError(logger, err, 'result upload', 0);
      if (this.credential === credential) {
        this.credential = undefined;
        this.onRefused?.();
      }
      return { next: 'now' };
    }
    if (err instanceof ManagerHttpError && err.status === 413 && records.length > 1) {
      this.batchLimit = Math.max(1, Math.floor(records.length / 2));
      logger.warn({ results: records.length, next_batch: this.batchLimit }, 'upload too large (413); smaller batches');
      return { next: 'now' };
    }
    if (err instanceof ManagerHttpError && (err.status === 422 || err.status === 413)) {
      await spool.setAside(records, { status: err.status, error: err.code, message: err.message });
      logger.warn(
        { results: records.length, status: err.status, err: err.message },
        'upload batch refused; moved to rejected/',
      );
      return { next: 'now' };
    }
    const ms = Math.max(this.backoff.next(), requestedDelayMs(err) ?? 0);
    logLinkError(logger, err, 'result upload failed', ms);
    return { next: 'wait', ms };
  }
}
