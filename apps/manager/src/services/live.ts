// Turns stored results and alert changes into live-feed messages small enough for one NOTIFY.
import type { DeviceRow } from '../db/queries/devices.js';
import type { ResultRowIn } from '../db/queries/results.js';
import type { LiveMessage } from '../ws/live-feed.js';
import type { AlertEvent } from './alerts.js';

/** Most series summarised per results message (NOTIFY payloads stay far below 8000 bytes). */
const MAX_ITEMS = 20;

/** One results message (latest result per series of the batch) plus one message per alert change. */
export function liveMessagesOf(device: DeviceRow, stored: ResultRowIn[], events: AlertEvent[]): LiveMessage[] {
  const latest = new Map<string, ResultRowIn>();
  for (const r of stored) {
    const key = `${r.kind} ${r.target}`;
    const prev = latest.get(key);
    if (!prev || prev.started_at < r.started_at) latest.set(key, r);
  }
  const items = [...latest.values()].slice(0, MAX_ITEMS).map((r) => ({
    kind: r.kind,
    target: r.target.slice(0, 200),
    ok: r.ok,
    started_at: r.started_at,
    latency_ms: r.latency_ms,
    jitter_ms: r.jitter_ms,
    loss_pct: r.loss_pct,
    error_code: r.error_code,
  }));
  const out: LiveMessage[] = [{ type: 'results', ou_path: device.ou_path, device_id: Number(device.id), items }];
  for (const e of events) {
    out.push({
      type: 'alert',
      ou_path: device.ou_path,
      event: {
        id: Number(e.id),
        device_id: Number(e.device_id),
        kind: e.kind,
        target: e.target.slice(0, 200),
        metric: e.metric,
        from: e.from_state,
        to: e.to_state,
        value: e.value,
        at: e.at.toISOString(),
      },
    });
  }
  return out;
}
