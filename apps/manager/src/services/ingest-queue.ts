// Group commit for result uploads: uploads that arrive while a write is under way, or within a short
// collection window on a busy replica, are stored together in one transaction (results, latest, rollups,
// alert machines), and each upload is answered once that transaction has committed. Busy replicas write
// fewer, larger statements instead of queueing many small ones; a quiet replica writes each upload at once.
import type { DeviceRow } from '../db/queries/devices.js';
import {
  batchSeries,
  type IngestRow,
  isDuplicateResult,
  resultInType,
  type ResultRowIn,
  storeResults,
} from '../db/queries/results.js';
import type { Db } from '../db/database.js';
import type { AlertEvent, AlertService } from './alerts.js';

export interface IngestQueueOptions {
  /** transactions writing at once; @default 2 (one in PostgreSQL while the next is prepared) */
  writers: number;
  /** results per transaction, at most (an upload is never split); @default 4000 */
  batchRows: number;
  /**
   * On a busy replica, how long an upload waits for others to share its transaction, ms (a batch of
   * `enoughRows` goes at once). The replica counts as quiet, and an upload is written at once, when no transaction
   * is being written and none ended within this time, or when the last wait gathered no other upload and none
   * has arrived since while another was queued or being written (one client uploading one batch after another,
   * as an agent drains its spool). @default 20 (ADR 6)
   */
  lingerMs?: number;
  /**
   * A waiting batch with at least this many results goes at once, window or not: against it the fixed cost
   * of a statement is small, and bulk uploads (spools drained after an outage) must not wait. @default 2000
   */
  enoughRows?: number;
}

export const DEFAULT_INGEST_QUEUE: IngestQueueOptions = {
  writers: 2,
  batchRows: 4000,
  lingerMs: 20,
  enoughRows: 2000,
};

/** Durations the queue reports once per transaction (the manager's Prometheus histograms, `/metrics`). */
export interface IngestTimings {
  /** how long the oldest upload of a transaction waited in the queue before the transaction began, seconds */
  waited(seconds: number): void;
  /** how long the transaction took until its uploads could be answered, seconds (a retry of it included) */
  wrote(seconds: number): void;
}

/** What one upload stored: its new rows (duplicates of earlier uploads left out) and the alert changes they caused. */
export interface Stored {
  fresh: ResultRowIn[];
  events: AlertEvent[];
}

interface Item {
  /** performance.now() when submitted */
  at: number;
  device: DeviceRow;
  rows: IngestRow[];
  /** it waited for others to share its transaction (it was first in the queue when a batch was held back) */
  held?: boolean;
  resolve(s: Stored): void;
  reject(err: unknown): void;
}

/** Deadlock or serialization failure: the whole transaction may simply run again. */
const retryable = (err: unknown) => ['40P01', '40001'].includes((err as { code?: string }).code ?? '');

export class IngestQueue {
  private readonly queue: Item[] = [];
  private queuedRows = 0;
  private writing = 0;
  /** performance.now() when the last transaction ended */
  private lastEnd = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private transactionCount = 0;
  private singleStatementCount = 0;
  /**
   * The last upload that was held back for others went alone, and no upload has arrived since while another
   * was queued or being written: waiting gathers nothing, so uploads go at once until one does.
   */
  private solo = false;
  /** the OID of `result_in` in this database (`resultInType`) */
  private resultIn: Promise<number> | undefined;
  /** where each transaction's wait and duration go, when someone watches */
  timings: IngestTimings | undefined;

  /** results at which a waiting batch goes at once (`enoughRows`, never above `batchRows`) */
  private readonly enough: number;

  constructor(
    private readonly db: Db,
    private readonly alerts: AlertService | undefined,
    private readonly o: IngestQueueOptions = DEFAULT_INGEST_QUEUE,
  ) {
    this.enough = Math.min(o.enoughRows ?? o.batchRows, o.batchRows);
  }

  /** Results waiting for a transaction (not counting those being written). */
  get backlog(): number {
    return this.queuedRows;
  }

  /** Transactions this queue has run (first attempts; retries of a refused batch not counted). */
  get transactions(): number {
    return this.transactionCount;
  }

  /** Batches stored by one statement that was its own transaction (every result quiet for the alerts). */
  get singleStatements(): number {
    return this.singleStatementCount;
  }

  /**
   * Stores a device's rows (their `device_id`/`ou_id` are the device's); resolves after commit.
   * Rejects with the database error if they cannot be stored.
   */
  submit(device: DeviceRow, rows: IngestRow[]): Promise<Stored> {
    return new Promise((resolve, reject) => {
      if (this.writing > 0 || this.queue.length > 0) this.solo = false;
      this.queue.push({ at: performance.now(), device, rows, resolve, reject });
      this.queuedRows += rows.length;
      this.pump();
    });
  }

  /**
   * Starts transactions while writers are free and uploads wait. On a busy replica a batch of fewer than
   * `enoughRows` results waits until its oldest upload is `lingerMs` old. Measured in `./rookery bench b1`
   * (window off, 5 ms and the default, alternated): fewer transactions and less CPU per request, for up
   * to `lingerMs` more upload latency (ADR 6).
   */
  private pump(): void {
    while (this.writing < this.o.writers && this.queue.length) {
      const linger = this.o.lingerMs ?? 0;
      const now = performance.now();
      const quiet = this.writing === 0 && (this.solo || now - this.lastEnd >= linger);
      const due = (this.queue[0] as Item).at + linger;
      if (!quiet && this.queuedRows < this.enough && now < due) {
        (this.queue[0] as Item).held = true;
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, due - now);
        return;
      }
      const batch: Item[] = [];
      let n = 0;
      while (this.queue.length && (batch.length === 0 || n + (this.queue[0] as Item).rows.length <= this.o.batchRows)) {
        const it = this.queue.shift() as Item;
        batch.push(it);
        n += it.rows.length;
      }
      // it waited for nothing
      if (batch.length === 1 && (batch[0] as Item).held) this.solo = true;
      this.queuedRows -= n;
      this.writing++;
      this.transactionCount++;
      this.timings?.waited((now - (batch[0] as Item).at) / 1000);
      void this.write(batch, now);
    }
  }

  /**
   * Stores the batch, then frees its writer and answers its uploads, in that order: an upload a client sends
   * on its answer finds no transaction being written. Never rejects.
   */
  private async write(batch: Item[], began: number): Promise<void> {
    let answer: () => void;
    try {
      const out = await this.storeOnce(batch);
      answer = () => batch.forEach((it, i) => it.resolve(out[i] as Stored));
    } catch (err) {
      if (batch.length === 1) answer = () => (batch[0] as Item).reject(err);
      else {
        // one upload the database refuses must not fail the others: store each alone
        const answers: (() => void)[] = [];
        for (const it of batch) answers.push(await this.storeAlone(it));
        answer = () => answers.forEach((a) => a());
      }
    }
    this.writing--;
    this.lastEnd = performance.now();
    this.timings?.wrote((this.lastEnd - began) / 1000);
    answer();
    this.pump();
  }

  /** Stores one upload in a transaction of its own; what it gives answers the upload. Never rejects. */
  private storeAlone(it: Item): Promise<() => void> {
    return this.storeOnce([it]).then(
      (out) => () => it.resolve(out[0] as Stored),
      (e: unknown) => () => it.reject(e),
    );
  }

  /**
   * Stores the batch, trying the optimistic statement first (every row new); a row stored before or
   * repeated within the batch, or a deadlock, runs the transaction again skipping duplicates.
   */
  private storeOnce(batch: Item[]): Promise<Stored[]> {
    return this.store(batch, false).catch((err: unknown) => {
      if (isDuplicateResult(err) || retryable(err)) return this.store(batch, true);
      throw err;
    });
  }

  /**
   * Stores the batch. When every result of it leaves a quiet alert machine quiet (a healthy fleet), one
   * statement that is its own transaction: one round trip instead of three (BEGIN, the statement, COMMIT),
   * ADR 11. It stores nothing when a machine of the batch's series is astir,
   * and then, as for a batch with a breach, one transaction: the statement, which also locks the machines;
   * the machines' writes; COMMIT. Per item, what it stored.
   */
  private async store(batch: Item[], dedupe: boolean): Promise<Stored[]> {
    const all = batch.length === 1 ? (batch[0] as Item).rows : batch.flatMap((it) => it.rows);
    const series = batchSeries(all);
    // looked up once; a failed lookup (the database was down) is tried again by the next batch
    this.resultIn ??= resultInType(this.db).catch((err: unknown) => {
      this.resultIn = undefined;
      throw err;
    });
    const resultIn = await this.resultIn;
    if (!this.alerts || (await this.alerts.leavesQuiet(batch))) {
      const r = await storeResults(this.db, resultIn, all, series, { dedupe, alone: true });
      if (!r.refused) {
        this.singleStatementCount++;
        return this.split(batch, r.ids).map((rows) => ({ fresh: rows, events: [] }));
      }
    }
    return this.db.transaction().execute(async (tx) => {
      const { ids, states } = await storeResults(tx, resultIn, all, series, { dedupe });
      const fresh = this.split(batch, ids);
      const events =
        (await this.alerts?.evaluate(
          batch.map((it, i) => ({ device: it.device, rows: fresh[i] as IngestRow[] })),
          states,
          tx,
        )) ?? [];
      return fresh.map((rows, i) => ({ fresh: rows, events: events[i] ?? [] }));
    });
  }

  /** Each item's rows among the `stored` ids: an id is fresh once, for the first upload that carries it (two retries may share a batch). */
  private split(batch: readonly Item[], ids: readonly string[]): IngestRow[][] {
    const stored = new Set(ids);
    return batch.map((it) => it.rows.filter((r) => stored.delete(r.id)));
  }
}
