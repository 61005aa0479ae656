// Port to the probe engine: the daemon asks it to run one probe; the real engine lives in ../probes (wired in main.ts).
import type { TestKind } from '@rookery/protocol';

/** One probe to run. */
export interface ProbeSpec {
  kind: TestKind;
  /** target in the kind's syntax (see checkTarget in @rookery/protocol) */
  target: string;
}

/**
 * Runs one probe. Resolves with the engine's measurement (passed through to the result sink
 * untouched); rejects when the probe could not run at all. Must honour `signal`.
 */
export interface ProbeRunner {
  run(spec: ProbeSpec, options: { signal: AbortSignal }): Promise<unknown>;
}

/** Used when this build has no probe engine: every probe fails with a clear message. */
export const unavailableProbeRunner: ProbeRunner = {
  run(spec) {
    return Promise.reject(new Error(`probe engine not available in this build (${spec.kind} ${spec.target})`));
  },
};

/** Adapts a `runProbe(spec, {signal})` function (the probes module's export) to the port. */
export function probeRunnerFrom(
  runProbe: (spec: ProbeSpec, options: { signal: AbortSignal }) => Promise<unknown>,
): ProbeRunner {
  return { run: (spec, options) => runProbe(spec, options) };
}
