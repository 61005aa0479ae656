// Tests that the agent contract schemas accept the seed's documents (plus our additions) and reject drift.
import { Value } from '@sinclair/typebox/value';
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, DEFAULT_CONFIG_VALUES, mergeLayers } from './config.js';
import {
  AGENT_PATHS,
  buildAgentConfig,
  ConfigResponse,
  EnrollRequest,
  EnrollResponse,
  HeartbeatRequest,
  ServerStreamMessage,
  ClientStreamMessage,
  HEARTBEAT_INT_MAX,
} from './enrollment.js';

const seedEnroll = {
  secret: 'enrollment-secret-here',
  device_serial: 'unique-device-id',
  device_hostname: 'client-001',
  device_os: 'Linux',
  device_os_version: '6.1.0',
  client_type: 'containerClient',
  client_version: '4.0.0',
};

const kind = (enabled: boolean, targets: string[]) => ({ enabled, targets });
const seedConfigResponse = {
  config: {
    tests: {
      http: kind(true, ['https://google.com', 'https://cloudflare.com']),
      tcp: kind(true, ['8.8.8.8:53']),
      udp: kind(false, []),
      icmp: kind(true, ['8.8.8.8', '1.1.1.1']),
      dns: kind(false, []),
      traceroute: kind(false, []),
    },
    schedule: { interval_seconds: 300, offset_percent: 15, actual_interval_seconds: 287, next_check_in: 1699564123.45 },
    thresholds: {
      latency_warning_ms: 100,
      latency_critical_ms: 500,
      jitter_warning_ms: 50,
      jitter_critical_ms: 200,
      packet_loss_warning_percent: 1.0,
      packet_loss_critical_percent: 5.0,
    },
  },
  config_name: 'Engineering Config',
  ou_id: 3,
  next_checkin_seconds: 2847,
  next_checkin_at: 1699566970.45,
  config_version: 4,
  provenance: { 'tests.http.enabled': 'ou:3' },
};

describe('agent contract schemas', () => {
  it("accept the seed's enrollment body and response (with the device credential)", () => {
    expect(Value.Check(EnrollRequest, seedEnroll)).toBe(true);
    expect(Value.Check(EnrollRequest, { ...seedEnroll, secret: '' })).toBe(false);
    const { device_serial: _, ...missing } = seedEnroll;
    expect(Value.Check(EnrollRequest, missing)).toBe(false);
    const res = { message: 'Device enrolled successfully', ou_id: 3, device_id: 42 };
    expect(Value.Check(EnrollResponse, { ...res, device_credential: `rkd_${'A'.repeat(32)}` })).toBe(true);
    expect(Value.Check(EnrollResponse, { ...res, device_credential: 'A'.repeat(36) })).toBe(false);
    expect(Value.Check(EnrollResponse, res)).toBe(false);
  });

  it("accept the seed's config response plus dns, traceroute, config_version and provenance", () => {
    expect(Value.Check(ConfigResponse, seedConfigResponse)).toBe(true);
    const { config_version: _, ...noVersion } = seedConfigResponse;
    expect(Value.Check(ConfigResponse, noVersion)).toBe(false);
    const { dns: __, ...noDns } = seedConfigResponse.config.tests;
    expect(
      Value.Check(ConfigResponse, { ...seedConfigResponse, config: { ...seedConfigResponse.config, tests: noDns } }),
    ).toBe(false);
    const tooFast = structuredClone(seedConfigResponse);
    tooFast.config.schedule.interval_seconds = 5;
    expect(Value.Check(ConfigResponse, tooFast)).toBe(false);
  });

  it('buildAgentConfig draws within the band and stamps the next run', () => {
    const { values, provenance } = mergeLayers([{ id: 'ou:3', doc: { schedule: { interval_seconds: 600 } } }]);
    const now = Date.parse('2026-01-01T00:00:00Z');
    const config = buildAgentConfig(values, now, () => 0);
    expect(config.schedule).toEqual({
      interval_seconds: 600,
      offset_percent: 15,
      actual_interval_seconds: 510,
      next_check_in: now / 1000 + 510,
    });
    const response = {
      ...seedConfigResponse,
      config,
      provenance,
    };
    expect(Value.Check(ConfigResponse, response)).toBe(true);
    expect(Object.keys(provenance)).toEqual([...CONFIG_KEYS]);
    config.tests.http.targets.push('mutated');
    expect(DEFAULT_CONFIG_VALUES.tests.http.targets).toEqual([]);
  });

  it('heartbeat body fields are optional, agent_state is a lifecycle state', () => {
    expect(Value.Check(HeartbeatRequest, {})).toBe(true);
    expect(Value.Check(HeartbeatRequest, { agent_state: 'enrolled', config_version: 3, spool_backlog: 0 })).toBe(true);
    expect(Value.Check(HeartbeatRequest, { agent_state: 'dancing' })).toBe(false);
    expect(Value.Check(HeartbeatRequest, { spool_backlog: -1 })).toBe(false);
    // why: the columns are 32-bit; one oversized value would fail the whole coalesced batch
    expect(Value.Check(HeartbeatRequest, { config_version: HEARTBEAT_INT_MAX })).toBe(true);
    expect(Value.Check(HeartbeatRequest, { config_version: HEARTBEAT_INT_MAX + 1 })).toBe(false);
    expect(Value.Check(HeartbeatRequest, { spool_backlog: 2 ** 40 })).toBe(false);
    expect(AGENT_PATHS.heartbeat(42)).toBe('/api/v1/enrollment/devices/42/heartbeat');
  });

  it('stream messages: hello, nudge, pong', () => {
    expect(Value.Check(ServerStreamMessage, { type: 'hello', device_id: 42 })).toBe(true);
    expect(Value.Check(ServerStreamMessage, { type: 'nudge', reason: 'config_changed', config_version: 2 })).toBe(true);
    expect(Value.Check(ServerStreamMessage, { type: 'pong' })).toBe(true);
    expect(Value.Check(ServerStreamMessage, { type: 'nudge', reason: 'other', config_version: 2 })).toBe(false);
  });

  it('stream heartbeats carry the HTTP heartbeat fields with the same limits, acks and errors echo the id', () => {
    const hb = { type: 'heartbeat', id: 'h1', agent_state: 'enrolled', config_version: 3, spool_backlog: 0 };
    expect(Value.Check(ClientStreamMessage, hb)).toBe(true);
    expect(Value.Check(ClientStreamMessage, { type: 'heartbeat' })).toBe(true);
    expect(Value.Check(ClientStreamMessage, { ...hb, agent_state: 'dancing' })).toBe(false);
    expect(Value.Check(ClientStreamMessage, { ...hb, config_version: HEARTBEAT_INT_MAX + 1 })).toBe(false);
    expect(Value.Check(ClientStreamMessage, { ...hb, id: '' })).toBe(false);
    expect(Value.Check(ClientStreamMessage, { ...hb, id: 'x'.repeat(65) })).toBe(false);
    expect(Value.Check(ServerStreamMessage, { type: 'heartbeat_ack', id: 'h1' })).toBe(true);
    expect(Value.Check(ServerStreamMessage, { type: 'error', error: 'invalid_message', message: 'm', id: 'h1' })).toBe(
      true,
    );
  });
});
