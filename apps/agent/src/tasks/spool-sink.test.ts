// Tests of the spool sink: the envelope mapping (engine results, plain measurements, failures) and append.
import { Value } from '@sinclair/typebox/value';
import { ResultEnvelope } from '@rookery/protocol';
import { describe, expect, it } from 'vitest';
import { registerContractFormats } from '../link/formats.js';
import { memoryLogger } from '../testing/fakes.js';
import type { TestResult } from './result-sink.js';
import { newResultId } from './result-id.js';
import { SpoolResultSink, toEnvelope } from './spool-sink.js';

registerContractFormats();

const base: TestResult = {
  result_id: newResultId(),
  kind: 'tcp',
  target: '127.0.0.1:22',
  started_at: '2026-01-02T03:04:05.678Z',
  duration_ms: 1.25,
  ok: true,
  config_source: 'manager',
  config_version: 3,
};

describe('toEnvelope', () => {
  it('takes metrics and the structured error from a probe-engine result', () => {
    const engine = {
      kind: 'tcp',
      ok: false,
      metrics: { connect_ms: 3 },
      error: { code: 'refused', message: 'ECONNREFUSED' },
    };
    const env = toEnvelope({ ...base, ok: false, error: 'refused: ECONNREFUSED', measurement: engine });
    expect(env).toEqual({
      id: base.result_id,
      result: {
        kind: 'tcp',
        target: '127.0.0.1:22',
        ok: false,
        startedAt: base.started_at,
        durationMs: 1.25,
        error: { code: 'refused', message: 'ECONNREFUSED' },
        metrics: { connect_ms: 3 },
      },
    });
    expect(Value.Check(ResultEnvelope, env)).toBe(true);
  });

  it('uses a plain measurement as metrics and a generic error code for string errors', () => {
    expect(toEnvelope({ ...base, measurement: { rtt_ms: 1 } }).result).toMatchObject({ metrics: { rtt_ms: 1 } });
    expect(toEnvelope({ ...base, measurement: 7 }).result.metrics).toEqual({ value: 7 });
    const failed = toEnvelope({ ...base, ok: false, error: 'probe engine not available', measurement: null });
    expect(failed.result).toMatchObject({
      metrics: {},
      error: { code: 'probe_failed', message: 'probe engine not available' },
    });
    expect(Value.Check(ResultEnvelope, failed)).toBe(true);
    expect(toEnvelope(base).result).not.toHaveProperty('error');
  });
});

describe('SpoolResultSink', () => {
  it('appends the envelope, logs the result, and does not throw when the spool drops it', async () => {
    const appended: unknown[] = [];
    const { logger, lines } = memoryLogger();
    const sink = new SpoolResultSink(
      { append: (e) => (appended.push(e), Promise.resolve(appended.length === 1)) },
      logger,
    );
    const second = { ...base, result_id: newResultId() };
    await sink.write(base);
    await sink.write(second);
    expect(appended).toEqual([toEnvelope(base), toEnvelope(second)]);
    expect(lines.filter((l) => l.msg === 'test result').map((l) => [l.result, l.spooled])).toEqual([
      [base, true],
      [second, false],
    ]);
  });
});
