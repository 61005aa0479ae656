-- Enrollment secrets, devices with per-device credentials, configuration layers and their history.

ALTER TABLE ous ADD COLUMN device_cap integer CHECK (device_cap IS NULL OR device_cap >= 0);

CREATE TABLE enrollment_secrets (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ou_id       bigint NOT NULL REFERENCES ous(id),
  name        text NOT NULL,
  secret_hash text NOT NULL UNIQUE,
  prefix      text NOT NULL,
  created_by  bigint,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz,
  max_uses    integer CHECK (max_uses IS NULL OR max_uses > 0),
  uses        integer NOT NULL DEFAULT 0,
  revoked_at  timestamptz,
  CHECK (max_uses IS NULL OR uses <= max_uses)
);
CREATE INDEX enrollment_secrets_ou_idx ON enrollment_secrets (ou_id);

CREATE TABLE devices (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  ou_id            bigint NOT NULL REFERENCES ous(id),
  serial           text NOT NULL UNIQUE,
  hostname         text NOT NULL,
  os               text NOT NULL,
  os_version       text NOT NULL,
  client_type      text NOT NULL,
  client_version   text NOT NULL,
  labels           text[] NOT NULL DEFAULT '{}',
  credential_hash  text NOT NULL UNIQUE,
  credential_issued_at timestamptz NOT NULL DEFAULT now(),
  enrolled_secret_id bigint REFERENCES enrollment_secrets(id) ON DELETE SET NULL,
  status           text NOT NULL DEFAULT 'online' CHECK (status IN ('online','offline')),
  last_seen_at     timestamptz NOT NULL DEFAULT now(),
  agent_state      text,
  config_version   integer,
  spool_backlog    integer,
  -- set from config_epoch when the device moves OU, so its effective config version still increases
  config_epoch     bigint NOT NULL DEFAULT 0,
  enrolled_at      timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_ou_idx ON devices (ou_id, id);
CREATE INDEX devices_status_seen_idx ON devices (status, last_seen_at);
CREATE INDEX devices_labels_idx ON devices USING gin (labels);

-- one layer per scope: global (scope_id NULL), an OU, or a device
CREATE TABLE config_layers (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  scope_type text NOT NULL CHECK (scope_type IN ('global','ou','device')),
  scope_id   bigint,
  name       text NOT NULL,
  doc        jsonb NOT NULL,
  locked     text[] NOT NULL DEFAULT '{}',
  version    bigint NOT NULL,
  updated_by bigint,
  updated_at timestamptz NOT NULL DEFAULT now(),
  CHECK ((scope_type = 'global') = (scope_id IS NULL))
);
CREATE UNIQUE INDEX config_layers_scope_idx ON config_layers (scope_type, coalesce(scope_id, 0));

CREATE TABLE config_layer_history (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  scope_type text NOT NULL,
  scope_id   bigint,
  version    bigint NOT NULL,
  name       text NOT NULL,
  doc        jsonb,
  locked     text[] NOT NULL,
  changed_by bigint,
  changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX config_layer_history_scope_idx ON config_layer_history (scope_type, scope_id, id DESC);

-- fleet-wide config version: bumped by every layer change, so an agent can tell a change happened
CREATE SEQUENCE config_epoch;

INSERT INTO settings (key, value) VALUES
  ('client_checkin_min_seconds', '1800'),
  ('client_checkin_max_seconds', '3600'),
  ('offline_after_seconds', '180')
ON CONFLICT (key) DO NOTHING;
