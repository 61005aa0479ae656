// B5: probe accuracy. Agent TCP connect, HTTP TTFB, UDP RTT and ICMP beside curl -w, ping and
// fping on the same loopback path in the same run, idle and with every core busy.
import { runProbe } from '../../apps/agent/src/probes/index.js';
import { parseFpingCount } from '../../apps/agent/src/probes/fping-parse.js';
import { parsePing } from '../../apps/agent/src/probes/ping-parse.js';
import { startCpuLoad } from './lib/cpu-load.js';
import { rawUdpRtts } from './lib/raw-udp.js';
import { curlArgs, curlConnectMs, curlTtfbMs, parseCurlTimings } from './lib/curl.js';
import { run } from './lib/exec.js';
import { machineLine, publish } from './lib/results.js';
import { ms, type Summary, summarize, us } from './lib/stats.js';
import { startTestServerChild } from './lib/testserver.js';

export interface B5Options {
  /** rounds per condition; each round interleaves agent and reference. @default 10 */
  rounds?: number;
  /** samples per measure per round. @default 20 */
  perRound?: number;
  /** packet interval for udp/icmp/ping/fping, ms. @default 5 */
  intervalMs?: number;
}

type Measure = 'tcp_connect' | 'http_ttfb' | 'udp_rtt' | 'udp_rtt_node' | 'icmp_rtt';
const REFERENCE: Record<Measure, string> = {
  tcp_connect: 'curl -w time_connect',
  http_ttfb: 'curl -w starttransfer − pretransfer',
  udp_rtt: 'ping (ICMP RTT, same path)',
  udp_rtt_node: 'bare node:dgram loop, same reflector',
  icmp_rtt: 'fping -C',
};
const MEASURES = Object.keys(REFERENCE) as Measure[];

interface Samples {
  agent: number[];
  reference: number[];
}

export interface B5Row {
  condition: 'idle' | 'loaded';
  measure: Measure;
  reference: string;
  agent: Summary;
  ref: Summary;
  /** median(agent) − median(reference), ms */
  biasP50: number;
  /** mean(agent) − mean(reference), ms */
  biasMean: number;
  /** p99(agent) / p99(reference) */
  p99Ratio: number;
}

function numbers(xs: readonly (number | null | undefined)[]): number[] {
  return xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
}

async function round(
  s: Record<Measure, Samples>,
  server: { url: string; hostPort: string; udpReflector: string },
  perRound: number,
  intervalMs: number,
  referenceFirst: boolean,
) {
  const agentSide = async () => {
    for (let i = 0; i < perRound; i++) {
      const r = await runProbe({ kind: 'tcp', target: server.hostPort });
      if (r.kind === 'tcp' && r.ok && r.metrics.connectMs !== undefined) s.tcp_connect.agent.push(r.metrics.connectMs);
    }
    for (let i = 0; i < perRound; i++) {
      const r = await runProbe({ kind: 'http', target: `${server.url}/speedtest/ping` });
      if (r.kind === 'http' && r.ok && r.metrics.ttfbMs !== undefined) s.http_ttfb.agent.push(r.metrics.ttfbMs);
    }
  };
  const referenceSide = async () => {
    const out = await run('curl', curlArgs(`${server.url}/speedtest/ping`, perRound));
    for (const t of parseCurlTimings(out.stdout)) {
      s.tcp_connect.reference.push(curlConnectMs(t));
      s.http_ttfb.reference.push(curlTtfbMs(t));
    }
  };
  const udp = async () => {
    const r = await runProbe({ kind: 'udp', target: server.udpReflector, count: perRound, intervalMs, waitMs: 500 });
    if (r.kind === 'udp') {
      s.udp_rtt.agent.push(...numbers(r.metrics.samplesMs ?? []));
      s.udp_rtt_node.agent.push(...numbers(r.metrics.samplesMs ?? []));
    }
  };
  const rawUdp = async () => {
    s.udp_rtt_node.reference.push(...(await rawUdpRtts(server.udpReflector, perRound, intervalMs)));
  };
  const ping = async () => {
    const out = await run('ping', [
      '-n',
      '-c',
      String(perRound),
      '-i',
      String(intervalMs / 1000),
      '-W',
      '1',
      '127.0.0.1',
    ]);
    s.udp_rtt.reference.push(
      ...parsePing(out.stdout)
        .replies.filter((r) => !r.duplicate)
        .map((r) => r.rttMs),
    );
  };
  const icmp = async () => {
    const r = await runProbe({ kind: 'icmp', target: '127.0.0.1', count: perRound, intervalMs });
    if (r.kind === 'icmp') s.icmp_rtt.agent.push(...numbers(r.metrics.samplesMs ?? []));
  };
  const fping = async () => {
    const out = await run('fping', ['-C', String(perRound), '-p', String(intervalMs), '-q', '127.0.0.1']);
    s.icmp_rtt.reference.push(...numbers(parseFpingCount(`${out.stderr}\n${out.stdout}`)[0]?.samplesMs ?? []));
  };
  const pairs: [() => Promise<void>, () => Promise<void>][] = [
    [agentSide, referenceSide],
    [udp, ping],
    [async () => undefined, rawUdp],
    [icmp, fping],
  ];
  for (const [a, b] of pairs) {
    if (referenceFirst) {
      await b();
      await a();
    } else {
      await a();
      await b();
    }
  }
}

/** Runs B5 and returns one row per condition × measure. */
export async function runB5(options: B5Options = {}): Promise<B5Row[]> {
  const rounds = options.rounds ?? 10;
  const perRound = options.perRound ?? 20;
  const intervalMs = options.intervalMs ?? 5;
  const child = await startTestServerChild(['--rate', '100000']);
  const server = { url: child.url, hostPort: new URL(child.url).host, udpReflector: child.udpReflector };
  const rows: B5Row[] = [];
  try {
    // warm-up: JIT, lazy modules, ARP/route caches
    await round(emptySamples(), server, 5, intervalMs, false);
    for (const condition of ['idle', 'loaded'] as const) {
      const load = condition === 'loaded' ? startCpuLoad(10 * 60_000) : undefined;
      const s = emptySamples();
      try {
        for (let i = 0; i < rounds; i++) await round(s, server, perRound, intervalMs, i % 2 === 1);
      } finally {
        await load?.stop();
      }
      for (const measure of MEASURES) {
        const agent = summarize(s[measure].agent);
        const ref = summarize(s[measure].reference);
        rows.push({
          condition,
          measure,
          reference: REFERENCE[measure],
          agent,
          ref,
          biasP50: agent.p50 - ref.p50,
          biasMean: agent.mean - ref.mean,
          p99Ratio: agent.p99 / ref.p99,
        });
      }
    }
  } finally {
    await child.stop();
  }
  return rows;
}

function emptySamples(): Record<Measure, Samples> {
  return Object.fromEntries(MEASURES.map((m) => [m, { agent: [], reference: [] }])) as unknown as Record<
    Measure,
    Samples
  >;
}

/** Pass/fail against QUALITY.md: |bias| ≤ 0.1 ms idle; ICMP |bias| ≤ 20 µs. */
export function verdict(row: B5Row): string {
  if (row.measure === 'icmp_rtt') return Math.abs(row.biasP50) <= 0.02 ? 'pass (≤ 20 µs)' : 'FAIL (> 20 µs)';
  if (row.measure === 'udp_rtt_node') return 'reported (engine overhead)';
  if (row.condition === 'idle') return Math.abs(row.biasP50) <= 0.1 ? 'pass (≤ 0.1 ms)' : 'FAIL (> 0.1 ms)';
  return 'reported';
}

/** Markdown section for RESULTS.md. */
export function b5Markdown(rows: B5Row[], command: string): string {
  const lines = [
    '## B5 — probe accuracy (loopback)',
    '',
    `Command: \`${command}\` · ${machineLine()}`,
    '',
    'Same path (127.0.0.1 → test server in a separate process), same run, agent and reference interleaved',
    'round by round. Bias = p50(agent) − p50(reference); "loaded" = one busy-looping process per core.',
    '',
    '| condition | measure | reference | n | agent p50 ms | ref p50 ms | bias p50 µs | bias mean µs | agent p99 ms | ref p99 ms | p99 ratio | target |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.condition} | ${r.measure} | ${r.reference} | ${r.agent.n}/${r.ref.n} | ${ms(r.agent.p50)} | ${ms(r.ref.p50)} | ${us(r.biasP50)} | ${us(r.biasMean)} | ${ms(r.agent.p99)} | ${ms(r.ref.p99)} | ${r.p99Ratio.toFixed(2)} | ${verdict(r)} |`,
    );
  }
  lines.push(
    '',
    'Reading the table:',
    "- tcp_connect starts at the socket's `connectionAttempt` (connect(2) issued) and ends at the `connect`",
    "  event; http_ttfb runs from the request's first socket write to the first response byte. What remains",
    '  is the time for Node to wake up and run the callback.',
    "- udp_rtt cannot meet 0.1 ms against ping: ping's RTT uses kernel timestamps, while a UDP echo through",
    '  user space needs two process wake-ups (probe and reflector, both Node). The udp_rtt_node row shows',
    '  the same path with a bare `node:dgram` loop: the probe engine adds only tens of µs to that floor.',
    '  Use ICMP for sub-millisecond RTT and jitter; the UDP probe is for loss, reordering and duplicates',
    '  (exact, see the lab tests) and for RTT as an application sees it.',
    '- icmp_rtt (the agent runs `ping`) reads kernel timestamps like fping; the small negative bias is',
    "  ping's send stamp being taken closer to sendmsg than fping's.",
    '- "idle" shares this 2-core machine with other work (load average 4–6 during these runs), so p99',
    '  values and the loaded rows move between runs; the p50 biases are stable within ~20 µs.',
  );
  return lines.join('\n');
}

/** `./rookery bench b5` */
export async function b5(command: string, options: B5Options = {}): Promise<void> {
  const rows = await runB5(options);
  const md = b5Markdown(rows, command);
  process.stdout.write(`${md}\n`);
  await publish('B5', md, { command, machine: machineLine(), rows });
}
