-- Probe results: time-partitioned raw rows, incremental rollups (minute/hour/day), latest per series.

CREATE TABLE results (
  id          uuid NOT NULL,
  device_id   bigint NOT NULL,
  ou_id       bigint NOT NULL,
  kind        text NOT NULL,
  target      text NOT NULL,
  started_at  timestamptz NOT NULL,
  duration_ms double precision NOT NULL,
  ok          boolean NOT NULL,
  error_code  text,
  -- the kind's headline numbers, extracted for rollups and thresholds
  latency_ms  double precision,
  jitter_ms   double precision,
  loss_pct    double precision,
  metrics     jsonb NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  -- the partition key must be part of the key; an agent retries with the same started_at
  PRIMARY KEY (started_at, id)
) PARTITION BY RANGE (started_at);
CREATE TABLE results_default PARTITION OF results DEFAULT;
CREATE INDEX results_series_idx ON results (device_id, kind, target, started_at DESC);

-- histogram of latency_ms in 64 log buckets: bucket i covers (0.05 * 1.25^(i-1), 0.05 * 1.25^i] ms
CREATE TABLE result_rollups (
  granularity text NOT NULL CHECK (granularity IN ('minute','hour','day')),
  bucket      timestamptz NOT NULL,
  device_id   bigint NOT NULL,
  kind        text NOT NULL,
  target      text NOT NULL,
  ou_id       bigint NOT NULL,
  count       integer NOT NULL,
  ok_count    integer NOT NULL,
  lat_count   integer NOT NULL,
  lat_sum     double precision NOT NULL,
  lat_min     double precision,
  lat_max     double precision,
  jitter_sum  double precision NOT NULL,
  jitter_count integer NOT NULL,
  loss_sum    double precision NOT NULL,
  loss_count  integer NOT NULL,
  hist        integer[] NOT NULL,
  PRIMARY KEY (granularity, device_id, kind, target, bucket)
);
CREATE INDEX result_rollups_bucket_idx ON result_rollups (granularity, bucket);

CREATE TABLE result_latest (
  device_id   bigint NOT NULL,
  kind        text NOT NULL,
  target      text NOT NULL,
  ou_id       bigint NOT NULL,
  result_id   uuid NOT NULL,
  started_at  timestamptz NOT NULL,
  ok          boolean NOT NULL,
  error_code  text,
  latency_ms  double precision,
  jitter_ms   double precision,
  loss_pct    double precision,
  PRIMARY KEY (device_id, kind, target)
);
CREATE INDEX result_latest_target_idx ON result_latest (kind, target);
CREATE INDEX result_latest_ou_idx ON result_latest (ou_id);

INSERT INTO settings (key, value) VALUES
  ('retention_raw_days', '30'),
  ('retention_minute_days', '14'),
  ('retention_hour_days', '180'),
  ('retention_day_days', '1825')
ON CONFLICT (key) DO NOTHING;

-- latency histogram of a batch: 64 log buckets, see result_rollups.hist
CREATE FUNCTION rk_hist(vals double precision[]) RETURNS integer[] LANGUAGE sql IMMUTABLE AS $$
  SELECT array_agg(coalesce(x.c, 0) ORDER BY i)
  FROM generate_series(1, 64) AS i
  LEFT JOIN (
    SELECT least(64, greatest(1, ceil(ln(greatest(v, 0.05) / 0.05) / ln(1.25))::int + 1)) AS b, count(*)::int AS c
    FROM unnest(vals) AS v WHERE v IS NOT NULL GROUP BY 1
  ) AS x ON x.b = i
$$;

CREATE FUNCTION rk_hist_add(a integer[], b integer[]) RETURNS integer[] LANGUAGE sql IMMUTABLE AS $$
  SELECT array_agg(x + y ORDER BY n) FROM unnest(a, b) WITH ORDINALITY AS t(x, y, n)
$$;
