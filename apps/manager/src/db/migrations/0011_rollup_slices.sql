-- Rollups by time slice (ADR 6). Results that arrive on time are no longer copied into rollup_pending:
-- the leader's fold job sums them straight from `results`, one closed slice of start times at a time,
-- so a series that reports often costs one rollup upsert per slice instead of one per result, and ingest
-- writes one row per result instead of two. Results that arrive after their slice was closed (an agent
-- that was offline, a retry) still go through rollup_pending and are marked `queued`.
--
-- `closed`: results starting before it go through rollup_pending. Ingest reads it under a shared
-- advisory lock (rk_rollup_closed_until) and the fold moves it forward under the exclusive lock, so no
-- ingest transaction that read the old value is still open when it moves.
-- `folded`: every result starting before it that was not queued is in the rollups.
ALTER TABLE results ADD COLUMN queued boolean NOT NULL DEFAULT false;

-- one row each, locked apart: the fold holds `folded` while it sums a slice, the close takes `closed`
CREATE TABLE rollup_watermarks (
  name text PRIMARY KEY CHECK (name IN ('closed', 'folded')),
  at   timestamptz NOT NULL
);
-- every result stored so far was queued: start after the latest of them
INSERT INTO rollup_watermarks (name, at)
SELECT n, t FROM (VALUES ('closed'), ('folded')) AS v(n),
  (SELECT greatest(now(), (SELECT max(started_at) FROM results) + interval '1 microsecond') AS t) AS x;

-- 727003: the watermark's advisory lock (727001 migrations, 727002 leader)
CREATE FUNCTION rk_rollup_closed_until() RETURNS timestamptz LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(727003);
  -- a statement of its own: a fresh snapshot, taken after the lock was granted
  RETURN (SELECT at FROM rollup_watermarks WHERE name = 'closed');
END $$;
