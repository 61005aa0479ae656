// `./rookery bench compare REF_A [REF_B]`: the B1 mix against the managers of two commits, alternated round
// by round on the same machine, to measure a change's CPU per request (the machine's speed drifts between
// runs more than most changes move it). REF_B defaults to the working tree. Prints; writes no RESULTS.md section.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuNow, cpuPer, ingestRate, mix, onlyKind, scrapeMetrics } from './b1-ingest-mix.js';
import { type BenchDb, createBenchDb, ROOT, startManagerChild } from './lib/bench-db.js';
import { writeBackDirtyPages } from './lib/exec.js';
import { type BenchDevice, makeFleet } from './lib/fleet.js';
import { keepAliveAgent, openLoopStep } from './lib/open-loop.js';
import { sampleValue } from './lib/prom-text.js';
import { median } from './lib/stats.js';

const USAGE = `Usage: ./rookery bench compare REF_A [REF_B] [--rates 3000,5000] [--rounds 3] [--step-ms 4000]
                                  [--kind mix|upload|heartbeat|config|rows] [--node-args-a FLAGS] [--node-args-b FLAGS]
                                  [--env-a K=V,…] [--env-b K=V,…]
  REF_A, REF_B: git commits (REF_B default: the working tree). Each round starts A's manager, then B's,
  each on its own fresh database and fleet of 200 devices (after a sync: the other side's dirty pages are
  written back first), warms it up (2 s at 1000 req/s) and runs the mix open loop at each rate; prints CPU
  µs per answered request of the manager, of every postgres process and of this generator, per round and as
  medians. Each step's line also gives the p99 of each kind of request and the manager's event-loop delay
  during the step (p99 and max, from its /metrics).
  --kind rows: B1's row-ingest phase instead (100 000 results in uploads of 500, 8 in flight; no rates):
  rows/s and CPU µs per stored row.
  --node-args-a, --node-args-b: node flags for that side's manager (default BENCH_MANAGER_NODE_ARGS), e.g.
  the same commit twice with --node-args-b "--max-semi-space-size=32".
  --env-a, --env-b: environment for that side's manager, e.g. --env-b ROOKERY_INGEST_LINGER_MS=0.
`;

interface Side {
  name: string;
  /** node flags of this side's manager, when given */
  nodeArgs?: string[];
  /** extra environment of this side's manager */
  env?: Record<string, string>;
  ref: string;
  root: string;
  db?: BenchDb;
  devices?: BenchDevice[];
}

interface Row {
  side: string;
  round: number;
  rate: number;
  achieved: number;
  p99: number;
  manager: number;
  postgres: number;
  generator: number;
}

/**
 * The manager's event-loop delay since its last scrape, ms (prom-client's monitorEventLoopDelay gauges, 10-ms
 * resolution): a stall of the manager's own loop shows here; one of this generator or of the machine alone does not.
 */
async function loopDelay(base: string): Promise<{ p99: number; max: number }> {
  const samples = await scrapeMetrics(base);
  const ms = (name: string) =>
    (sampleValue(samples, `rookery_manager_nodejs_eventloop_lag_${name}_seconds`) ?? Number.NaN) * 1000;
  return { p99: ms('p99'), max: ms('max') };
}

/** A step's p99 per kind of request, as " (upload 82.2, heartbeat 37.4, …)"; empty when the requests named none. */
const kindsText = (p99ByKind: Record<string, number> | undefined) =>
  p99ByKind
    ? ` (${Object.entries(p99ByKind)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ')})`
    : '';

/** A detached worktree of `ref` sharing this checkout's node_modules (root and workspaces). */
function worktree(ref: string, dir: string): string {
  execFileSync('git', ['-C', ROOT, 'worktree', 'add', '--detach', '--quiet', dir, ref], { stdio: 'inherit' });
  const { workspaces } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
  for (const ws of ['', ...workspaces]) {
    const from = join(ROOT, ws, 'node_modules');
    const to = join(dir, ws, 'node_modules');
    if (existsSync(from) && existsSync(join(dir, ws)) && !existsSync(to)) symlinkSync(from, to);
  }
  return dir;
}

export async function compare(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      rates: { type: 'string', default: '3000,5000' },
      rounds: { type: 'string', default: '3' },
      'step-ms': { type: 'string', default: '4000' },
      kind: { type: 'string', default: 'mix' },
      'node-args-a': { type: 'string' },
      'node-args-b': { type: 'string' },
      'env-a': { type: 'string' },
      'env-b': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const rates = values.rates.split(',').map(Number);
  const rounds = Number(values.rounds);
  const stepMs = Number(values['step-ms']);
  const kind = values.kind;
  if (
    values.help ||
    positionals.length < 1 ||
    positionals.length > 2 ||
    !rates.every((r) => Number.isInteger(r) && r > 0 && r <= 20_000) ||
    !(Number.isInteger(rounds) && rounds >= 1 && rounds <= 9) ||
    !(Number.isInteger(stepMs) && stepMs >= 1000 && stepMs <= 30_000) ||
    !['mix', 'upload', 'heartbeat', 'config', 'rows'].includes(kind)
  ) {
    process.stdout.write(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const tmp = mkdtempSync(join(tmpdir(), 'rk-compare-'));
  const sides: Side[] = [];
  try {
    sides.push({ name: 'A', ref: positionals[0] as string, root: worktree(positionals[0] as string, join(tmp, 'a')) });
    const refB = positionals[1];
    sides.push(
      refB
        ? { name: 'B', ref: refB, root: worktree(refB, join(tmp, 'b')) }
        : { name: 'B', ref: 'working tree', root: ROOT },
    );
    const flags = (v: string | undefined) => (v === undefined ? undefined : v.split(' ').filter(Boolean));
    (sides[0] as Side).nodeArgs = flags(values['node-args-a']);
    (sides[1] as Side).nodeArgs = flags(values['node-args-b']);
    const env = (v: string | undefined) =>
      v === undefined
        ? undefined
        : Object.fromEntries(v.split(',').map((kv) => kv.split(/=(.*)/s, 2) as [string, string]));
    (sides[0] as Side).env = env(values['env-a']);
    (sides[1] as Side).env = env(values['env-b']);
    const rows: Row[] = [];
    for (let round = 1; round <= rounds; round++) {
      for (const side of sides) {
        side.db ??= await createBenchDb();
        writeBackDirtyPages(); // the other side's writes are not this side's to pay for
        const m = await startManagerChild(side.db.url, side.env ?? {}, side.root, side.nodeArgs);
        const agent = keepAliveAgent();
        try {
          side.devices ??= (await makeFleet(m.url, side.db.pool, { name: 'cmp', viaHttp: 100, viaSql: 100 })).devices;
          if (kind === 'rows') {
            await ingestRate(m.url, side.devices, m.pid); // warm-up: JIT, pools, partitions
            const r = await ingestRate(m.url, side.devices, m.pid);
            const rps = (r.rows / r.ms) * 1000;
            rows.push({ side: side.name, round, rate: 0, achieved: rps, p99: 0, ...r.cpu });
            process.stderr.write(
              `round ${round} ${side.name}: ${rps.toFixed(0)} rows/s, manager ${r.cpu.manager.toFixed(1)} µs/row, ` +
                `PostgreSQL ${r.cpu.postgres.toFixed(1)} µs/row, generator ${r.cpu.generator.toFixed(1)} µs/row\n`,
            );
            continue;
          }
          const make = kind === 'mix' ? mix(side.devices) : onlyKind(kind as 'upload', side.devices);
          await openLoopStep(m.url, agent, 1000, 2000, make); // warm-up: JIT, pools, caches
          for (const rate of rates) {
            await loopDelay(m.url); // starts the manager's delay histogram afresh (prom-client resets it per scrape)
            const c0 = cpuNow(m.pid);
            const s = await openLoopStep(m.url, agent, rate, stepMs, make);
            const cpu = cpuPer(c0, cpuNow(m.pid), s.ok);
            const delay = await loopDelay(m.url);
            const row: Row = {
              side: side.name,
              round,
              rate,
              achieved: s.achieved,
              p99: s.latency.p99,
              manager: cpu.server,
              postgres: cpu.postgres,
              generator: cpu.generator,
            };
            rows.push(row);
            process.stderr.write(
              `round ${round} ${side.name} ${rate} req/s: achieved ${row.achieved.toFixed(0)}, p99 ${row.p99.toFixed(1)} ms${kindsText(s.p99ByKind)}, ` +
                `manager ${row.manager.toFixed(1)} µs, PostgreSQL ${row.postgres.toFixed(1)} µs, generator ${row.generator.toFixed(1)} µs, ` +
                `manager event-loop delay p99 ${delay.p99.toFixed(0)} ms, max ${delay.max.toFixed(0)} ms` +
                `${s.errors ? `, errors ${JSON.stringify(s.statuses)}` : ''}\n`,
            );
          }
        } finally {
          agent.destroy();
          await m.stop();
        }
      }
    }
    const f = (n: number) => n.toFixed(1);
    const header = sides
      .map((s) => `${s.name} = ${s.ref}${s.nodeArgs ? ` (node ${s.nodeArgs.join(' ')})` : ''}`)
      .join(', ');
    if (kind === 'rows') {
      const out = [
        `row ingest, ${rounds} alternated rounds; CPU µs per stored row, medians`,
        header,
        '',
        '| side | rows/s | manager µs/row | PostgreSQL µs/row | manager + PostgreSQL µs/row | generator µs/row |',
        '|---|---|---|---|---|---|',
      ];
      for (const side of sides) {
        const r = rows.filter((x) => x.side === side.name);
        const med = (g: (x: Row) => number) => median(r.map(g));
        out.push(
          `| ${side.name} | ${med((x) => x.achieved).toFixed(0)} | ${f(med((x) => x.manager))} | ${f(med((x) => x.postgres))} | ` +
            `${f(med((x) => x.manager + x.postgres))} | ${f(med((x) => x.generator))} |`,
        );
      }
      process.stdout.write(`${out.join('\n')}\n`);
      return;
    }
    const out = [
      `${kind}, ${rounds} alternated rounds of ${stepMs / 1000} s per rate; CPU µs per answered request, medians`,
      header,
      '',
      '| side | offered req/s | achieved req/s | p99 ms | manager µs | PostgreSQL µs | manager + PostgreSQL µs | generator µs |',
      '|---|---|---|---|---|---|---|---|',
    ];
    for (const rate of rates) {
      for (const side of sides) {
        const r = rows.filter((x) => x.side === side.name && x.rate === rate);
        const med = (g: (x: Row) => number) => median(r.map(g));
        out.push(
          `| ${side.name} | ${rate} | ${med((x) => x.achieved).toFixed(0)} | ${f(med((x) => x.p99))} | ${f(med((x) => x.manager))} | ` +
            `${f(med((x) => x.postgres))} | ${f(med((x) => x.manager + x.postgres))} | ${f(med((x) => x.generator))} |`,
        );
      }
    }
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    for (const side of sides) await side.db?.drop();
    for (const side of sides) {
      if (side.root !== ROOT) execFileSync('git', ['-C', ROOT, 'worktree', 'remove', '--force', side.root]);
    }
    rmSync(tmp, { recursive: true, force: true });
  }
}
