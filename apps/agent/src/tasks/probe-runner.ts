// Port to the probe engine: the daemon asks it to run one probe; the real engine lives in ../probes (wired in main.ts).
import type { TestKind } from '@rookery/protocol';

/** One probe as the config names it: a kind and a target in that kind's config syntax. */
export interface ProbeSpec {
  kind: TestKind;
  /** see checkTarget in @rookery/protocol */
  target: string;
}

/** What one probe produced. */
export interface ProbeOutcome {
  /** the probe ran and met its expectations */
  ok: boolean;
  /** why not, when !ok */
  error?: string | undefined;
  /** the engine's full result (metrics), passed to the result sink untouched */
  data: unknown;
}

/** Runs one probe. Resolves with an outcome (also for failed probes); rejects only on a bug. Honours `signal`. */
export interface ProbeRunner {
  run(spec: ProbeSpec, options: { signal: AbortSignal }): Promise<ProbeOutcome>;
}

/** Used when this build has no probe engine: every probe fails with a clear message. */
export const unavailableProbeRunner: ProbeRunner = {
  run(spec) {
    const error = `probe engine not available in this build (${spec.kind} ${spec.target})`;
    return Promise.resolve({ ok: false, error, data: null });
  },
};

/** The probe engine's spec for a config target: DNS targets `name@resolver[:port]` split into name and resolver. */
export type EngineSpec =
  { kind: Exclude<TestKind, 'dns'>; target: string } | { kind: 'dns'; target: string; name: string };

/** Converts a config probe to the engine's spec (pure). */
export function toEngineSpec(spec: ProbeSpec): EngineSpec {
  if (spec.kind !== 'dns') return { kind: spec.kind, target: spec.target };
  const at = spec.target.lastIndexOf('@');
  return { kind: 'dns', name: spec.target.slice(0, at), target: spec.target.slice(at + 1) };
}

/** The engine's result shape as far as the agent needs it. */
export interface EngineResult {
  ok: boolean;
  error?: { code: string; message: string } | undefined;
}

/**
 * Adapts the probes module's `runProbe(spec, {signal})` to the port. At merge time main.ts wires
 * `probeRunnerFrom(runProbe)` with `runProbe` from './probes/index.js'.
 */
export function probeRunnerFrom(
  runProbe: (spec: EngineSpec, options: { signal: AbortSignal }) => Promise<EngineResult>,
): ProbeRunner {
  return {
    async run(spec, options) {
      const result = await runProbe(toEngineSpec(spec), options);
      return {
        ok: result.ok,
        error: result.error ? `${result.error.code}: ${result.error.message}` : undefined,
        data: result,
      };
    },
  };
}
