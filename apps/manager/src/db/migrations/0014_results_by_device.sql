-- Raw results keyed by device, then start time (ADR 10). Until now every stored result added an entry to
-- two indexes: the primary key (started_at, id), appended at its right edge, and results_series_idx
-- (device_id, kind, target, started_at DESC), where each series inserts at its own place: as many places
-- written to as series report (10 000 in bench B1, millions in a large fleet), each a different leaf page
-- to read, dirty and log. Keyed by (device_id, started_at, id) a device's results append at the end of its
-- own range: one place per device. Measured with `./rookery bench compare` (B1 mix, 200 devices × 50
-- targets, alternated rounds): PostgreSQL CPU per request 82.0 → 69.5 µs at 4000 req/s and 77.6 → 62.8 µs
-- at 5000 req/s.
--
-- - The key still holds the partition key and makes a retried result (same device, start and id)
--   a conflict; the same id from another device is another result.
-- - results_started_idx (started_at) serves the rollup fold's slices, appended at its right edge as the
--   old key was.
-- - Raw results of one series read the device's range newest first, bounded by the series' latest row
--   (queries/results.ts, rawResultsQuery).
ALTER TABLE results DROP CONSTRAINT results_pkey;
DROP INDEX results_series_idx;
ALTER TABLE results ADD PRIMARY KEY (device_id, started_at, id);
CREATE INDEX results_started_idx ON results (started_at);
