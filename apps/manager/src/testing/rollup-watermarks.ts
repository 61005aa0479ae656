// Puts the rollup watermarks where a test or bench needs them, consistently: hour and day watermarks on
// period starts, the day's never after the hour's (migrations 0011 and 0013).
import { sql } from 'kysely';
import type { Db } from '../db/database.js';

/**
 * `closed` and `folded` at `at`; `hour_folded` at `hourFolded` (default: the start of `at`'s hour, so no
 * hour is due), `day_folded` at the start of that hour's day. Times in ms since epoch.
 */
export async function setRollupWatermarks(db: Db, at: number, hourFolded?: number): Promise<void> {
  const hour = new Date(hourFolded ?? Math.floor(at / 3_600_000) * 3_600_000);
  await sql`UPDATE rollup_watermarks SET at = CASE name WHEN 'hour_folded' THEN ${hour}::timestamptz
      WHEN 'day_folded' THEN date_trunc('day', ${hour}::timestamptz) ELSE ${new Date(at)}::timestamptz END`.execute(db);
}
