// `rookery agent status`: renders the daemon's status.json (enrollment, OU, device, config, check-ins, next runs).
import type { UploadStatus } from './link/result-uploader.js';
import type { AgentStatus } from './state-store.js';

/** True when a process with `pid` exists (signal 0 probe). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function ago(iso: string | null, nowMs: number): string {
  if (!iso) return '—';
  const s = Math.round((Date.parse(iso) - nowMs) / 1000);
  const span = Math.abs(s) >= 120 ? `${Math.round(Math.abs(s) / 60)} min` : `${Math.abs(s)} s`;
  return `${iso} (${s >= 0 ? `in ${span}` : `${span} ago`})`;
}

function viaText(s: AgentStatus): string {
  if (!s.last_heartbeat_at || !s.last_heartbeat_via) return '';
  return s.last_heartbeat_via === 'stream' ? ' over the stream' : ' over HTTP';
}

function spoolLines(s: UploadStatus | null | undefined, nowMs: number): string[] {
  if (!s) return ['spool:          — (no spool)'];
  const dropped = s.dropped_overflow + s.dropped_expired + s.dropped_unwritable;
  return [
    `spool:          backlog ${s.backlog} (${s.bytes} bytes in ${s.segments} segments); appended ${s.appended}, uploaded ${s.uploaded}`,
    `spool faults:   dropped ${dropped} (overflow ${s.dropped_overflow}, expired ${s.dropped_expired}, unwritable ${s.dropped_unwritable}), quarantined ${s.quarantined}, rejected ${s.rejected}, torn tails ${s.torn_tails}`,
    `last upload:    ${ago(s.last_upload_at, nowMs)}${s.last_upload_error ? ` — last error: ${s.last_upload_error}` : ''}`,
  ];
}

/**
 * Human-readable status. `running` says whether the writing process is still alive; when it is not,
 * the "next" times are stale and marked so.
 */
export function renderStatus(
  status: AgentStatus | undefined,
  stateDir: string,
  running: boolean,
  nowMs: number,
): string {
  if (!status) return `rookery agent: no status in ${stateDir} (the agent has not run with this --state-dir)\n`;
  const enrolled = status.device_id !== null;
  const lines = [
    `agent:          ${running ? `running (pid ${status.pid})` : `not running (last pid ${status.pid})`}`,
    `state:          ${status.state}`,
    `manager:        ${status.manager_url}${status.stream_connected && running ? ' (stream connected)' : ''}`,
    `enrollment:     ${enrolled ? 'enrolled' : 'not enrolled'}`,
    `device serial:  ${status.device_serial}`,
    `device id:      ${status.device_id ?? '—'}`,
    `OU:             ${status.ou_id ?? '—'}`,
    `config:         ${
      status.config_source === 'manager'
        ? `manager "${status.config_name ?? ''}" version ${status.config_version ?? '—'}`
        : 'local (ENV/file fallback)'
    }`,
    `last check-in:  ${ago(status.last_checkin_at, nowMs)}`,
    `next check-in:  ${running ? ago(status.next_checkin_at, nowMs) : '— (not running)'}`,
    `last test run:  ${ago(status.last_test_run_at, nowMs)}`,
    `next test run:  ${running ? ago(status.next_test_run_at, nowMs) : '— (not running)'}`,
    `last heartbeat: ${ago(status.last_heartbeat_at, nowMs)}${viaText(status)}`,
    ...spoolLines(status.spool, nowMs),
    `updated:        ${ago(status.updated_at, nowMs)}`,
  ];
  return `${lines.join('\n')}\n`;
}
