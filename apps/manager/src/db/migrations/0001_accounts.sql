-- Organisation units, users, credentials, audit log.

CREATE TABLE ous (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  parent_id   bigint REFERENCES ous(id),
  name        text NOT NULL,
  -- materialised path of ids, '/1/4/9/': subtree = path LIKE '/1/4/%'
  path        text NOT NULL,
  description text NOT NULL DEFAULT '',
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ous_path_idx ON ous (path text_pattern_ops);
CREATE INDEX ous_parent_idx ON ous (parent_id);
CREATE UNIQUE INDEX ous_sibling_name_idx ON ous (coalesce(parent_id, 0), lower(name));

CREATE TABLE users (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username       text NOT NULL,
  email          text,
  full_name      text NOT NULL DEFAULT '',
  password_hash  text NOT NULL,
  role           text NOT NULL CHECK (role IN ('global_admin','global_reporter','ou_admin','ou_reporter','user')),
  ou_id          bigint REFERENCES ous(id),
  disabled       boolean NOT NULL DEFAULT false,
  -- bumped on password change / disable: every token issued before is dead
  token_version  integer NOT NULL DEFAULT 0,
  totp_secret    text,
  totp_enabled   boolean NOT NULL DEFAULT false,
  totp_last_step bigint,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  CHECK ((role IN ('ou_admin','ou_reporter')) <= (ou_id IS NOT NULL)),
  CHECK ((role IN ('global_admin','global_reporter')) <= (ou_id IS NULL))
);
CREATE UNIQUE INDEX users_username_idx ON users (lower(username));
CREATE INDEX users_ou_idx ON users (ou_id);

CREATE TABLE recovery_codes (
  id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id   bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash text NOT NULL,
  used_at   timestamptz
);
CREATE INDEX recovery_codes_user_idx ON recovery_codes (user_id);

CREATE TABLE refresh_tokens (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  family_id   uuid NOT NULL,
  token_hash  text NOT NULL UNIQUE,
  access_jti  uuid NOT NULL,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  revoked_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);

-- access tokens revoked before their expiry (logout); rows expire with the token
CREATE TABLE revoked_jtis (
  jti        uuid PRIMARY KEY,
  expires_at timestamptz NOT NULL
);

CREATE TABLE api_keys (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id      bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name         text NOT NULL,
  prefix       text NOT NULL,
  key_hash     text NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz,
  last_used_at timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);

-- failed-attempt counters for login / TOTP throttling, keyed 'user:NAME' or 'ip:ADDR'
CREATE TABLE throttle (
  key          text PRIMARY KEY,
  failures     integer NOT NULL,
  window_start timestamptz NOT NULL,
  locked_until timestamptz
);

CREATE TABLE audit_log (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT now(),
  actor_id     bigint,
  actor_name   text NOT NULL,
  action       text NOT NULL,
  target_type  text NOT NULL,
  target_id    text,
  ou_path      text,
  before       jsonb,
  after        jsonb,
  request_id   text
);
CREATE INDEX audit_log_at_idx ON audit_log (id DESC);
CREATE INDEX audit_log_ou_idx ON audit_log (ou_path text_pattern_ops);

CREATE TABLE settings (
  key   text PRIMARY KEY,
  value jsonb NOT NULL
);
