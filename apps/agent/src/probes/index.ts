// Probe engine entry point: `runProbe(spec, {signal})` and a runner with bounded concurrency.
import { ProbeSpec, type ProbeResult } from '@rookery/protocol';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { msSince, nowNs, roundMs } from './clock.js';
import { ProbeFailure, toProbeError } from './errors.js';
import { execTool, type ExecTool } from './exec.js';
import type { ProbeContext, ProbeImpl } from './kind.js';

export { ProbeFailure, toProbeError } from './errors.js';
export type { ExecTool, ExecResult } from './exec.js';

export interface RunProbeOptions {
  /** aborts the probe (queued or running); the result then has error code `aborted` */
  signal?: AbortSignal;
}

export interface ProbeRunnerOptions {
  /** probes running at once; further calls wait in FIFO order. @default 8 */
  concurrency?: number;
  /** runs ping/fping/traceroute; a fake in tests. @default execFile-based */
  exec?: ExecTool;
}

type AnyImpl = ProbeImpl<ProbeSpec, Record<string, unknown>>;

// each kind is loaded on first use, so an agent that never runs https or dns never loads tls,
// http2 or dns-packet (B8: every builtin module costs 2–5 MB of RSS)
const LOADERS: Record<ProbeSpec['kind'], () => Promise<unknown>> = {
  http: async () => (await import('./http.js')).httpProbe,
  tcp: async () => (await import('./tcp.js')).tcpProbe,
  udp: async () => (await import('./udp.js')).udpProbe,
  dns: async () => (await import('./dns.js')).dnsProbe,
  icmp: async () => (await import('./icmp.js')).icmpProbe,
  traceroute: async () => (await import('./traceroute.js')).tracerouteProbe,
};
const loaded = new Map<string, AnyImpl>();

async function implFor(spec: ProbeSpec): Promise<AnyImpl> {
  let impl = loaded.get(spec.kind);
  if (!impl) {
    impl = (await LOADERS[spec.kind]()) as AnyImpl;
    loaded.set(spec.kind, impl);
  }
  return impl;
}

// compiled once on first use: Value.Check interprets the union on every call (~10× slower)
let compiledSpec: ReturnType<typeof TypeCompiler.Compile<typeof ProbeSpec>> | undefined;

/** Checks a spec against its schema; returns the first problem as text, or undefined. */
export function specProblem(spec: unknown): string | undefined {
  compiledSpec ??= TypeCompiler.Compile(ProbeSpec);
  if (compiledSpec.Check(spec)) return undefined;
  const first = Value.Errors(ProbeSpec, spec).First();
  const kind = (spec as { kind?: unknown } | null)?.kind;
  const known = ['http', 'tcp', 'udp', 'dns', 'icmp', 'traceroute'].includes(String(kind));
  if (!known) return `unknown probe kind ${JSON.stringify(kind)}`;
  // a union reports its first branch; re-check against the branch named by `kind`
  const branch = ProbeSpec.anyOf.find((s) => s.properties.kind.const === kind);
  const err = branch ? Value.Errors(branch, spec).First() : first;
  return err ? `${err.path || '/'}: ${err.message}` : 'invalid spec';
}

async function execute(spec: ProbeSpec, exec: ExecTool, outer?: AbortSignal): Promise<ProbeResult> {
  const startedAt = new Date().toISOString();
  const startNs = nowNs();
  const kind = (spec as { kind?: string })?.kind ?? 'unknown';
  const target = String((spec as { target?: unknown })?.target ?? '');
  const problem = specProblem(spec);
  if (problem) {
    return {
      kind,
      target,
      ok: false,
      startedAt,
      durationMs: 0,
      error: { code: 'invalid_spec', message: problem },
      metrics: {},
    } as unknown as ProbeResult;
  }
  const impl = await implFor(spec);
  const metrics = impl.initialMetrics(spec);
  const controller = new AbortController();
  const timeoutMs = spec.timeoutMs ?? impl.defaultTimeoutMs(spec);
  const timer = setTimeout(
    () => controller.abort(new ProbeFailure('timeout', `no result within ${timeoutMs} ms`)),
    timeoutMs,
  );
  const onOuterAbort = () => controller.abort(new ProbeFailure('aborted', 'probe aborted by caller'));
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener('abort', onOuterAbort, { once: true });
  const ctx: ProbeContext = { signal: controller.signal, exec };
  let error: ReturnType<typeof toProbeError> | undefined;
  try {
    if (controller.signal.aborted) throw controller.signal.reason;
    await impl.run(spec, metrics, ctx);
  } catch (err) {
    // once the deadline or the caller fired, that is the cause, whatever the socket said
    error = toProbeError(controller.signal.aborted ? controller.signal.reason : err);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuterAbort);
  }
  const result = {
    kind: spec.kind,
    target: spec.target,
    ok: error === undefined,
    startedAt,
    durationMs: roundMs(msSince(startNs)),
    metrics,
  } as Record<string, unknown>;
  if (error) result.error = error;
  return result as unknown as ProbeResult;
}

/** Runs probes with at most `concurrency` at once (FIFO queue). */
export class ProbeRunner {
  readonly #concurrency: number;
  readonly #exec: ExecTool;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(options: ProbeRunnerOptions = {}) {
    this.#concurrency = Math.max(1, options.concurrency ?? 8);
    this.#exec = options.exec ?? execTool;
  }

  /** probes running now */
  get active(): number {
    return this.#active;
  }

  /** probes waiting for a slot */
  get queued(): number {
    return this.#waiting.length;
  }

  /** Same contract as {@link runProbe}, sharing this runner's concurrency bound. */
  async run(spec: ProbeSpec, options: RunProbeOptions = {}): Promise<ProbeResult> {
    const { signal } = options;
    if (this.#active >= this.#concurrency) {
      const admitted = await new Promise<boolean>((resolve) => {
        const onAbort = () => {
          const i = this.#waiting.indexOf(admit);
          if (i >= 0) this.#waiting.splice(i, 1);
          resolve(false);
        };
        const admit = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(true);
        };
        if (signal?.aborted) return resolve(false);
        this.#waiting.push(admit);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      if (!admitted) return execute(spec, this.#exec, signal);
    }
    this.#active++;
    try {
      return await execute(spec, this.#exec, signal);
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }
}

const defaultRunner = new ProbeRunner();

/**
 * Runs one probe and resolves with its typed result (`ProbeResult` of @rookery/protocol).
 *
 * Contract:
 * - Never rejects: every failure is a result with `ok: false` and `error: {code, message}`
 *   (codes in PROBE_ERROR_CODES); `metrics` keeps whatever was measured before the failure.
 * - The spec is validated first (`invalid_spec`), then its target (`invalid_target`).
 * - Deadline: `spec.timeoutMs`, else a per-kind default (http 10 s, tcp/dns 5 s, udp/icmp
 *   count × interval + wait + 2–3 s, traceroute maxHops × wait + 5 s); it starts when the probe
 *   starts running, not while it waits for a slot, and ends it with code `timeout`.
 * - `signal` aborts a queued or running probe; the result then has code `aborted`. Sockets and
 *   child processes are released before the promise resolves.
 * - At most 8 probes run at once through this shared default runner (FIFO); create a
 *   {@link ProbeRunner} for a different bound.
 * - Times are ms with µs precision, from process.hrtime at socket events (http/tcp/udp/dns) or
 *   from kernel timestamps via ping/fping (icmp) and traceroute.
 */
export function runProbe(spec: ProbeSpec, options: RunProbeOptions = {}): Promise<ProbeResult> {
  return defaultRunner.run(spec, options);
}
