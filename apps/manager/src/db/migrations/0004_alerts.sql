-- Threshold alerts: one state machine per device × kind × target × metric, their events, webhooks and deliveries.

CREATE TABLE alert_states (
  device_id     bigint NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  kind          text NOT NULL,
  target        text NOT NULL,
  metric        text NOT NULL CHECK (metric IN ('latency','jitter','loss','availability')),
  state         text NOT NULL CHECK (state IN ('ok','warning','critical')),
  -- level the recent results point to, and how many in a row did
  pending       text NOT NULL CHECK (pending IN ('ok','warning','critical')),
  pending_count integer NOT NULL,
  since         timestamptz NOT NULL,
  last_value    double precision,
  last_at       timestamptz NOT NULL,
  PRIMARY KEY (device_id, kind, target, metric)
);
CREATE INDEX alert_states_open_idx ON alert_states (state) WHERE state <> 'ok';

CREATE TABLE alert_events (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  device_id  bigint NOT NULL,
  ou_id      bigint NOT NULL,
  kind       text NOT NULL,
  target     text NOT NULL,
  metric     text NOT NULL,
  from_state text NOT NULL,
  to_state   text NOT NULL,
  value      double precision,
  threshold  double precision,
  at         timestamptz NOT NULL
);
CREATE INDEX alert_events_device_idx ON alert_events (device_id, id DESC);

CREATE TABLE webhooks (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ou_id      bigint REFERENCES ous(id),
  name       text NOT NULL,
  url        text NOT NULL,
  format     text NOT NULL CHECK (format IN ('generic','slack')),
  secret     text NOT NULL,
  enabled    boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  webhook_id  bigint NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  event_id    bigint NOT NULL REFERENCES alert_events(id) ON DELETE CASCADE,
  status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','delivered','failed')),
  attempts    integer NOT NULL DEFAULT 0,
  next_at     timestamptz NOT NULL DEFAULT now(),
  last_error  text,
  delivered_at timestamptz,
  UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_at) WHERE status = 'pending';
