// B3: coalesced heartbeats (one UNNEST UPDATE per second per replica), sent over HTTP and over the agent
// stream, beside pgbench single-row UPDATEs on the same devices table in the same run; staleness = heartbeat
// ack → last_seen_at visible in the database.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { createBenchDb, PG_ADMIN_URL, startBareServerChild, startManagerChild } from './lib/bench-db.js';
import { run } from './lib/exec.js';
import { parsePgbenchTps } from './lib/pgbench-parse.js';
import { type BenchDevice, makeFleet } from './lib/fleet.js';
import {
  keepAliveAgent,
  type LoadRequest,
  openLoopStep,
  runLadder,
  stepCell,
  type StepResult,
  stepPasses,
  sustainedRate,
} from './lib/open-loop.js';
import { machineLine, publish } from './lib/results.js';
import { StalenessProbe, xacts } from './lib/staleness.js';
import { ms, type Summary, summarize } from './lib/stats.js';
import {
  restPercent,
  WS_ATTEMPTS,
  WS_QUIET_REST,
  WS_SAMPLES_PER_STEP,
  WS_STEP_MS,
  type WsStep,
  wsHeartbeatLadder,
} from './b3-ws-ladder.js';
import type pg from 'pg';

const PGBENCH = '/usr/lib/postgresql/15/bin/pgbench';
const DEVICES = 2000;
// finer where the manager tops out; up to where the bare server (the generator, one thread) does
const RATES = [100, 200, 400, 800, 1600, 2400, 3200, 4000, 4800, 5600, 6400, 8000, 9600, 12800, 16000, 19200];
const STEP_MS = 3000;
const ATTEMPTS = 3; // per HTTP ladder step, until one passes (one stall on a shared 2-vCPU machine fails a 3-s step)

async function pgbench(
  dbName: string,
  minId: string,
  maxId: string,
  clients: number,
  seconds: number,
): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'rk-b3-'));
  try {
    const script = path.join(dir, 'update.sql');
    await writeFile(
      script,
      `\\set id random(${minId}, ${maxId})\nUPDATE devices SET status = 'online', last_seen_at = now(), agent_state = 'enrolled' WHERE id = :id;\n`,
    );
    const u = new URL(PG_ADMIN_URL);
    const out = await run(
      PGBENCH,
      [
        '-n',
        '-h',
        u.hostname,
        '-p',
        u.port || '5432',
        '-U',
        u.username || 'postgres',
        '-c',
        String(clients),
        '-j',
        String(clients),
        '-T',
        String(seconds),
        '-f',
        script,
        dbName,
      ],
      (seconds + 30) * 1000,
    );
    const tps = parsePgbenchTps(out.stdout);
    if (!Number.isFinite(tps)) throw new Error(`pgbench gave no tps (exit ${out.code}): ${out.stderr.slice(0, 500)}`);
    return tps;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Time the heartbeat buffer's UNNEST UPDATE of every device, directly (no HTTP): rows/s. */
async function coalescedSql(pool: pg.Pool, ids: string[], rounds: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) {
    const at = ids.map(() => new Date().toISOString());
    await pool.query(
      `UPDATE devices AS d SET status = 'online', last_seen_at = greatest(d.last_seen_at, v.at),
         agent_state = coalesce(v.agent_state, d.agent_state)
       FROM unnest($1::bigint[], $2::timestamptz[], $3::text[]) AS v(id, at, agent_state) WHERE d.id = v.id`,
      [ids, at, ids.map(() => 'enrolled')],
    );
  }
  return ((ids.length * rounds) / (performance.now() - t0)) * 1000;
}

interface Step extends StepResult {
  staleness: Summary;
  dbXactPerHeartbeat: number;
}

/** An HTTP ladder step with its attempt number. */
type HttpStep = Step & { attempt: number };

/**
 * HTTP heartbeats open loop at rising rates, each step up to ATTEMPTS times until it passes; the ladder
 * stops at a step that failed every attempt. With `pool` (the manager's database) WS_SAMPLES_PER_STEP acks
 * per step are followed by the staleness probe, and the manager's transactions are counted; without it
 * (the bare server, no database) neither.
 */
async function heartbeatLadder(base: string, pool: pg.Pool | null, devices: BenchDevice[]): Promise<HttpStep[]> {
  const agent = keepAliveAgent();
  const probe = pool ? new StalenessProbe(pool) : null;
  const probes: Promise<number | undefined>[] = [];
  // the probe polls every 20 ms until the heartbeat shows: a fixed number per step, as the stream ladder
  // does, so its own queries do not grow with the rate (at every 40th ack they were 1500/s at 2400 hb/s)
  let every = 1;
  const make = (i: number): LoadRequest => {
    const d = devices[i % devices.length] as BenchDevice;
    const sentAt = Date.now();
    return {
      method: 'POST',
      path: `/api/v1/enrollment/devices/${d.id}/heartbeat`,
      headers: { authorization: `Bearer ${d.credential}`, 'x-api-version': '1' },
      body: JSON.stringify({ agent_state: 'enrolled', config_version: 1, spool_backlog: 0 }),
      onDone: (status) => {
        if (probe && status === 200 && i % every === 0) probes.push(probe.visibleAfter(d.id, sentAt, Date.now()));
      },
    };
  };
  await openLoopStep(base, agent, 200, 2000, make); // warm-up
  await Promise.all(probes.splice(0));
  const steps = await runLadder(RATES, ATTEMPTS, async (rate): Promise<Step> => {
    every = Math.max(1, Math.floor((rate * STEP_MS) / 1000 / WS_SAMPLES_PER_STEP));
    const x0 = pool ? await xacts(pool) : 0;
    const p0 = probe?.polls ?? 0;
    const s = await openLoopStep(base, agent, rate, STEP_MS, make);
    const stale = (await Promise.all(probes.splice(0))).filter((v): v is number => v !== undefined);
    let perHeartbeat = Number.NaN;
    if (pool && probe) {
      await new Promise((r) => setTimeout(r, 1200)); // let the last flush land before counting
      // the staleness polls are the bench's own transactions: not the manager's cost
      perHeartbeat = ((await xacts(pool)) - x0 - (probe.polls - p0) - 1) / Math.max(1, s.ok);
    }
    return { ...s, staleness: summarize(stale), dbXactPerHeartbeat: perHeartbeat };
  });
  agent.destroy();
  return steps;
}

export interface B3Data {
  steps: HttpStep[];
  sustained: number;
  /** the same HTTP ladder against the bare node:http server (same bodies, no database); absent before 2026-12-06 */
  bareSteps?: HttpStep[];
  bareSustained?: number;
  /** the faster of the two reference runs, tps */
  pgbenchTps: number;
  /** reference tps before the ladders (manager idle) and after (manager stopped) */
  pgbenchRuns: [number, number];
  pgbenchClients: number;
  coalescedSqlRowsPerSecond: number;
  ratio: number;
  sqlRatio: number;
  /** worst staleness p99 of any step, failing (overloaded) ones included, ms */
  stalenessP99: number;
  /** worst staleness p99 of the passing steps (the rates counted as sustained), ms */
  stalenessP99Passing: number;
  wsSteps: WsStep[];
  /** ms to open every device's stream (handshake with its credential, hello) */
  wsOpenMs: number;
  wsSustained: number;
  wsRatio: number;
  /** manager (and bare server) worker processes, `--workers`; absent (1) before 2026-12-06 */
  workers?: number;
}

/** Manager worker processes for B3: one per core (`--workers auto`), or B3_WORKERS. */
const B3_WORKERS = () => Number(process.env.B3_WORKERS ?? availableParallelism());

/** Runs B3 against a fresh database with 2000 devices. */
export async function runB3(): Promise<B3Data> {
  const db = await createBenchDb();
  const workers = B3_WORKERS();
  try {
    const manager = await startManagerChild(db.url, { ROOKERY_WORKERS: String(workers) });
    let steps: HttpStep[];
    let ids: string[];
    let ws: { steps: WsStep[]; openMs: number };
    let pgbenchBefore: number;
    let fleetDevices: BenchDevice[] = [];
    const clients = 4;
    const runPgbench = (ids: string[]) => {
      const sorted = ids.map(Number).sort((a, b) => a - b);
      return pgbench(db.name, String(sorted[0]), String(sorted[sorted.length - 1]), clients, 8);
    };
    try {
      const fleet = await makeFleet(manager.url, db.pool, { name: 'b3', viaHttp: 0, viaSql: DEVICES });
      fleetDevices = fleet.devices;
      ids = fleet.devices.map((d) => d.id);
      // why: on shared, noisy cores the reference runs before and after the ladders and the faster run counts,
      // so a neighbour slowing one pgbench run cannot inflate our ratio
      pgbenchBefore = await runPgbench(ids);
      steps = await heartbeatLadder(manager.url, db.pool, fleet.devices);
      ws = await wsHeartbeatLadder(manager.url, manager.pid, db.pool, fleet.devices);
    } finally {
      await manager.stop();
    }
    const pgbenchAfter = await runPgbench(ids);
    const pgbenchTps = Math.max(pgbenchBefore, pgbenchAfter);
    const coalescedSqlRowsPerSecond = await coalescedSql(db.pool, ids, 20);
    // the ceiling of any HTTP route on this machine: bare node:http, same bodies, same generator
    const bare = await startBareServerChild(workers);
    let bareSteps: HttpStep[];
    try {
      bareSteps = await heartbeatLadder(bare.url, null, fleetDevices);
    } finally {
      await bare.stop();
    }
    const sustained = sustainedRate(steps);
    const wsSustained = sustainedRate(ws.steps);
    return {
      steps,
      sustained,
      bareSteps,
      bareSustained: sustainedRate(bareSteps),
      pgbenchTps,
      pgbenchRuns: [pgbenchBefore, pgbenchAfter],
      pgbenchClients: clients,
      coalescedSqlRowsPerSecond,
      ratio: sustained / pgbenchTps,
      sqlRatio: coalescedSqlRowsPerSecond / pgbenchTps,
      stalenessP99: worstStaleness([...steps, ...ws.steps]),
      stalenessP99Passing: worstStaleness([...steps, ...ws.steps].filter((s) => stepPasses(s))),
      wsSteps: ws.steps,
      wsOpenMs: ws.openMs,
      wsSustained,
      wsRatio: wsSustained / pgbenchTps,
      workers,
    };
  } finally {
    await db.drop();
  }
}

const passFail = (ok: boolean) => (ok ? 'pass' : 'FAIL');

const worstStaleness = (steps: { staleness: Summary }[]) =>
  Math.max(...steps.map((s) => s.staleness.p99).filter(Number.isFinite));

function wsTable(d: B3Data): string[] {
  const lines = [
    '',
    `**Over the agent stream** (\`GET /api/v1/agent/stream\`): the same ${DEVICES} devices each open their own`,
    `WebSocket with their credential (all ${DEVICES} opened in ${(d.wsOpenMs / 1000).toFixed(1)} s, 64 handshakes at a time), then`,
    `\`{"type":"heartbeat",…}\` messages open loop, ${WS_STEP_MS / 1000} s per step, round-robin over the streams; latency = scheduled`,
    `send → \`heartbeat_ack\`; ${WS_SAMPLES_PER_STEP} acks per step are followed by the same staleness polling. The streams are`,
    "held by `bench/native/wsload.c` (C, like pgbench's client; one write per heartbeat, answers read once per 1-ms",
    'tick; the Node `ws` client it replaced used 27–32 µs of CPU per heartbeat, as much as the manager); the generator',
    'column is that child plus this process (staleness polling). CPU columns are % of one core;',
    '"machine busy" counts everything on both cores (200 = saturated); "rest" = machine busy − manager − generator:',
    'PostgreSQL, the kernel and other tenants of this shared machine (a few % when it is ours alone). A failing step is',
    `run again (≤ ${WS_ATTEMPTS} attempts); the ladder stops at a failure with rest ≤ ${WS_QUIET_REST} % and no retransmission, or after the last attempt. Sustained = best passing step.`,
    '"drops / retrans": packets the kernel dropped from its input queues (loopback included; `/proc/net/softnet_stat`) and',
    "TCP segments retransmitted (`/proc/net/snmp`) during the step, anyone's: a lost loopback packet waits ≥ 200 ms.",
    '"DB xacts/hb" as above (an estimate from commit counters, shown ≥ 0).',
    '',
    '| offered hb/s | ok | errors | achieved hb/s | p50 ms | p99 ms | staleness n | staleness p50 ms | staleness p99 ms | DB xacts/hb | manager CPU % | generator CPU % | machine busy % | rest % | drops / retrans | step |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of d.wsSteps) {
    lines.push(
      `| ${s.offered} | ${s.ok} | ${s.errors} | ${s.achieved.toFixed(0)} | ${ms(s.latency.p50)} | ${ms(s.latency.p99)} | ${s.staleness.n} | ${s.staleness.p50.toFixed(0)} | ${s.staleness.p99.toFixed(0)} | ${Math.max(0, s.dbXactPerHeartbeat).toFixed(3)} | ${s.managerCpuPercent.toFixed(0)} | ${s.generatorCpuPercent.toFixed(0)} | ${s.machineBusyPercent.toFixed(0)} | ${rest(s).toFixed(0)} | ${s.netDrops ?? '–'} / ${s.tcpRetransmits ?? '–'} | ${passFail(stepPasses(s))}${s.attempt > 1 ? ` (attempt ${s.attempt})` : ''} |`,
    );
  }
  return lines;
}

const rest = restPercent;

function readingB3(d: B3Data): string[] {
  const lastWs = d.wsSteps.at(-1);
  const restMean = d.wsSteps.reduce((a, s) => a + rest(s), 0) / Math.max(1, d.wsSteps.length);
  const contended =
    restMean > 30
      ? [
          `- **Contended run**: during the stream ladder the rest of the machine used ${restMean.toFixed(0)} % of a core on average`,
          '  (other tenants), so the stream numbers are lower bounds and both pgbench runs may be depressed too.',
        ]
      : [];
  const lastPass = [...d.wsSteps].reverse().find((s) => stepPasses(s));
  return [
    'Reading the table:',
    '- Coalescing works at the database: the one-statement UNNEST UPDATE the heartbeat buffer runs writes',
    '  rows several times faster than single-row UPDATEs, and staleness stays bounded by the 1 s flush. Both are',
    '  HOT updates (no indexed column of `devices` changes, migration 0007): before that, with `last_seen_at` in an',
    '  index, every heartbeat wrote a new entry into all six indexes of the table.',
    `- Over the agent stream a heartbeat is one small frame each way on a socket that is already open and`,
    `  authenticated: no HTTP parsing, routing, credential lookup or response headers. It sustains`,
    `  ${d.wsSustained.toFixed(0)} heartbeats/s = ${d.wsRatio.toFixed(2)}× pgbench (${d.wsRatio >= 5 ? 'meets' : 'misses'} the 5× target)` +
      (lastPass
        ? `; at ${lastPass.offered}/s the manager used ${lastPass.managerCpuPercent.toFixed(0)} % of a core and the machine was ${lastPass.machineBusyPercent.toFixed(0)} % busy of 200.`
        : '.'),
    lastWs && !stepPasses(lastWs)
      ? `  The ladder stopped at ${lastWs.offered}/s (p99 ${ms(lastWs.latency.p99)} ms, ${lastWs.errors} errors, machine ${lastWs.machineBusyPercent.toFixed(0)} % busy): manager, generator, PostgreSQL and the loopback TCP stack share 2 cores.`
      : '  The ladder ran to its last rate without failing a step.',
    `- Over HTTP each heartbeat is a full request (${d.sustained.toFixed(0)}/s sustained, ${d.ratio.toFixed(2)}×): the HTTP route stays for`,
    "  seed 000 and as the agent's fallback when its stream is down or does not ack within 5 s.",
    ...(d.bareSustained !== undefined
      ? [
          `  5× pgbench is ${(5 * d.pgbenchTps).toFixed(0)} requests/s; a bare node:http server that only parses the same bodies`,
          `  sustained ${d.bareSustained.toFixed(0)}/s here with the same generator, so the agent stream is the route that can meet it.`,
        ]
      : []),
    ...contended,
  ];
}

/** Markdown section for RESULTS.md. */
export function b3Markdown(d: B3Data, command: string): string {
  const lines = [
    '## B3 — heartbeats: coalesced vs single-row UPDATE (HTTP and agent stream)',
    '',
    `Command: \`${command}\` · ${machineLine()}`,
    '',
    (d.workers ?? 1) > 1
      ? `Manager as \`rookery manager --workers ${d.workers}\` (one worker process per core, cluster.ts; its CPU columns sum them) on a fresh database, ${DEVICES} devices with their own credentials. HTTP`
      : `Manager in its own process on a fresh database, ${DEVICES} devices with their own credentials. HTTP`,
    `heartbeats open loop, ${STEP_MS / 1000} s per step, round-robin over the devices; ${WS_SAMPLES_PER_STEP} acks per step (evenly spaced) are`,
    'followed by polling `last_seen_at` (20 ms) until it shows the heartbeat: staleness. "DB xacts/hb" =',
    'manager transactions in the bench database during the step (commits minus the staleness polls) ÷ heartbeats:',
    'credential lookups are cached per replica for 60 s; the coalesced writes are one UPDATE per second.',
    `Reference: \`pgbench -c ${d.pgbenchClients} -j ${d.pgbenchClients} -T 8\` with a one-row \`UPDATE devices … WHERE id = random\`, same table,`,
    `run before the ladders and after them (${d.pgbenchRuns.map((t) => t.toFixed(0)).join(' and ')} tps); the faster run is the reference.`,
    '',
    '| offered hb/s | ok | errors | achieved hb/s | p50 ms | p99 ms | staleness n | staleness p50 ms | staleness p99 ms | staleness max ms | DB xacts/hb | step |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const s of d.steps) {
    lines.push(
      `| ${s.offered} | ${s.ok} | ${s.errors} | ${s.achieved.toFixed(0)} | ${ms(s.latency.p50)} | ${ms(s.latency.p99)} | ${s.staleness.n} | ${s.staleness.p50.toFixed(0)} | ${s.staleness.p99.toFixed(0)} | ${s.staleness.max.toFixed(0)} | ${s.dbXactPerHeartbeat.toFixed(2)} | ${stepCell(s)} |`,
    );
  }
  if (d.bareSteps) {
    lines.push(
      '',
      `The same HTTP ladder against a bare node:http server (\`bench/src/bare-json-server.ts${(d.workers ?? 1) > 1 ? ` --workers=${d.workers}` : ''}\`: reads and parses the body,`,
      'answers 200; no authentication, no database), the same generator and bodies: the most any HTTP route',
      `can sustain on this machine. A failing step runs again (≤ ${ATTEMPTS} attempts), in both HTTP ladders.`,
      '',
      '| offered hb/s | ok | errors | achieved hb/s | p50 ms | p99 ms | step |',
      '|---|---|---|---|---|---|---|',
      ...d.bareSteps.map(
        (s) =>
          `| ${s.offered} | ${s.ok} | ${s.errors} | ${s.achieved.toFixed(0)} | ${ms(s.latency.p50)} | ${ms(s.latency.p99)} | ${stepCell(s)} |`,
      ),
    );
  }
  lines.push(...wsTable(d));
  lines.push(
    '',
    '| measure | ours | reference | ratio | target | verdict |',
    '|---|---|---|---|---|---|',
    `| stream heartbeats/s sustained (p99 < 100 ms) vs pgbench single-row UPDATE tps | ${d.wsSustained.toFixed(0)} | ${d.pgbenchTps.toFixed(0)} | ${d.wsRatio.toFixed(2)} | ≥ 5 | ${passFail(d.wsRatio >= 5)} |`,
    `| HTTP heartbeats/s sustained (p99 < 100 ms) vs pgbench single-row UPDATE tps | ${d.sustained.toFixed(0)} | ${d.pgbenchTps.toFixed(0)} | ${d.ratio.toFixed(2)} | ≥ 5 | ${passFail(d.ratio >= 5)} |`,
    ...(d.bareSustained !== undefined
      ? [
          `| bare node:http, the same HTTP heartbeats, no database (the ceiling of any HTTP route here) vs pgbench tps | ${d.bareSustained.toFixed(0)} | ${d.pgbenchTps.toFixed(0)} | ${(d.bareSustained / d.pgbenchTps).toFixed(2)} | (shown) | ${d.bareSustained >= 5 * d.pgbenchTps ? 'reachable over HTTP' : 'below 5×: no HTTP route can meet it here'} |`,
          `| HTTP heartbeats: manager vs bare node:http | ${d.sustained.toFixed(0)} | ${d.bareSustained.toFixed(0)} | ${(d.sustained / d.bareSustained).toFixed(2)} | (shown) | – |`,
        ]
      : []),
    `| coalesced UNNEST UPDATE (${DEVICES} rows/statement, SQL only) rows/s vs pgbench tps | ${d.coalescedSqlRowsPerSecond.toFixed(0)} | ${d.pgbenchTps.toFixed(0)} | ${d.sqlRatio.toFixed(2)} | ≥ 5 | ${passFail(d.sqlRatio >= 5)} |`,
    `| staleness p99 (ack → visible), worst passing step of both ladders | ${d.stalenessP99Passing.toFixed(0)} ms | – | – | ≤ 2000 ms | ${passFail(d.stalenessP99Passing <= 2000)} |`,
    `| staleness p99, worst of any step (failing, overloaded steps included) | ${d.stalenessP99.toFixed(0)} ms | – | – | (shown) | ${d.stalenessP99 <= 2000 ? '≤ 2 s' : '> 2 s under overload'} |`,
    '',
    ...readingB3(d),
  );
  return lines.join('\n');
}

/** `./rookery bench b3` */
export async function b3(command: string): Promise<void> {
  const d = await runB3();
  const md = b3Markdown(d, command);
  process.stdout.write(`${md}\n`);
  await publish('B3', md, { command, machine: machineLine(), ...d });
}
