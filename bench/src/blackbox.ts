// Side by side with Prometheus blackbox_exporter (Debian prometheus-blackbox-exporter) on the same
// HTTP, TCP and ICMP targets: agreement of measured times, and CPU per probe.
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runProbe } from '../../apps/agent/src/probes/index.js';
import { run } from './lib/exec.js';
import { processCpu } from './lib/proc-cpu.js';
import { parsePromText, type Sample, sampleValue } from './lib/prom-text.js';
import { machineLine, publish } from './lib/results.js';
import { ms, summarize, us } from './lib/stats.js';
import { startTestServerChild } from './lib/testserver.js';

const BINARY = '/usr/bin/prometheus-blackbox-exporter';
const CONFIG = `modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
  tcp_connect:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
  icmp:
    prober: icmp
    timeout: 5s
    icmp:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
`;

/** Installs the exporter with apt-get when missing and we are root; returns why not otherwise. */
async function ensureExporter(): Promise<string | undefined> {
  if ((await run('test', ['-x', BINARY])).code === 0) return undefined;
  if (process.getuid?.() !== 0) return 'prometheus-blackbox-exporter is not installed and this is not root';
  let r = await run(
    'apt-get',
    ['install', '-y', '-qq', '--no-install-recommends', 'prometheus-blackbox-exporter'],
    600_000,
  );
  if (r.code !== 0) {
    await run('apt-get', ['update', '-qq'], 600_000);
    r = await run(
      'apt-get',
      ['install', '-y', '-qq', '--no-install-recommends', 'prometheus-blackbox-exporter'],
      600_000,
    );
  }
  return r.code === 0
    ? undefined
    : `apt-get install prometheus-blackbox-exporter failed: ${r.stderr.trim().slice(-300)}`;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface Pair {
  measure: string;
  agent: number[];
  blackbox: number[];
}

export interface BlackboxReport {
  skipped?: string;
  version?: string;
  pairs: {
    measure: string;
    n: number;
    agentP50: number;
    blackboxP50: number;
    diffP50: number;
    agentP90: number;
    blackboxP90: number;
  }[];
  cpu: { prober: string; agentUs: number; blackboxUs: number }[];
}

/** Runs `count` interleaved rounds of agent and blackbox probes on the same targets. */
export async function runBlackbox(count = 200): Promise<BlackboxReport> {
  const why = await ensureExporter();
  if (why) return { skipped: why, pairs: [], cpu: [] };
  const v = await run(BINARY, ['--version']);
  const version = `${v.stdout}${v.stderr}`.trim().split('\n')[0] ?? 'blackbox_exporter';
  const dir = await mkdtemp(path.join(tmpdir(), 'rk-blackbox-'));
  await writeFile(path.join(dir, 'blackbox.yml'), CONFIG);
  const port = await freePort();
  const exporter = spawn(
    BINARY,
    [`--config.file=${path.join(dir, 'blackbox.yml')}`, `--web.listen-address=127.0.0.1:${port}`],
    {
      stdio: 'ignore',
    },
  );
  const server = await startTestServerChild(['--rate', '1000000']);
  try {
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100; i++) {
      if ((await fetch(`${base}/-/healthy`).catch(() => undefined))?.ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const httpTarget = `${server.url}/speedtest/ping`;
    const scrape = async (module: string, target: string): Promise<Sample[]> => {
      const res = await fetch(`${base}/probe?module=${module}&target=${encodeURIComponent(target)}`);
      return parsePromText(await res.text());
    };
    const pairs: Record<string, Pair> = {};
    const pair = (m: string) => (pairs[m] ??= { measure: m, agent: [], blackbox: [] });
    const cpu = { http: { agent: 0, blackbox: 0 }, tcp: { agent: 0, blackbox: 0 }, icmp: { agent: 0, blackbox: 0 } };
    const timed = async <T>(
      prober: keyof typeof cpu,
      who: 'agent' | 'blackbox',
      work: () => Promise<T>,
    ): Promise<T> => {
      const self0 = processCpu('self');
      const usage0 = process.cpuUsage();
      const ex0 = who === 'blackbox' ? processCpu(exporter.pid as number).ownMs : 0;
      const out = await work();
      if (who === 'agent') {
        const u = process.cpuUsage(usage0);
        const children = processCpu('self').childrenMs - self0.childrenMs; // ping, for icmp
        cpu[prober].agent += (u.user + u.system) / 1000 + children;
      } else cpu[prober].blackbox += processCpu(exporter.pid as number).ownMs - ex0;
      return out;
    };
    for (let i = 0; i < count + 5; i++) {
      const warm = i < 5;
      const a = await timed('http', 'agent', () => runProbe({ kind: 'http', target: httpTarget }));
      const b = await timed('http', 'blackbox', () => scrape('http_2xx', httpTarget));
      const t = await timed('tcp', 'agent', () => runProbe({ kind: 'tcp', target: server.tcpEcho }));
      const tb = await timed('tcp', 'blackbox', () => scrape('tcp_connect', server.tcpEcho));
      const c = await timed('icmp', 'agent', () => runProbe({ kind: 'icmp', target: '127.0.0.1', count: 1 }));
      const cb = await timed('icmp', 'blackbox', () => scrape('icmp', '127.0.0.1'));
      if (warm) {
        for (const k of Object.keys(cpu) as (keyof typeof cpu)[]) cpu[k] = { agent: 0, blackbox: 0 };
        continue;
      }
      const s = (x: number | undefined) => (x === undefined ? undefined : x * 1000);
      const push = (m: string, agent: number | undefined, blackbox: number | undefined) => {
        if (agent !== undefined && blackbox !== undefined) {
          pair(m).agent.push(agent);
          pair(m).blackbox.push(blackbox);
        }
      };
      if (a.kind === 'http' && sampleValue(b, 'probe_success') === 1) {
        push(
          'http connect',
          a.metrics.connectMs,
          s(sampleValue(b, 'probe_http_duration_seconds', { phase: 'connect' })),
        );
        push(
          'http ttfb (blackbox: processing)',
          a.metrics.ttfbMs,
          s(sampleValue(b, 'probe_http_duration_seconds', { phase: 'processing' })),
        );
        push(
          'http transfer',
          a.metrics.transferMs,
          s(sampleValue(b, 'probe_http_duration_seconds', { phase: 'transfer' })),
        );
        push('http total (blackbox: probe_duration)', a.metrics.totalMs, s(sampleValue(b, 'probe_duration_seconds')));
      }
      if (t.kind === 'tcp' && sampleValue(tb, 'probe_success') === 1) {
        push(
          'tcp connect (blackbox: probe_duration)',
          t.metrics.connectMs,
          s(sampleValue(tb, 'probe_duration_seconds')),
        );
      }
      if (c.kind === 'icmp' && sampleValue(cb, 'probe_success') === 1) {
        push('icmp rtt', c.metrics.rtt?.p50Ms, s(sampleValue(cb, 'probe_icmp_duration_seconds', { phase: 'rtt' })));
      }
    }
    return {
      version,
      pairs: Object.values(pairs).map((p) => {
        const a = summarize(p.agent);
        const b = summarize(p.blackbox);
        return {
          measure: p.measure,
          n: a.n,
          agentP50: a.p50,
          blackboxP50: b.p50,
          diffP50: a.p50 - b.p50,
          agentP90: a.p90,
          blackboxP90: b.p90,
        };
      }),
      cpu: (Object.keys(cpu) as (keyof typeof cpu)[]).map((k) => ({
        prober: k,
        agentUs: (cpu[k].agent * 1000) / count,
        blackboxUs: (cpu[k].blackbox * 1000) / count,
      })),
    };
  } finally {
    exporter.kill('SIGTERM');
    await server.stop();
  }
}

/** Markdown section for RESULTS.md. */
export function blackboxMarkdown(r: BlackboxReport, command: string): string {
  const lines = ['## Agent beside Prometheus blackbox_exporter', '', `Command: \`${command}\` · ${machineLine()}`, ''];
  if (r.skipped) {
    lines.push(`Not run: ${r.skipped}.`);
    return lines.join('\n');
  }
  lines.push(
    `${r.version}. Same targets on loopback (test server in a separate process; ICMP to 127.0.0.1), agent probe`,
    'and blackbox `/probe` scrape interleaved, one probe of each kind per round, 200 rounds after 5 warm-up rounds.',
    '',
    '| measure | n | agent p50 ms | blackbox p50 ms | agent − blackbox p50 µs | agent p90 ms | blackbox p90 ms |',
    '|---|---|---|---|---|---|---|',
  );
  for (const p of r.pairs) {
    lines.push(
      `| ${p.measure} | ${p.n} | ${ms(p.agentP50)} | ${ms(p.blackboxP50)} | ${us(p.diffP50)} | ${ms(p.agentP90)} | ${ms(p.blackboxP90)} |`,
    );
  }
  lines.push(
    '',
    '| prober | agent CPU per probe µs | blackbox CPU per probe µs | ratio |',
    '|---|---|---|---|',
    ...r.cpu.map(
      (c) =>
        `| ${c.prober} | ${c.agentUs.toFixed(0)} | ${c.blackboxUs.toFixed(0)} | ${(c.agentUs / c.blackboxUs).toFixed(2)} |`,
    ),
    '',
    'Notes: blackbox `probe_duration_seconds` for TCP and HTTP covers the whole probe (resolve, connect,',
    'and its own bookkeeping), so it is an upper bound on connect/total; "processing" is connection ready →',
    'first response byte. Blackbox CPU is read from /proc/PID/stat (10 ms ticks, summed over the run) and',
    'includes serving the `/probe` HTTP request and formatting metrics, which is how blackbox is used;',
    "agent CPU is this process's `process.cpuUsage()` plus, for ICMP, the `ping` child (from /proc/self/stat).",
  );
  return lines.join('\n');
}

/** `./rookery bench blackbox` */
export async function blackbox(command: string): Promise<void> {
  const report = await runBlackbox();
  const md = blackboxMarkdown(report, command);
  process.stdout.write(`${md}\n`);
  await publish('BLACKBOX', md, { command, machine: machineLine(), ...report });
}
