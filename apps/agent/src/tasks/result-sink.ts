// Port for finished test results; for now the default sink logs them (the spool + upload issue replaces it).
import type { TestKind } from '@rookery/protocol';
import type { Logger } from 'pino';

/** One probe outcome as the agent records it. `result_id` is generated here so uploads can be retried safely. */
export interface TestResult {
  result_id: string;
  kind: TestKind;
  target: string;
  /** ISO 8601 */
  started_at: string;
  duration_ms: number;
  ok: boolean;
  /** the probe engine's result (metrics), also for failed probes when the engine produced one */
  measurement?: unknown;
  /** why the probe failed or could not run, when not ok */
  error?: string;
  /** config the run used: "manager" (with its version) or "local" (ENV/file fallback) */
  config_source: 'manager' | 'local';
  config_version: number | null;
}

/** Where results go. `write` should not throw; a throw is logged and the result dropped. */
export interface ResultSink {
  write(result: TestResult): Promise<void>;
}

/** Logs every result as one structured line at info level. */
export class LogResultSink implements ResultSink {
  constructor(private readonly logger: Logger) {}

  write(result: TestResult): Promise<void> {
    this.logger.info({ result }, 'test result');
    return Promise.resolve();
  }
}
