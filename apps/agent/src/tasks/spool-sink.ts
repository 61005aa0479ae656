// The default ResultSink: each result becomes an upload envelope and is appended to the on-disk spool.
import type { ResultEnvelope } from '@rookery/protocol';
import type { Logger } from 'pino';
import type { ResultSink, TestResult } from './result-sink.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The contract's envelope for a result: the engine's `metrics` and structured `error` when the
 * measurement is a probe-engine result, else the measurement object itself as metrics.
 * `config_source`/`config_version` are not part of the upload contract and are left out.
 */
export function toEnvelope(r: TestResult): ResultEnvelope {
  const m = r.measurement;
  const metrics = isObject(m)
    ? isObject(m.metrics)
      ? m.metrics
      : m
    : m === undefined || m === null
      ? {}
      : { value: m };
  const engineError =
    isObject(m) && isObject(m.error) && typeof m.error.code === 'string' && typeof m.error.message === 'string'
      ? { code: m.error.code, message: m.error.message }
      : undefined;
  const error = r.ok ? undefined : (engineError ?? { code: 'probe_failed', message: r.error ?? 'probe failed' });
  return {
    id: r.result_id,
    result: {
      kind: r.kind,
      target: r.target,
      ok: r.ok,
      startedAt: r.started_at,
      durationMs: r.duration_ms,
      ...(error ? { error } : {}),
      metrics,
    },
  };
}

/**
 * Appends results to the spool (durable before `write` resolves) and logs each as one
 * `"test result"` line at info, like the logging sink (`spooled: false` when the spool dropped it).
 * Never throws.
 */
export class SpoolResultSink implements ResultSink {
  constructor(
    private readonly spool: { append(envelope: ResultEnvelope): Promise<boolean> },
    private readonly logger: Logger,
  ) {}

  async write(result: TestResult): Promise<void> {
    const spooled = await this.spool.append(toEnvelope(result));
    this.logger.info({ result, spooled }, 'test result');
  }
}
