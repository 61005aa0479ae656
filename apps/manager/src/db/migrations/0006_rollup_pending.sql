-- Results stored but not yet folded into result_rollups. Ingest appends one narrow row per newly stored
-- result in the transaction that stores it; the leader's rollup-fold job moves them into the minute,
-- hour and day rollups every few seconds (one upsert per row and cycle, instead of three per result:
-- hour and day rows of a busy series were rewritten on every result). No index: it is only appended to
-- and emptied by ctid.
CREATE TABLE rollup_pending (
  device_id   bigint NOT NULL,
  ou_id       bigint NOT NULL,
  kind        text NOT NULL,
  target      text NOT NULL,
  started_at  timestamptz NOT NULL,
  ok          boolean NOT NULL,
  latency_ms  double precision,
  jitter_ms   double precision,
  loss_pct    double precision
);
