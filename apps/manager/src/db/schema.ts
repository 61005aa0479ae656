// Kysely table types; one interface per table, mirroring migrations/.
import type { RollupCounters } from '../domain/rollups.js';
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string, Date | string>;
/** timestamp with a database default: optional on insert */
type DefaultTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
/** identity column: never written */
type Id = ColumnType<string, never, never>;
type Json = ColumnType<unknown, string, string>;

export interface OuTable {
  id: Id;
  parent_id: string | null;
  name: string;
  path: string;
  description: Generated<string>;
  device_cap: Generated<number | null>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export interface UserTable {
  id: Id;
  username: string;
  email: string | null;
  full_name: Generated<string>;
  password_hash: string;
  role: string;
  ou_id: string | null;
  disabled: Generated<boolean>;
  token_version: Generated<number>;
  totp_secret: string | null;
  totp_enabled: Generated<boolean>;
  totp_last_step: string | null;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export interface RecoveryCodeTable {
  id: Id;
  user_id: string;
  code_hash: string;
  used_at: Timestamp | null;
}

export interface RefreshTokenTable {
  id: Id;
  user_id: string;
  family_id: string;
  token_hash: string;
  access_jti: string;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  revoked_at: Timestamp | null;
  created_at: DefaultTimestamp;
}

export interface RevokedJtiTable {
  jti: string;
  expires_at: Timestamp;
}

export interface ApiKeyTable {
  id: Id;
  user_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  created_at: DefaultTimestamp;
  expires_at: Timestamp | null;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface ThrottleTable {
  key: string;
  failures: number;
  window_start: Timestamp;
  locked_until: Timestamp | null;
}

export interface AuditLogTable {
  id: Id;
  at: DefaultTimestamp;
  actor_id: string | null;
  actor_name: string;
  action: string;
  target_type: string;
  target_id: string | null;
  ou_path: string | null;
  before: Json | null;
  after: Json | null;
  request_id: string | null;
}

export interface SettingTable {
  key: string;
  value: Json;
}

export interface EnrollmentSecretTable {
  id: Id;
  ou_id: string;
  name: string;
  secret_hash: string;
  prefix: string;
  created_by: string | null;
  created_at: DefaultTimestamp;
  expires_at: Timestamp | null;
  max_uses: number | null;
  uses: Generated<number>;
  revoked_at: Timestamp | null;
}

export interface DeviceTable {
  id: Id;
  ou_id: string;
  serial: string;
  hostname: string;
  os: string;
  os_version: string;
  client_type: string;
  client_version: string;
  labels: Generated<string[]>;
  credential_hash: string;
  credential_issued_at: DefaultTimestamp;
  enrolled_secret_id: string | null;
  status: Generated<string>;
  last_seen_at: DefaultTimestamp;
  agent_state: string | null;
  config_version: number | null;
  spool_backlog: number | null;
  config_epoch: Generated<string>;
  enrolled_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export interface ConfigLayerTable {
  id: Id;
  scope_type: string;
  scope_id: string | null;
  name: string;
  doc: Json;
  locked: string[];
  version: string;
  updated_by: string | null;
  updated_at: DefaultTimestamp;
}

export interface ConfigLayerHistoryTable {
  id: Id;
  scope_type: string;
  scope_id: string | null;
  version: string;
  name: string;
  doc: Json | null;
  locked: string[];
  changed_by: string | null;
  changed_at: DefaultTimestamp;
}

export interface ResultRollupTable extends RollupCounters {
  granularity: string;
  bucket: Timestamp;
  device_id: string;
  kind: string;
  target: string;
  ou_id: string;
}

export interface ResultLatestTable {
  device_id: string;
  kind: string;
  target: string;
  ou_id: string;
  result_id: string;
  started_at: Timestamp;
  ok: boolean;
  error_code: string | null;
  latency_ms: number | null;
  jitter_ms: number | null;
  loss_pct: number | null;
}

export interface AlertStateTable {
  device_id: string;
  kind: string;
  target: string;
  metric: string;
  state: string;
  pending: string;
  pending_count: number;
  since: Timestamp;
  last_value: number | null;
  last_at: Timestamp;
}

export interface AlertEventTable {
  id: Id;
  device_id: string;
  ou_id: string;
  kind: string;
  target: string;
  metric: string;
  from_state: string;
  to_state: string;
  value: number | null;
  threshold: number | null;
  at: Timestamp;
}

export interface WebhookTable {
  id: Id;
  ou_id: string | null;
  name: string;
  url: string;
  format: string;
  secret: string;
  enabled: Generated<boolean>;
  created_at: DefaultTimestamp;
}

export interface WebhookDeliveryTable {
  id: Id;
  webhook_id: string;
  event_id: string;
  status: Generated<string>;
  attempts: Generated<number>;
  next_at: DefaultTimestamp;
  last_error: string | null;
  delivered_at: Timestamp | null;
}

export interface Database {
  alert_states: AlertStateTable;
  alert_events: AlertEventTable;
  webhooks: WebhookTable;
  webhook_deliveries: WebhookDeliveryTable;
  result_rollups: ResultRollupTable;
  result_latest: ResultLatestTable;
  enrollment_secrets: EnrollmentSecretTable;
  devices: DeviceTable;
  config_layers: ConfigLayerTable;
  config_layer_history: ConfigLayerHistoryTable;
  ous: OuTable;
  users: UserTable;
  recovery_codes: RecoveryCodeTable;
  refresh_tokens: RefreshTokenTable;
  revoked_jtis: RevokedJtiTable;
  api_keys: ApiKeyTable;
  throttle: ThrottleTable;
  audit_log: AuditLogTable;
  settings: SettingTable;
}
