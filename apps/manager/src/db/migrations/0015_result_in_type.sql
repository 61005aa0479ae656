-- The ingest statement's input: one row of an upload batch (db/queries/results.ts, storeResults). The manager
-- sends a batch as one binary array of this type (db/pg-binary.ts, binaryRecordArray) instead of one array per
-- column: one unnest instead of fifteen, about a fifth less PostgreSQL CPU per row inserted. `newest` flags
-- the newest row of each series in the batch (result_latest takes those). The manager looks up the type's
-- OID, which differs between databases; change the fields only together with the encoder's list.
CREATE TYPE result_in AS (
  id            uuid,
  device_id     bigint,
  ou_id         bigint,
  kind          text,
  target        text,
  started_at    timestamptz,
  duration_ms   double precision,
  ok            boolean,
  error_code    text,
  error_message text,
  latency_ms    double precision,
  jitter_ms     double precision,
  loss_pct      double precision,
  metrics       json,
  newest        boolean
);
