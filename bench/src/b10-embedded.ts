// B10: result ingest on the embedded PostgreSQL (the manager's default without DATABASE_URL) beside the
// same manager on the local PostgreSQL server, in one run; the embedded engine's memory and start-up.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { ingestRate, type RowCpu } from './b1-ingest-mix.js';
import { createBenchDb, type ManagerChildStarted, startManagerChild } from './lib/bench-db.js';
import { makeFleet } from './lib/fleet.js';
import { processTable } from './lib/proc-cpu.js';
import { machineLine, publish } from './lib/results.js';
import { median } from './lib/stats.js';

const ROUNDS = 2; // server, embedded, server, embedded: drift on a shared machine hits both

interface IngestRun {
  engine: 'server' | 'embedded';
  round: number;
  rowsPerSecond: number;
  cpu: RowCpu;
}

interface Memory {
  processes: number;
  /** proportional set size of the postmaster and every process under it, summed, MB */
  pssMb: number;
  /** resident set of the postmaster alone, MB */
  postmasterRssMb: number;
}

export interface B10Data {
  runs: IngestRun[];
  server: number;
  embedded: number;
  ratio: number;
  firstStart: { initMs: number; startMs: number };
  restart: { initMs: number; startMs: number };
  memory: { idle: Memory; afterIngest: Memory };
}

/** kB of a `Field:   N kB` line in a /proc status-like file. */
const kb = (text: string, field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);

/** Memory of the embedded postmaster the manager `managerPid` started, and of everything under it. */
function embeddedMemory(managerPid: number): Memory {
  const table = processTable();
  const postmaster = [...table].find(([, p]) => p.ppid === managerPid && p.comm === 'postgres')?.[0];
  if (postmaster === undefined) throw new Error(`no postgres process under the manager (pid ${managerPid})`);
  const tree = new Set([postmaster]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, p] of table)
      if (!tree.has(pid) && tree.has(p.ppid)) {
        tree.add(pid);
        grew = true;
      }
  }
  let pss = 0;
  for (const pid of tree) {
    try {
      pss += kb(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
    } catch {
      // exited meanwhile
    }
  }
  const rss = kb(readFileSync(`/proc/${postmaster}/status`, 'utf8'), 'VmRSS');
  return { processes: tree.size, pssMb: pss / 1024, postmasterRssMb: rss / 1024 };
}

/** Fleet of 100 devices enrolled over HTTP (the embedded database has no URL the bench could insert with). */
async function ingestOn(m: ManagerChildStarted, name: string): Promise<{ rowsPerSecond: number; cpu: RowCpu }> {
  const fleet = await makeFleet(m.url, undefined, { name, viaHttp: 100, viaSql: 0 });
  await ingestRate(m.url, fleet.devices, m.pid); // warm-up: JIT, pools, partitions
  // the rollup fold (every 0.5 s, a few seconds of work here) of the warm-up's rows would run into the measured phase (B1: about 2 s)
  await new Promise((r) => setTimeout(r, 6000));
  const r = await ingestRate(m.url, fleet.devices, m.pid);
  return { rowsPerSecond: (r.rows / r.ms) * 1000, cpu: r.cpu };
}

export async function runB10(): Promise<B10Data> {
  const runs: IngestRun[] = [];
  const dir = await mkdtemp(path.join(tmpdir(), 'rk-b10-'));
  // run as root, the embedded server runs as "postgres", which must be able to enter the directory
  await chmod(dir, 0o711);
  let firstStart: B10Data['firstStart'] | undefined;
  let restart: B10Data['restart'] | undefined;
  let memory: B10Data['memory'] | undefined;
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const db = await createBenchDb();
      try {
        const m = await startManagerChild(db.url);
        try {
          runs.push({ engine: 'server', round, ...(await ingestOn(m, `b10s${round}`)) });
        } finally {
          await m.stop();
        }
      } finally {
        await db.drop();
      }
      // a fresh data dir each round: the first start runs initdb
      const dataDir = path.join(dir, `data${round}`);
      const m = await startManagerChild({ dataDir });
      try {
        if (!m.embedded) throw new Error('the manager did not log its embedded database start-up');
        firstStart ??= m.embedded;
        const idle = embeddedMemory(m.pid);
        runs.push({ engine: 'embedded', round, ...(await ingestOn(m, `b10e${round}`)) });
        memory ??= { idle, afterIngest: embeddedMemory(m.pid) };
      } finally {
        await m.stop();
      }
      if (!restart) {
        // the same data dir again: no initdb, the cluster and its migrations are there
        const again = await startManagerChild({ dataDir });
        restart = again.embedded;
        await again.stop();
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const rate = (engine: IngestRun['engine']) =>
    median(runs.filter((r) => r.engine === engine).map((r) => r.rowsPerSecond));
  const server = rate('server');
  const embedded = rate('embedded');
  return {
    runs,
    server,
    embedded,
    ratio: embedded / server,
    firstStart: firstStart as B10Data['firstStart'],
    restart: restart ?? { initMs: Number.NaN, startMs: Number.NaN },
    memory: memory as B10Data['memory'],
  };
}

const f0 = (n: number) => n.toFixed(0);
const f1 = (n: number) => n.toFixed(1);

export function b10Markdown(d: B10Data, command: string): string {
  const mem = (label: string, m: Memory) => `| ${label} | ${m.processes} | ${f1(m.pssMb)} | ${f1(m.postmasterRssMb)} |`;
  return [
    '## B10 — embedded PostgreSQL: ingest beside the server, memory, start-up',
    '',
    `Command: \`${command}\` · ${machineLine()}`,
    '',
    'The manager as `./rookery up` runs it (no DATABASE_URL: the embedded PostgreSQL in a fresh data dir, initdb on',
    'first start) and the same manager on the local PostgreSQL server, alternated (server, embedded, × ' +
      `${ROUNDS}), each on a fresh database with 100 devices enrolled over HTTP. Ingest = B1's row phase: 100 000 results in`,
    'uploads of 500, 8 in flight, node:http keep-alive; rows/s from the first upload to the last answer. CPU columns:',
    'µs per stored row of the manager, of every postgres process (either engine) and of this generator.',
    '',
    '| engine | round | rows/s | manager µs/row | PostgreSQL µs/row | generator µs/row |',
    '|---|---|---|---|---|---|',
    ...d.runs.map(
      (r) =>
        `| ${r.engine} | ${r.round} | ${f0(r.rowsPerSecond)} | ${f1(r.cpu.manager)} | ${f1(r.cpu.postgres)} | ${f1(r.cpu.generator)} |`,
    ),
    '',
    '| measure | embedded | server | ratio | target | verdict |',
    '|---|---|---|---|---|---|',
    `| result rows/s (median of ${ROUNDS}) | ${f0(d.embedded)} | ${f0(d.server)} | ${d.ratio.toFixed(2)} | ≥ 0.5 | ${d.ratio >= 0.5 ? 'pass' : 'FAIL'} |`,
    '',
    'Embedded engine memory (the postmaster and every process under it; PSS counts shared pages once, split among',
    'the processes that map them, so the sum is what the engine adds to the machine):',
    '',
    '| when | processes | PSS sum MB | postmaster RSS MB |',
    '|---|---|---|---|',
    mem('after start-up and migrations, idle', d.memory.idle),
    mem('right after the ingest', d.memory.afterIngest),
    '',
    `Start-up, as the manager logs it: first start in an empty data dir ${f0(d.firstStart.initMs)} ms of initdb + ${f0(d.firstStart.startMs)} ms`,
    `until the server accepts connections; a restart on the same data dir ${f0(d.restart.startMs)} ms (initdb ${f0(d.restart.initMs)} ms).`,
  ].join('\n');
}

/** `./rookery bench b10` */
export async function b10(command: string): Promise<void> {
  const d = await runB10();
  const md = b10Markdown(d, command);
  process.stdout.write(`${md}\n`);
  await publish('B10', md, { command, ...d });
}
