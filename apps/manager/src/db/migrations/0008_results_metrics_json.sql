-- A result's metrics are stored as the agent sent them (validated and re-serialised by the manager) and
-- read back whole, never searched: json keeps the text after one validating scan, where jsonb builds a
-- binary tree of every document on ingest (measured in bench B1: about 1.5 µs of PostgreSQL CPU per row,
-- a sixth of the ingest statement). A query that needs jsonb operators can cast: metrics::jsonb.
ALTER TABLE results ALTER COLUMN metrics TYPE json USING metrics::json;
