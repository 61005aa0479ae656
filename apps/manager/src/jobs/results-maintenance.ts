// Jobs: create the coming days' result partitions; apply retention per granularity.
import type { Db } from '../db/database.js';
import { applyRetention, ensureResultPartitions } from '../db/queries/results.js';
import { readSettings } from '../db/queries/settings.js';
import type { Job } from './leader.js';

export function resultPartitionsJob(db: Db): Job {
  return { name: 'result-partitions', everyMs: 3_600_000, run: () => ensureResultPartitions(db, 3) };
}

export function resultRetentionJob(db: Db): Job {
  return {
    name: 'result-retention',
    everyMs: 3_600_000,
    async run() {
      const s = await readSettings(db);
      const days = (k: string, d: number) => (Number(s[k]) > 0 ? Number(s[k]) : d);
      await applyRetention(db, {
        rawDays: days('retention_raw_days', 30),
        minuteDays: days('retention_minute_days', 14),
        hourDays: days('retention_hour_days', 180),
        dayDays: days('retention_day_days', 1825),
      });
    },
  };
}
