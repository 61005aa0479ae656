// Tests of `rookery agent status` rendering.
import { describe, expect, it } from 'vitest';
import type { AgentStatus } from './state-store.js';
import { isProcessAlive, renderStatus } from './status.js';

const now = Date.parse('2026-01-01T12:00:00Z');
const status: AgentStatus = {
  state: 'enrolled',
  pid: 1234,
  manager_url: 'http://127.0.0.1:8080',
  device_serial: 'serial-1',
  device_id: 42,
  ou_id: 3,
  config_source: 'manager',
  config_name: 'Engineering Config',
  config_version: 7,
  last_checkin_at: '2026-01-01T11:50:00.000Z',
  next_checkin_at: '2026-01-01T12:40:00.000Z',
  last_test_run_at: '2026-01-01T11:59:30.000Z',
  next_test_run_at: '2026-01-01T12:04:17.000Z',
  last_heartbeat_at: null,
  stream_connected: true,
  updated_at: '2026-01-01T11:59:59.000Z',
};

describe('renderStatus', () => {
  it('shows enrollment, OU, device id, config version, last check-in and next runs', () => {
    const text = renderStatus(status, '/s', true, now);
    expect(text).toContain('agent:          running (pid 1234)');
    expect(text).toContain('enrollment:     enrolled');
    expect(text).toContain('device id:      42');
    expect(text).toContain('OU:             3');
    expect(text).toContain('config:         manager "Engineering Config" version 7');
    expect(text).toContain('last check-in:  2026-01-01T11:50:00.000Z (10 min ago)');
    expect(text).toContain('next check-in:  2026-01-01T12:40:00.000Z (in 40 min)');
    expect(text).toContain('next test run:  2026-01-01T12:04:17.000Z (in 4 min)');
    expect(text).toContain('last test run:  2026-01-01T11:59:30.000Z (30 s ago)');
    expect(text).toContain('last heartbeat: —');
    expect(text).toContain('(stream connected)');
    expect(text).toContain('spool:          — (no spool)');
  });

  it('says how the last heartbeat travelled (absent in an older status file: nothing claimed)', () => {
    const at = '2026-01-01T11:59:00.000Z';
    expect(renderStatus({ ...status, last_heartbeat_at: at, last_heartbeat_via: 'stream' }, '/s', true, now)).toContain(
      `last heartbeat: ${at} (60 s ago) over the stream`,
    );
    expect(renderStatus({ ...status, last_heartbeat_at: at, last_heartbeat_via: 'http' }, '/s', true, now)).toContain(
      `last heartbeat: ${at} (60 s ago) over HTTP`,
    );
    expect(renderStatus({ ...status, last_heartbeat_at: at }, '/s', true, now)).toContain(
      `last heartbeat: ${at} (60 s ago)\n`,
    );
  });

  it('shows the spool backlog, faults and the last upload', () => {
    const spool = {
      appended: 120,
      uploaded: 100,
      rejected: 1,
      dropped_overflow: 3,
      dropped_expired: 2,
      dropped_unwritable: 1,
      quarantined: 1,
      torn_tails: 1,
      lost: 0,
      backlog: 14,
      bytes: 4096,
      segments: 2,
      upload_batches: 5,
      last_upload_at: '2026-01-01T11:59:00.000Z',
      last_upload_error: 'POST /api/v1/results/upload: connect ECONNREFUSED',
    };
    const text = renderStatus({ ...status, spool }, '/s', true, now);
    expect(text).toContain('spool:          backlog 14 (4096 bytes in 2 segments); appended 120, uploaded 100');
    expect(text).toContain(
      'spool faults:   dropped 6 (overflow 3, expired 2, unwritable 1), quarantined 1, rejected 1, torn tails 1',
    );
    expect(text).toContain(
      'last upload:    2026-01-01T11:59:00.000Z (60 s ago) — last error: POST /api/v1/results/upload',
    );
  });

  it('marks stale next times when the agent is not running, and the unenrolled fallback', () => {
    const text = renderStatus(
      { ...status, state: 'unenrolled_fallback', device_id: null, ou_id: null, config_source: 'local' },
      '/s',
      false,
      now,
    );
    expect(text).toContain('not running (last pid 1234)');
    expect(text).toContain('enrollment:     not enrolled');
    expect(text).toContain('config:         local (ENV/file fallback)');
    expect(text).toContain('next test run:  — (not running)');
    expect(text).not.toContain('stream connected');
    expect(renderStatus(undefined, '/nowhere', false, now)).toContain('no status in /nowhere');
  });

  it('probes process liveness', () => {
    expect(isProcessAlive(process.pid)).toBe(true);
    expect(isProcessAlive(2 ** 22 + 1)).toBe(false);
  });
});
