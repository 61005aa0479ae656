// Open-loop HTTP load: requests start on a fixed schedule whatever the server does, and latency runs from
// each request's scheduled send time (no coordinated omission). Bounded in count and time.
import { Agent, request } from 'node:http';
import { type Summary, summarize } from './stats.js';

export interface LoadRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** what kind of request this is; a step gives the p99 of each kind it saw (`p99ByKind`) */
  kind?: string;
  /** called with the status and time of the answer (ms, performance.now()) */
  onDone?: (status: number, body: string) => void;
}

export interface StepResult {
  offered: number;
  sent: number;
  ok: number;
  errors: number;
  statuses: Record<string, number>;
  /** completed 2xx per second over the step (first send to last answer) */
  achieved: number;
  latency: Summary;
  /** p99 latency (ms) of each `LoadRequest.kind` sent, when the requests name one */
  p99ByKind?: Record<string, number>;
}

/**
 * One keep-alive agent per target, so sockets are reused across steps. Idle sockets close a second before
 * the server's `Keep-Alive: timeout=…` hint, as the agent's HTTP client (undici) does: node:http's Agent
 * applies the hint only to lower a timeout it already has, and without one it kept idle sockets forever,
 * so a request sent as the server closed a socket idle for 60 s failed with ECONNRESET (B2, 2026-12-06:
 * 44 in one second, when the heartbeats of agents that last spoke at the end of the start-up window
 * came round). The timeout is also the socket's inactivity timeout during a request, above the
 * generator's own 10-s request timeout.
 */
export function keepAliveAgent(maxSockets = 256): Agent {
  return new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets, timeout: 120_000 });
}

/** One request on `agent`; resolves with status 0 on a network error or timeout (never rejects). */
export function send(
  base: URL,
  agent: Agent,
  r: LoadRequest,
  timeoutMs: number,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        method: r.method,
        path: r.path,
        agent,
        headers: {
          ...r.headers,
          ...(r.body !== undefined
            ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(r.body)) }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on('error', () => resolve({ status: 0, body: '' }));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.end(r.body);
  });
}

/**
 * Sends `rate × durationMs/1000` requests at a fixed rate (req/s) to `base`, each made by `make(i)`.
 * A request not answered within `timeoutMs` (default 10 s) counts as an error (status 0).
 */
export async function openLoopStep(
  base: string,
  agent: Agent,
  rate: number,
  durationMs: number,
  make: (i: number) => LoadRequest,
  timeoutMs = 10_000,
): Promise<StepResult> {
  const url = new URL(base);
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  const interval = 1000 / rate;
  const latencies: number[] = [];
  const byKind = new Map<string, number[]>();
  const statuses: Record<string, number> = {};
  let ok = 0;
  let lastDone = 0;
  const pending: Promise<void>[] = [];
  const t0 = performance.now();
  let i = 0;
  while (i < total) {
    const now = performance.now();
    while (i < total && t0 + i * interval <= now) {
      const scheduled = t0 + i * interval;
      const r = make(i);
      pending.push(
        send(url, agent, r, timeoutMs).then(({ status, body }) => {
          const end = performance.now();
          lastDone = Math.max(lastDone, end);
          latencies.push(end - scheduled);
          if (r.kind !== undefined) {
            const own = byKind.get(r.kind) ?? [];
            own.push(end - scheduled);
            byKind.set(r.kind, own);
          }
          statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
          if (status >= 200 && status < 300) ok++;
          r.onDone?.(status, body);
        }),
      );
      i++;
    }
    // wake up about once a millisecond; late wake-ups are charged to latency via the schedule
    await new Promise((res) => setTimeout(res, 1));
  }
  await Promise.all(pending);
  const s = stepResult({ rate, total, ok, statuses, t0, lastDone, latencies });
  if (byKind.size) s.p99ByKind = Object.fromEntries([...byKind].map(([k, v]) => [k, summarize(v).p99]));
  return s;
}

/** A step's result from its counts: `t0` the first scheduled send, `lastDone` the last answer (ms). */
export function stepResult(o: {
  rate: number;
  total: number;
  ok: number;
  statuses: Record<string, number>;
  t0: number;
  lastDone: number;
  latencies: number[];
}): StepResult {
  return {
    offered: o.rate,
    sent: o.total,
    ok: o.ok,
    errors: o.total - o.ok,
    statuses: o.statuses,
    achieved: (o.ok / Math.max(1, o.lastDone - o.t0)) * 1000,
    latency: summarize(o.latencies),
  };
}

/** A step passes when p99 < `p99Ms` and at most 1 % of requests failed. */
export function stepPasses(s: StepResult, p99Ms = 100): boolean {
  return s.latency.p99 < p99Ms && s.errors <= s.sent * 0.01;
}

/** Highest achieved rate over the steps that passed (0 when none did). */
export const sustainedRate = (steps: StepResult[]) =>
  Math.max(0, ...steps.filter((s) => stepPasses(s)).map((s) => s.achieved));

/**
 * A ladder of rising rates: each rate's step runs again, up to `attempts` times, while it fails (a 3-s
 * step on a shared 2-vCPU machine can lose its p99 to one stall); the ladder stops at a rate that failed
 * every attempt. Then, `refine` times, the rate halfway between the highest passing rate and the lowest
 * failing one (rounded to `grain`) runs the same way, narrowing the gap between two rates of the ladder.
 * Every attempt is kept, in order.
 */
export async function runLadder<S extends StepResult>(
  rates: readonly number[],
  attempts: number,
  step: (rate: number, attempt: number) => Promise<S>,
  { refine = 0, grain = 100 }: { refine?: number; grain?: number } = {},
): Promise<(S & { attempt: number })[]> {
  const steps: (S & { attempt: number })[] = [];
  const passes = async (rate: number) => {
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const s = await step(rate, attempt);
      steps.push({ ...s, attempt });
      if (stepPasses(s)) return true;
    }
    return false;
  };
  let passed: number | undefined;
  let failed: number | undefined;
  for (const rate of rates) {
    if (!(await passes(rate))) {
      failed = rate;
      break;
    }
    passed = rate;
  }
  for (let i = 0; i < refine && passed !== undefined && failed !== undefined; i++) {
    const mid = Math.round((passed + failed) / 2 / grain) * grain;
    if (mid <= passed || mid >= failed) break;
    if (await passes(mid)) passed = mid;
    else failed = mid;
  }
  return steps;
}

/** A ladder step's verdict for a table: pass or FAIL, with its attempt when it was a rerun. */
export const stepCell = (s: StepResult & { attempt?: number }) =>
  `${stepPasses(s) ? 'pass' : 'FAIL'}${s.attempt && s.attempt > 1 ? ` (attempt ${s.attempt})` : ''}`;
