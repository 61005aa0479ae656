// Agent ↔ manager contract: enrollment, config check-in, heartbeat, agent stream messages, headers.
import { Type, type Static } from '@sinclair/typebox';
import {
  CONFIG_KEYS,
  type ConfigValues,
  drawTestInterval,
  type Rng,
  ScheduleSettings,
  TestKindConfig,
  Thresholds,
} from './config.js';

/** Value of the `X-API-Version` header every agent call carries; a mismatch is answered with 426. */
export const AGENT_API_VERSION = 1;
/** Headers of agent calls (lower-case, as Node delivers them). */
export const AGENT_HEADERS = {
  apiVersion: 'x-api-version',
  idempotencyKey: 'idempotency-key',
  authorization: 'authorization',
} as const;
/** Every device credential starts with this prefix. */
export const DEVICE_CREDENTIAL_PREFIX = 'rkd_';

/** Fixed paths of the agent API. */
export const AGENT_PATHS = {
  enroll: '/api/v1/enrollment/enroll',
  config: '/api/v1/enrollment/config',
  heartbeat: (deviceId: number) => `/api/v1/enrollment/devices/${deviceId}/heartbeat`,
  stream: '/api/v1/agent/stream',
} as const;

const Text = (max: number) => Type.String({ minLength: 1, maxLength: max });

/** `POST /api/v1/enrollment/enroll` body (the seed's fields). The OU comes from the secret, never the body. */
export const EnrollRequest = Type.Object(
  {
    secret: Text(512),
    device_serial: Text(256),
    device_hostname: Text(255),
    device_os: Text(64),
    device_os_version: Text(128),
    client_type: Text(64),
    client_version: Text(64),
  },
  { title: 'EnrollRequest' },
);
export type EnrollRequest = Static<typeof EnrollRequest>;

/** 201 answer to an enrollment. `device_credential` is shown once; send it as `Authorization: Bearer …`. */
export const EnrollResponse = Type.Object(
  {
    message: Type.String(),
    ou_id: Type.Integer(),
    device_id: Type.Integer(),
    device_credential: Type.String({ pattern: `^${DEVICE_CREDENTIAL_PREFIX}`, minLength: 26 }),
  },
  { title: 'EnrollResponse' },
);
export type EnrollResponse = Static<typeof EnrollResponse>;

/** `GET /api/v1/enrollment/config` query. */
export const ConfigQuery = Type.Object({ device_serial: Text(256) }, { title: 'ConfigQuery' });
export type ConfigQuery = Static<typeof ConfigQuery>;

/** The schedule as served: settings plus this response's draw. */
export const ServedSchedule = Type.Object(
  {
    ...ScheduleSettings.properties,
    actual_interval_seconds: Type.Integer({ minimum: 1, description: 'seconds until the next test run (jittered)' }),
    next_check_in: Type.Number({ description: 'epoch seconds of the next test run' }),
  },
  { title: 'ServedSchedule' },
);
export type ServedSchedule = Static<typeof ServedSchedule>;

/** The effective config as served to an agent (seed shape plus dns and traceroute). */
export const AgentConfig = Type.Object(
  {
    tests: Type.Object({
      http: TestKindConfig,
      tcp: TestKindConfig,
      udp: TestKindConfig,
      icmp: TestKindConfig,
      dns: TestKindConfig,
      traceroute: TestKindConfig,
    }),
    schedule: ServedSchedule,
    thresholds: Thresholds,
  },
  { title: 'AgentConfig' },
);
export type AgentConfig = Static<typeof AgentConfig>;

/**
 * Builds the config an agent is served from merged values: draws this response's jittered test
 * interval and stamps the next run. Pure apart from `rng`. The answer shares `values.tests` (not
 * copied: the manager serves cached, frozen values on every check-in); treat it as read-only.
 * @param nowMs current time, epoch milliseconds
 */
export function buildAgentConfig(values: ConfigValues, nowMs: number, rng: Rng = Math.random): AgentConfig {
  const actual = drawTestInterval(values.schedule.interval_seconds, values.schedule.offset_percent, rng);
  return {
    tests: values.tests,
    schedule: { ...values.schedule, actual_interval_seconds: actual, next_check_in: nowMs / 1000 + actual },
    thresholds: { ...values.thresholds },
  };
}

/** 200 answer to a config check-in. */
export const ConfigResponse = Type.Object(
  {
    config: AgentConfig,
    config_name: Type.String(),
    ou_id: Type.Integer(),
    next_checkin_seconds: Type.Integer({ minimum: 1, description: 'seconds until the next config check-in' }),
    next_checkin_at: Type.Number({ description: 'epoch seconds of the next config check-in' }),
    config_version: Type.Integer({ minimum: 0, description: 'increases whenever the effective config changes' }),
    provenance: Type.Record(Type.String(), Type.String(), {
      description: `dotted key → layer id ("default", "global", "ou:<id>", "device:<id>"); keys: ${CONFIG_KEYS.length}`,
    }),
  },
  { title: 'ConfigResponse' },
);
export type ConfigResponse = Static<typeof ConfigResponse>;

/** Lifecycle states an agent reports (see docs/agent.md). */
export const AGENT_STATES = [
  'starting',
  'enrolling',
  'unenrolled_fallback',
  'enrolled',
  'stopping',
  'stopped',
] as const;
export type AgentState = (typeof AGENT_STATES)[number];

/** Largest value of an integer heartbeat field (the columns are 32-bit; a larger one would fail the whole batch). */
export const HEARTBEAT_INT_MAX = 2_147_483_647;

/** Fields of a heartbeat, over HTTP or the stream; every field optional. */
export const HeartbeatFields = {
  agent_state: Type.Optional(Type.Union(AGENT_STATES.map((s) => Type.Literal(s)))),
  config_version: Type.Optional(Type.Integer({ minimum: 0, maximum: HEARTBEAT_INT_MAX })),
  spool_backlog: Type.Optional(
    Type.Integer({ minimum: 0, maximum: HEARTBEAT_INT_MAX, description: 'results waiting for upload' }),
  ),
};

/** `POST /api/v1/enrollment/devices/{device_id}/heartbeat` body; every field optional. */
export const HeartbeatRequest = Type.Object(HeartbeatFields, { title: 'HeartbeatRequest' });
export type HeartbeatRequest = Static<typeof HeartbeatRequest>;

export const HeartbeatParams = Type.Object({ device_id: Type.Integer({ minimum: 1 }) });
export type HeartbeatParams = Static<typeof HeartbeatParams>;

export const HeartbeatResponse = Type.Object({ message: Type.String() }, { title: 'HeartbeatResponse' });
export type HeartbeatResponse = Static<typeof HeartbeatResponse>;

/** Correlates a stream heartbeat with its ack or error; chosen by the agent, echoed by the manager. */
const MessageId = Type.String({ minLength: 1, maxLength: 64 });

/** Manager → agent messages on `GET /api/v1/agent/stream` (JSON text frames). */
export const StreamHello = Type.Object({ type: Type.Literal('hello'), device_id: Type.Integer() });
export const StreamNudge = Type.Object({
  type: Type.Literal('nudge'),
  reason: Type.Literal('config_changed'),
  config_version: Type.Integer({ minimum: 0 }),
});
export const StreamPong = Type.Object({ type: Type.Literal('pong') });
/** The heartbeat was recorded (it reaches the database with the next flush, about once a second). */
export const StreamHeartbeatAck = Type.Object({ type: Type.Literal('heartbeat_ack'), id: Type.Optional(MessageId) });
/** A message the manager could not take; `id` is echoed when the message carried a valid one. */
export const StreamError = Type.Object({
  type: Type.Literal('error'),
  error: Type.String({ description: 'code: invalid_message, unknown_message_type' }),
  message: Type.String(),
  id: Type.Optional(MessageId),
  details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export const ServerStreamMessage = Type.Union([StreamHello, StreamNudge, StreamPong, StreamHeartbeatAck, StreamError], {
  title: 'ServerStreamMessage',
});
export type ServerStreamMessage = Static<typeof ServerStreamMessage>;

/** Agent → manager messages on the stream. */
export const StreamPing = Type.Object({ type: Type.Literal('ping') });
/**
 * A heartbeat of the connected device (the device is the one the stream authenticated as, never a
 * field); the same fields and limits as {@link HeartbeatRequest}. Answered with `heartbeat_ack` or `error`.
 */
export const StreamHeartbeat = Type.Object({
  type: Type.Literal('heartbeat'),
  id: Type.Optional(MessageId),
  ...HeartbeatFields,
});
export type StreamHeartbeat = Static<typeof StreamHeartbeat>;
export const ClientStreamMessage = Type.Union([StreamPing, StreamHeartbeat], { title: 'ClientStreamMessage' });
export type ClientStreamMessage = Static<typeof ClientStreamMessage>;
