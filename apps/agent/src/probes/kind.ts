// The shape every probe kind implements, and what the runner hands it.
import type { ExecTool } from './exec.js';

export interface ProbeContext {
  /** fires with a ProbeFailure ('timeout' or 'aborted') as its reason */
  signal: AbortSignal;
  /** runs ping/fping/traceroute (argv only); replaced by a fake in tests */
  exec: ExecTool;
}

export interface ProbeImpl<S, M> {
  kind: string;
  /** deadline when the spec gives no timeoutMs, in ms */
  defaultTimeoutMs: (spec: S) => number;
  /** the metrics object the probe fills in; reported as-is when the probe fails midway */
  initialMetrics: (spec: S) => M;
  /** measures, filling `metrics`; throws ProbeFailure (or a Node error) on failure */
  run: (spec: S, metrics: M, ctx: ProbeContext) => Promise<void>;
}
