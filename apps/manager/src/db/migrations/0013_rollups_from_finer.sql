-- Hour and day rollups from the finer rows, when their period closes (ADR 6, decision 5). Until now every
-- fold upserted a result's minute, hour and day rows: three upserts per result and slice in steady state.
-- Now the slice fold writes minute rows only; when the `folded` watermark passes the end of an hour, that
-- hour's rows are summed from its minute rows, and when every hour of a day is summed, the day's rows from
-- its hour rows. Late results (rollup_pending) still add to hour and day rows that exist already.
--
-- `hour_folded`: every hour starting before it has its hour rows; no hour row starts at or after it.
-- `day_folded`: the same for days and day rows. Both sit on period boundaries (UTC).
ALTER TABLE rollup_watermarks DROP CONSTRAINT rollup_watermarks_name_check;
ALTER TABLE rollup_watermarks ADD CONSTRAINT rollup_watermarks_name_check
  CHECK (name IN ('closed', 'folded', 'hour_folded', 'day_folded'));

-- The hour and day rows so far were complete up to `folded`: keep those of the periods that ended before
-- it, and sum the open hour and day again from the finer rows when they close.
INSERT INTO rollup_watermarks (name, at)
SELECT 'hour_folded', date_trunc('hour', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' FROM rollup_watermarks WHERE name = 'folded'
UNION ALL
SELECT 'day_folded', date_trunc('day', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' FROM rollup_watermarks WHERE name = 'folded';
DELETE FROM result_rollups WHERE granularity = 'hour'
  AND bucket >= (SELECT at FROM rollup_watermarks WHERE name = 'hour_folded');
DELETE FROM result_rollups WHERE granularity = 'day'
  AND bucket >= (SELECT at FROM rollup_watermarks WHERE name = 'day_folded');
