-- Heartbeats rewrite last_seen_at (and agent_state, config_version, spool_backlog) of every device every
-- few seconds. With last_seen_at in an index, each such update is a new row version in every index of
-- devices (six, one of them GIN); with no indexed column changed and free room on the row's page,
-- PostgreSQL updates it in place instead (a HOT update) and touches no index (bench B3).
DROP INDEX devices_status_seen_idx;
-- status changes only when a device goes offline or comes back: listing by status keeps an index
CREATE INDEX devices_status_idx ON devices (status);
-- room for the new version on the same page; applies to pages written from now on
ALTER TABLE devices SET (fillfactor = 80);
