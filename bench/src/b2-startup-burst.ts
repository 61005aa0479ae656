// B2: a fleet of agents all starting within one window (config check-in + heartbeat, honouring 429 Retry-After),
// then heartbeating every cycle; per-second status classes and p99, and per-cycle load after the burst vs the mean.
import { type Agent, request } from 'node:http';
import { createBenchDb, startBareServerChild, startManagerChild } from './lib/bench-db.js';
import { type BenchDevice, makeFleet } from './lib/fleet.js';
import { Backoff } from '../../apps/agent/src/link/backoff.js';
import { keepAliveAgent } from './lib/open-loop.js';
import { machineLine, publish } from './lib/results.js';
import { quantile } from './lib/stats.js';

/** agents (env B2_AGENTS), start window s (B2_WINDOW_S), heartbeat cycle s (B2_CYCLE_S), cycles after the window */
const AGENTS = Number(process.env.B2_AGENTS ?? 100_000);
const WINDOW_S = Number(process.env.B2_WINDOW_S ?? 60);
// the agent's own heartbeat interval (apps/agent: heartbeatIntervalMs, default 60 s)
const CYCLE_S = Number(process.env.B2_CYCLE_S ?? 60);
const AFTER_CYCLES = Number(process.env.B2_AFTER_CYCLES ?? 2);
const TIMEOUT_MS = 10_000;
// check-ins keep retrying until the run ends (bounded by the run length, ≥ 2.5 s apart)
const MAX_RETRIES = 1000;
const SOCKETS = 5000;

interface Answer {
  status: number;
  retryAfter: number | undefined;
  /** why there was no answer (status 0): the error code, or 'timeout' */
  cause?: string;
}

const causeOf = (err: unknown) => (err as { code?: string }).code ?? (err as Error).message ?? 'error';

function send(base: URL, agent: Agent, method: string, path: string, headers: Record<string, string>, body?: string) {
  return new Promise<Answer>((resolve) => {
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        method,
        path,
        agent,
        headers: {
          ...headers,
          ...(body !== undefined
            ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) }
            : {}),
        },
      },
      (res) => {
        res.resume();
        const ra = Number(res.headers['retry-after']);
        const done = () => resolve({ status: res.statusCode ?? 0, retryAfter: Number.isFinite(ra) ? ra : undefined });
        res.on('end', done);
        res.on('error', (err) => resolve({ status: 0, retryAfter: undefined, cause: causeOf(err) }));
      },
    );
    req.setTimeout(TIMEOUT_MS, () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.on('error', (err) => resolve({ status: 0, retryAfter: undefined, cause: causeOf(err) }));
    req.end(body);
  });
}

/** One second of the run, binned by scheduled send time. */
export interface SecondBin {
  t: number;
  sent: number;
  /** answers (any status) that arrived in this second */
  answered: number;
  s2xx: number;
  s429: number;
  s4xx: number;
  s5xx: number;
  /** no answer within 10 s or a connection error */
  failed: number;
  p99: number;
}

export interface BurstRun {
  target: string;
  agents: number;
  seconds: SecondBin[];
  totals: { sent: number; s2xx: number; s429: number; s4xx: number; s5xx: number; failed: number };
  /** requests without an answer by cause (error code, or 'timeout') */
  failedBy: Record<string, number>;
  /** agents whose start (config + first heartbeat) succeeded */
  started: number;
  /** steady mean = agents / cycle (heartbeats/s once every agent runs) */
  steadyMean: number;
  /** req/s per cycle after the window */
  cycles: number[];
  /** answers/s per cycle after the window (what the server got through) */
  servedCycles: number[];
  peakPerSecond: number;
  /** 1-based index of the first cycle after the window at ≤ 1.2× mean that stays there; 0 if never */
  backWithinCycles: number;
}

/**
 * 1-based index of the first cycle from which every later cycle's req/s is ≤ `factor` × `mean`
 * (default 1.2); 0 when the last cycle is still above.
 */
export function cyclesUntilBack(cycles: readonly number[], mean: number, factor = 1.2): number {
  const lastAbove = cycles.map((r) => r > factor * mean).lastIndexOf(true);
  return lastAbove === cycles.length - 1 ? 0 : lastAbove + 2;
}

/** Runs the startup burst against `baseUrl`; bounded to window + AFTER_CYCLES cycles + 10 s. */
export async function burst(target: string, baseUrl: string, devices: BenchDevice[]): Promise<BurstRun> {
  const base = new URL(baseUrl);
  const agent = keepAliveAgent(SOCKETS);
  const endMs = (WINDOW_S + AFTER_CYCLES * CYCLE_S) * 1000;
  const nBins = Math.ceil(endMs / 1000);
  const sent = new Array<number>(nBins).fill(0);
  const cls = { s2xx: [...sent], s429: [...sent], s4xx: [...sent], s5xx: [...sent], failed: [...sent] };
  const lat: number[][] = Array.from({ length: nBins }, () => []);
  // answers binned by arrival time (the run's last requests can answer up to the timeout after its end)
  const answered = new Array<number>(nBins + Math.ceil(TIMEOUT_MS / 1000) + 1).fill(0);
  const failedBy: Record<string, number> = {};
  const t0 = performance.now();
  let started = 0;
  const sleepUntil = (at: number) => new Promise((r) => setTimeout(r, Math.max(0, t0 + at - performance.now())));

  /**
   * Sends at `at` ms (relative); with `backoff`, a 429 is retried as the agent retries a failed config
   * check-in (its `Backoff`: 5 s doubling to 5 min, equal jitter, Retry-After as the floor) until the run
   * ends. True on 2xx.
   */
  const call = async (
    at: number,
    method: string,
    path: string,
    h: Record<string, string>,
    body?: string,
    backoff?: Backoff,
  ) => {
    for (let attempt = 0; attempt <= MAX_RETRIES && at < endMs; attempt++) {
      await sleepUntil(at);
      const a = await send(base, agent, method, path, h, body);
      const bin = Math.min(nBins - 1, Math.floor(at / 1000));
      sent[bin] = (sent[bin] as number) + 1;
      const now = performance.now() - t0;
      (lat[bin] as number[]).push(now - at);
      const doneBin = Math.floor(now / 1000);
      if (a.status !== 0) answered[doneBin] = (answered[doneBin] as number) + 1;
      else failedBy[a.cause ?? 'error'] = (failedBy[a.cause ?? 'error'] ?? 0) + 1;
      const c =
        a.status === 0
          ? cls.failed
          : a.status >= 500
            ? cls.s5xx
            : a.status === 429
              ? cls.s429
              : a.status >= 400
                ? cls.s4xx
                : cls.s2xx;
      c[bin] = (c[bin] as number) + 1;
      if (a.status >= 200 && a.status < 300) return true;
      if (a.status !== 429 || !backoff) return false;
      at = Math.max(performance.now() - t0, at) + Math.max(backoff.next(), (a.retryAfter ?? 0) * 1000);
    }
    return false;
  };

  // like the agent: the config check-in retries with backoff; heartbeats run on their own timer from
  // the start, and a refused heartbeat is not retried (the next one goes at the next interval)
  const runAgent = async (d: BenchDevice) => {
    const h = { authorization: `Bearer ${d.credential}`, 'x-api-version': '1' };
    const hb = JSON.stringify({ agent_state: 'enrolled', config_version: 1, spool_backlog: 0 });
    const hbPath = `/api/v1/enrollment/devices/${d.id}/heartbeat`;
    const start = Math.random() * WINDOW_S * 1000;
    const backoff = new Backoff({ initialMs: 5000, maxMs: 300_000 });
    const heartbeats = async () => {
      let any = false;
      for (let next = start; next < endMs; next += CYCLE_S * 1000)
        any = (await call(next, 'POST', hbPath, h, hb)) || any;
      return any;
    };
    const [cfg, hbOk] = await Promise.all([
      call(
        start,
        'GET',
        `/api/v1/enrollment/config?device_serial=${encodeURIComponent(d.serial)}`,
        h,
        undefined,
        backoff,
      ),
      heartbeats(),
    ]);
    if (cfg && hbOk) started++;
  };
  await Promise.all(devices.slice(0, AGENTS).map(runAgent));
  agent.destroy();

  const seconds: SecondBin[] = sent.map((n, t) => ({
    t,
    sent: n,
    answered: answered[t] as number,
    s2xx: cls.s2xx[t] as number,
    s429: cls.s429[t] as number,
    s4xx: cls.s4xx[t] as number,
    s5xx: cls.s5xx[t] as number,
    failed: cls.failed[t] as number,
    p99: quantile(
      (lat[t] as number[]).sort((a, b) => a - b),
      99,
    ),
  }));
  const sum = (k: keyof Omit<SecondBin, 't' | 'p99' | 'answered'>) => seconds.reduce((a, s) => a + s[k], 0);
  const steadyMean = devices.slice(0, AGENTS).length / CYCLE_S;
  const servedCycles = Array.from({ length: AFTER_CYCLES }, (_, k) => {
    const from = WINDOW_S + k * CYCLE_S;
    return answered.slice(from, from + CYCLE_S).reduce((a, n) => a + n, 0) / CYCLE_S;
  });
  const cycles = Array.from({ length: AFTER_CYCLES }, (_, k) => {
    const from = WINDOW_S + k * CYCLE_S;
    return seconds.slice(from, from + CYCLE_S).reduce((a, s) => a + s.sent, 0) / CYCLE_S;
  });
  return {
    target,
    agents: Math.min(AGENTS, devices.length),
    seconds,
    totals: {
      sent: sum('sent'),
      s2xx: sum('s2xx'),
      s429: sum('s429'),
      s4xx: sum('s4xx'),
      s5xx: sum('s5xx'),
      failed: sum('failed'),
    },
    failedBy,
    started,
    steadyMean,
    cycles,
    servedCycles,
    peakPerSecond: Math.max(...sent),
    backWithinCycles: cyclesUntilBack(cycles, steadyMean),
  };
}

export interface B2Data {
  agents: number;
  windowS: number;
  cycleS: number;
  afterCycles: number;
  seedSeconds: number;
  ours: BurstRun;
  bare: BurstRun;
}

/** Runs B2: seeds the devices by SQL, bursts the manager, then the bare node:http server with the same generator. */
export async function runB2(): Promise<B2Data> {
  const db = await createBenchDb();
  try {
    const manager = await startManagerChild(db.url);
    let ours: BurstRun;
    let devices: BenchDevice[];
    let seedSeconds: number;
    try {
      const s0 = performance.now();
      devices = (await makeFleet(manager.url, db.pool, { name: 'b2', viaHttp: 0, viaSql: AGENTS })).devices;
      await db.pool.query('ANALYZE devices');
      seedSeconds = (performance.now() - s0) / 1000;
      ours = await burst('manager', manager.url, devices);
    } finally {
      await manager.stop();
    }
    const bareServer = await startBareServerChild();
    let bare: BurstRun;
    try {
      bare = await burst('bare node:http', bareServer.url, devices);
    } finally {
      await bareServer.stop();
    }
    return { agents: AGENTS, windowS: WINDOW_S, cycleS: CYCLE_S, afterCycles: AFTER_CYCLES, seedSeconds, ours, bare };
  } finally {
    await db.drop();
  }
}

const passFail = (ok: boolean) => (ok ? 'pass' : 'FAIL');

function runRows(r: BurstRun): string[] {
  const t = r.totals;
  return [
    `| ${r.target} | ${r.agents} | ${r.started} | ${t.sent} | ${t.s2xx} | ${t.s429} | ${t.s4xx} | ${t.s5xx} | ${t.failed} | ${r.peakPerSecond} | ${Math.max(...r.seconds.map((s) => s.p99).filter(Number.isFinite)).toFixed(0)} | ${r.cycles.map((c) => (c / r.steadyMean).toFixed(2)).join(' / ')} | ${r.servedCycles.map((c) => (c / r.steadyMean).toFixed(2)).join(' / ')} | ${r.backWithinCycles || 'never'} |`,
  ];
}

function readingNotes(d: B2Data): string[] {
  const o = d.ours;
  const notes: string[] = [];
  if (o.totals.s429 === 0 && o.totals.failed > 0)
    notes.push(
      `- The manager never answered 429: ${o.totals.failed} requests got no answer within 10 s instead. Its load`,
      '  shedding (an in-flight cap per replica) did not trigger; the overload became queueing (see the per-second',
      '  p99) and client timeouts, which real agents would retry on their own schedule. Target "429 instead" missed.',
    );
  if (o.totals.s429 === 0)
    notes.push(
      '- With no 429 there is no Retry-After herd: the offered load after the window is the heartbeat schedule',
      '  itself, so the "≤ 1.2× mean within 2 cycles" check passes without being tested; the answers column shows',
      '  whether the backlog drained.',
    );
  else
    notes.push(
      `- ${o.totals.s429} requests were shed with 429 (check-ins retried with the agent's backoff, heartbeats not).`,
    );
  if (o.totals.s429 > 0 && o.totals.failed > 0)
    notes.push(
      `- ${o.totals.failed} requests got no answer within 10 s, by second of their send time: ` +
        o.seconds
          .filter((s) => s.failed > 0)
          .map((s) => `${s.t}s:${s.failed}`)
          .join(' ') +
        ` (by cause: ${Object.entries(o.failedBy)
          .map(([c, n]) => `${c} ${n}`)
          .join(', ')})` +
        '. Before 2026-12-02 thousands were lost every 30 s: Node closed busy keep-alive connections whose next' +
        ' request waited in the socket buffer past headersTimeout (now above the keep-alive timeout). Losses in' +
        ' the first second fall while the generator opens its sockets; not analysed further.',
    );
  notes.push(
    `- Bare node:http with the same generator: ${d.bare.totals.s2xx} × 2xx, worst per-second p99 ${Math.max(...d.bare.seconds.map((s) => s.p99).filter(Number.isFinite)).toFixed(0)} ms: the generator`,
    '  keeps up with the schedule, so the manager numbers are the manager (plus PostgreSQL on the same cores).',
  );
  return notes;
}

/** Markdown section for RESULTS.md. */
export function b2Markdown(d: B2Data, command: string): string {
  const o = d.ours;
  const every = (r: BurstRun) =>
    r.seconds
      .filter((s) => s.t % 5 === 4 || s.s5xx > 0)

      .map(
        (s) =>
          `${s.t + 1}s:${s.sent}/${s.answered}/${s.s429}/${s.s5xx}/${Number.isFinite(s.p99) ? s.p99.toFixed(0) : '–'}`,
      )
      .join(' ');
  return [
    '## B2 — startup burst (agents starting within one window)',
    '',
    `Command: \`${command}\` · ${machineLine()}`,
    '',
    `${d.agents} devices with their own credentials seeded by SQL (${d.seedSeconds.toFixed(1)} s) on a fresh database;`,
    `manager in its own process. Every agent starts at a uniform random time in a ${d.windowS} s window and behaves`,
    'like the agent: a config check-in `GET /api/v1/enrollment/config?device_serial=…` and, on its own timer from',
    `the start, a heartbeat every ${d.cycleS} s. A refused check-in (429) is retried with the agent's backoff (5 s`,
    'doubling to 5 min, equal jitter, at least Retry-After) until the run ends; a refused heartbeat is not retried',
    `(the next one follows a cycle later); other errors are not retried. Run length: window + ${d.afterCycles} cycles.`,
    `One generator process, ≤ ${SOCKETS} keep-alive sockets, 10 s timeout. Reference: the same generator against`,
    'the bare node:http server answering 200.',
    '',
    ...(d.agents < 100_000
      ? [`**Scaled down, plainly**: ${d.agents} agents, not 100k (B2_AGENTS overrides the default of 100 000).`]
      : []),
    `Steady mean = agents ÷ cycle = ${o.steadyMean.toFixed(0)} heartbeats/s; the start-up window adds two requests per agent`,
    `(${((2 * d.agents) / d.windowS).toFixed(0)} req/s on average). Generator, manager and PostgreSQL share this machine's 2 cores.`,
    'Override with B2_AGENTS, B2_WINDOW_S, B2_CYCLE_S, B2_AFTER_CYCLES.',
    '',
    '| target | agents | started | requests | 2xx | 429 | other 4xx | 5xx | no answer | peak req/s | worst per-second p99 ms | offered req/s per cycle after the window ÷ mean | answers/s per cycle after the window ÷ mean | back ≤ 1.2× in cycle |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...runRows(o),
    ...runRows(d.bare),
    '',
    'Per second (every 5th second, and any second with a 5xx): `end-of-second:requests/answers/429/5xx/p99 ms`; requests, 429, 5xx and p99 binned by',
    'scheduled send time (latency runs from it), answers by arrival time.',
    '',
    `- manager: ${every(o)}`,
    `- bare: ${every(d.bare)}`,
    '',
    '| measure | ours | target | verdict |',
    '|---|---|---|---|',
    `| 5xx during the burst | ${o.totals.s5xx} | 0 (429 + Retry-After instead) | ${passFail(o.totals.s5xx === 0)} |`,
    `| requests without an answer (timeouts, resets) | ${o.totals.failed} | 0 | ${passFail(o.totals.failed === 0)} |`,
    `| load back to ≤ 1.2× mean (${o.steadyMean.toFixed(0)} req/s) after the window | cycle ${o.backWithinCycles || 'never'} | ≤ 2 cycles | ${passFail(o.backWithinCycles > 0 && o.backWithinCycles <= 2)} |`,
    '',
    'Reading the table:',
    ...readingNotes(d),
  ].join('\n');
}

/** `./rookery bench b2` */
export async function b2(command: string): Promise<void> {
  const d = await runB2();
  const md = b2Markdown(d, command);
  process.stdout.write(`${md}\n`);
  await publish('B2', md, { command, machine: machineLine(), ...d });
}
