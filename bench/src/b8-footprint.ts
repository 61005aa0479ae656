// B8: agent footprint with 50 targets — RSS and CPU per probe of the probe engine beside a bare
// node process and a raw socket loop doing the same work.
import { fileURLToPath } from 'node:url';
import { bundle } from './lib/bundle.js';
import { run } from './lib/exec.js';
import { machineLine, publish } from './lib/results.js';
import { startTestServerChild } from './lib/testserver.js';

const CHILD = fileURLToPath(new URL('./b8-footprint-child.ts', import.meta.url));
/**
 * V8 flags that trade speed for memory: smaller heap growth steps and no optimizing compiler
 * (TurboFan). Unlike --jitless/--lite-mode they keep WebAssembly, which fetch (undici) needs.
 */
const SMALL_FLAGS = ['--optimize-for-size', '--no-opt'];
const SMALL = SMALL_FLAGS.join(' ');

interface ChildReport {
  mode: string;
  probes: number;
  failures: number;
  wallMs: number;
  cpuPerProbeUs: number | null;
  rssMb: number;
  peakRssMb: number;
}

export interface B8Row {
  what: string;
  runs: number;
  probes: number;
  failures: number;
  cpuPerProbeUs: number | null;
  rssMb: number;
  peakRssMb: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function measure(what: string, argv: string[], runs: number): Promise<B8Row> {
  const reports: ChildReport[] = [];
  for (let i = 0; i < runs; i++) {
    const out = await run(process.execPath, argv, 120_000);
    const line = out.stdout.trim().split('\n').pop() ?? '';
    if (!line.startsWith('{')) throw new Error(`${what}: no report (${out.stderr.slice(-500)})`);
    reports.push(JSON.parse(line) as ChildReport);
  }
  const cpu = reports.map((r) => r.cpuPerProbeUs).filter((x): x is number => x !== null);
  return {
    what,
    runs,
    probes: reports[0]?.probes ?? 0,
    failures: reports.reduce((a, r) => a + r.failures, 0),
    cpuPerProbeUs: cpu.length ? median(cpu) : null,
    rssMb: median(reports.map((r) => r.rssMb)),
    peakRssMb: Math.max(...reports.map((r) => r.peakRssMb)),
  };
}

/** Runs B8: each variant `runs` times, `cycles` × 50 probes each. */
export async function runB8(runs = 3, cycles = 10): Promise<B8Row[]> {
  const server = await startTestServerChild(['--rate', '1000000']);
  try {
    const bundled = await bundle(CHILD);
    const args = [server.url, server.tcpEcho, server.udpReflector, String(cycles)];
    const bare = `setTimeout(() => console.log(JSON.stringify({ mode: 'bare', probes: 0, failures: 0, wallMs: 0, cpuPerProbeUs: null, rssMb: process.memoryUsage().rss / 2 ** 20, peakRssMb: process.memoryUsage().rss / 2 ** 20 })), 500)`;
    return [
      await measure('bare node process (node -e, idle)', ['-e', bare], runs),
      await measure('probe engine loaded, idle (bundled)', [bundled, 'idle', ...args], runs),
      await measure('raw socket loop, 50 targets (bundled)', [bundled, 'raw', ...args], runs),
      await measure('agent probe engine, 50 targets (bundled)', [bundled, 'agent', ...args], runs),
      await measure(`raw socket loop, 50 targets (bundled, ${SMALL})`, [...SMALL_FLAGS, bundled, 'raw', ...args], runs),
      await measure(
        `agent probe engine, 50 targets (bundled, ${SMALL})`,
        [...SMALL_FLAGS, bundled, 'agent', ...args],
        runs,
      ),
      await measure(
        'agent probe engine, 50 targets (node --import tsx)',
        ['--import', 'tsx', CHILD, 'agent', ...args],
        runs,
      ),
    ];
  } finally {
    await server.stop();
  }
}

/** Markdown section for RESULTS.md. */
export function b8Markdown(rows: B8Row[], command: string): string {
  const find = (what: string) => rows.find((r) => r.what === what);
  const lines = [
    '## B8 — agent footprint, 50 targets',
    '',
    `Command: \`${command}\` · ${machineLine()}`,
    '',
    '50 targets = 20 HTTP GETs, 20 TCP connects, 10 UDP echo runs of 5 datagrams, against the test server',
    '(separate process) on loopback; concurrency 8; one warm-up cycle, then 10 measured cycles = 500 probes',
    'per run; median of 3 runs (peak RSS: max). CPU = user + system of the measuring process only.',
    '"bundled" = the same TypeScript bundled by esbuild and run on plain node (no tsx loader).',
    '',
    '| what | probes/run | failures | CPU per probe µs | RSS MB (median) | peak RSS MB |',
    '|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.what} | ${r.probes} | ${r.failures} | ${r.cpuPerProbeUs === null ? '–' : r.cpuPerProbeUs.toFixed(0)} | ${r.rssMb.toFixed(1)} | ${r.peakRssMb.toFixed(1)} |`,
    );
  }
  lines.push('');
  for (const suffix of ['bundled', `bundled, ${SMALL}`]) {
    const raw = find(`raw socket loop, 50 targets (${suffix})`);
    const agent = find(`agent probe engine, 50 targets (${suffix})`);
    if (!raw?.cpuPerProbeUs || !agent?.cpuPerProbeUs) continue;
    const ratio = agent.cpuPerProbeUs / raw.cpuPerProbeUs;
    lines.push(
      `- ${suffix}: CPU per probe agent ÷ raw **${ratio.toFixed(2)}×** (target ≤ 2×: ${ratio <= 2 ? 'pass' : 'FAIL'}); ` +
        `agent peak RSS **${agent.peakRssMb.toFixed(1)} MB** (target ≤ 60 MB: ${agent.peakRssMb <= 60 ? 'pass' : 'FAIL'})`,
    );
  }
  lines.push(
    '- Under `node --import tsx` (how `./rookery agent` starts today) the loader alone costs ~60 MB of RSS.',
    `  To meet the 60 MB target the agent must ship bundled and start as \`node ${SMALL} agent.mjs\``,
    '  (V8 flags: NODE_OPTIONS does not accept them). `--jitless` and `--lite-mode` save slightly more but',
    '  disable WebAssembly, which `fetch` (undici) needs.',
  );
  return lines.join('\n');
}

/** `./rookery bench b8` */
export async function b8(command: string): Promise<void> {
  const rows = await runB8();
  const md = b8Markdown(rows, command);
  process.stdout.write(`${md}\n`);
  await publish('B8', md, { command, machine: machineLine(), rows });
}
