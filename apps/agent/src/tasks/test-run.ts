// One test run: every enabled kind × target through the probe runner, bounded concurrency, results to the sink.
import { type ConfigValues, TEST_KINDS } from '@rookery/protocol';
import type { ProbeRunner, ProbeSpec } from './probe-runner.js';
import { newResultId } from './result-id.js';
import type { ResultSink, TestResult } from './result-sink.js';

export interface TestRunOptions {
  runner: ProbeRunner;
  sink: ResultSink;
  signal: AbortSignal;
  source: { config_source: 'manager' | 'local'; config_version: number | null };
  /** probes in flight at once; @default 4 */
  concurrency?: number;
  /** called when the sink throws */
  onSinkError?: (err: unknown) => void;
}

/** The probes a config asks for, in kind order. */
export function probesFor(config: Pick<ConfigValues, 'tests'>): ProbeSpec[] {
  return TEST_KINDS.flatMap((kind) =>
    config.tests[kind].enabled ? config.tests[kind].targets.map((target) => ({ kind, target })) : [],
  );
}

/** Runs all probes of `config`; resolves with the results once each was handed to the sink. Never rejects. */
export async function runTests(config: Pick<ConfigValues, 'tests'>, options: TestRunOptions): Promise<TestResult[]> {
  const queue = probesFor(config);
  const results: TestResult[] = [];
  const worker = async () => {
    for (let spec = queue.shift(); spec && !options.signal.aborted; spec = queue.shift()) {
      const startedAt = Date.now();
      const base = {
        result_id: newResultId(),
        ...spec,
        started_at: new Date(startedAt).toISOString(),
        ...options.source,
      };
      let result: TestResult;
      try {
        const outcome = await options.runner.run(spec, { signal: options.signal });
        const duration_ms = Date.now() - startedAt;
        result = outcome.ok
          ? { ...base, duration_ms, ok: true, measurement: outcome.data }
          : { ...base, duration_ms, ok: false, measurement: outcome.data, error: outcome.error ?? 'probe failed' };
      } catch (err) {
        result = { ...base, duration_ms: Date.now() - startedAt, ok: false, error: (err as Error).message };
      }
      results.push(result);
      await options.sink.write(result).catch((err: unknown) => options.onSinkError?.(err));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  return results;
}
