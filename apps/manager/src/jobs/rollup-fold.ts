// Job: folds results queued by ingest (rollup_pending) into the minute, hour and day rollups.
import type { Db } from '../db/database.js';
import { foldPendingBatch } from '../db/queries/results.js';
import type { Job } from './leader.js';

/**
 * Folds everything queued so far, `batch` results per statement (each result exactly once: taken and
 * rolled up in one statement). Bounded: stops after `maxBatches` per call.
 * @returns results folded
 */
export async function foldPendingRollups(db: Db, batch = 20_000, maxBatches = 50): Promise<number> {
  let total = 0;
  for (let i = 0; i < maxBatches; i++) {
    const n = await foldPendingBatch(db, batch);
    total += n;
    if (n < batch) break;
  }
  return total;
}

/** Rollups lag ingest by at most about `everyMs` (plus the fold itself). @default 2000 */
export function rollupFoldJob(db: Db, everyMs = 2000): Job {
  return { name: 'rollup-fold', everyMs, run: async () => void (await foldPendingRollups(db)) };
}
