// A stored-result row as ingest builds it, for tests and benches that call the queue or the store
// statement directly: a successful probe with one latency, everything else empty unless given.
import { randomUUID } from 'node:crypto';
import type { ResultRowIn } from '../db/queries/results.js';

export function resultRow(
  o: { target: string; at: number; latency: number } & Partial<Omit<ResultRowIn, 'target' | 'started_at'>>,
): ResultRowIn {
  const { at, latency, ...rest } = o;
  return {
    id: randomUUID(),
    kind: 'tcp',
    started_at: new Date(at).toISOString(),
    duration_ms: latency,
    ok: true,
    error_code: null,
    error_message: null,
    latency_ms: latency,
    jitter_ms: null,
    loss_pct: null,
    metrics: JSON.stringify({ connectMs: latency }),
    ...rest,
  };
}

/** A TCP connect result as an agent uploads it (`{id, result}`), started now. */
export function tcpEnvelope(o: { target?: string; ok?: boolean; connectMs?: number } = {}) {
  const { target = '127.0.0.1:80', ok = true, connectMs = 1 } = o;
  return {
    id: randomUUID(),
    result: { kind: 'tcp', target, ok, startedAt: new Date().toISOString(), durationMs: 1, metrics: { connectMs } },
  };
}
