// Probes measured against kernel ground truth in a network-namespace lab: agent — router — server.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { HttpProbeResult, IcmpProbeResult, ProbeResult, ProbeSpec, UdpProbeResult } from '@rookery/protocol';
import { theoreticalGoodput } from '@rookery/lab';
import { describeLab, useLab } from '@rookery/lab/testing';
import { beforeAll, expect, it } from 'vitest';
import {
  type CapturedPacket,
  parseTcpdump,
  tcpdumpArgs,
  tcpWireTransfer,
  tcpWireTtfbs,
  udpWireRtts,
} from './testing/tcpdump.js';

const PROBE_CLI = fileURLToPath(new URL('../probe-cli.ts', import.meta.url));
const RUN_PROBES = fileURLToPath(new URL('./testing/run-probes.ts', import.meta.url));
const TESTSERVER = fileURLToPath(new URL('../../../testserver/src/main.ts', import.meta.url));

describeLab('probes through a router with impairments', () => {
  const lab = useLab({
    hosts: ['agent', 'router', 'server'],
    routers: ['router'],
    links: [
      { name: 'edge', hosts: ['agent', 'router'] },
      { name: 'core', hosts: ['router', 'server'] },
    ],
  });
  let server = '';

  beforeAll(async () => {
    // ICMP errors and echo replies from the router are not rate-limited in this lab
    await lab().exec('router', 'sysctl', ['-qw', 'net.ipv4.icmp_ratelimit=0'], { check: true });
    const ts = lab().spawnNode('server', TESTSERVER, ['--listen', '0.0.0.0:8088', '--rate', '100000']);
    await ts.waitForOutput(/"listening"/, 20_000);
    server = lab().addr('server');
  });

  /** Runs `./rookery probe … --json` inside the agent host and returns the parsed result. */
  async function probe<T extends ProbeResult>(args: string[]): Promise<T> {
    const r = await lab().execNode('agent', PROBE_CLI, [...args, '--json'], { timeoutMs: 60_000 });
    if (!r.stdout.trim().startsWith('{')) throw new Error(`probe printed no JSON: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  /** Runs specs round-robin `rounds` times in one warm process inside the agent host (after one warm-up round). */
  async function probeMany<T extends ProbeResult>(specs: ProbeSpec[], rounds: number): Promise<T[]> {
    const r = await lab().execNode('agent', RUN_PROBES, [JSON.stringify(specs), String(rounds)], { timeoutMs: 60_000 });
    if (!r.stdout.trim().startsWith('[')) throw new Error(`run-probes printed no JSON: ${r.stderr}`);
    return JSON.parse(r.stdout) as T[];
  }

  const median = (xs: (number | null)[]) => {
    const s = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)] as number;
  };
  /** Median over samples of (probe − kernel), paired by index. */
  const pairedError = (probe: number[], wire: number[]) => median(probe.map((p, i) => p - (wire[i] ?? Number.NaN)));

  it('udp loss equals the nft-injected deterministic loss exactly', async () => {
    await lab().setLoss('router', { every: 10, iface: 'edge' });
    const r = await probe<UdpProbeResult>(['udp', `${server}:8090`, '--count', '200', '--interval', '2']);
    const dropped = await lab().droppedPackets('router');
    await lab().setLoss('router', null);
    expect(dropped).toBe(20);
    expect(r.metrics).toMatchObject({ sent: 200, received: 180, lost: 20, lossPct: 10, duplicates: 0 });
  });

  it('icmp loss equals the nft-injected deterministic loss exactly', async () => {
    await lab().setLoss('router', { every: 8, iface: 'edge' });
    const r = await probe<IcmpProbeResult>(['icmp', server, '--count', '200', '--interval', '2']);
    const dropped = await lab().droppedPackets('router');
    await lab().setLoss('router', null);
    expect(dropped).toBe(25);
    expect(r.metrics).toMatchObject({ sent: 200, received: 175, lost: 25, lossPct: 12.5 });
  });

  /** Runs `work` while tcpdump captures `filter` on the agent's edge interface; returns the packets. */
  async function capture(filter: string, work: () => Promise<void>): Promise<CapturedPacket[]> {
    const dump = lab().spawn('agent', 'tcpdump', tcpdumpArgs(lab().ifname('agent', 'edge'), filter));
    await dump.waitForOutput(/listening on/, 10_000);
    await work();
    await new Promise((r) => setTimeout(r, 200));
    await dump.stop('SIGINT');
    return parseTcpdump(dump.stdout);
  }

  const hasTcpdump = spawnSync('tcpdump', ['--version']).status === 0;
  const itWithTcpdump = hasTcpdump ? it : it.skip;
  if (!hasTcpdump) console.log('[probe lab] tcpdump missing: delay tests skipped (./rookery test installs it as root)');

  itWithTcpdump('udp RTT through the delay relay gains the kernel-measured added delay within 1 ms', async () => {
    const relay = await lab().startDelayRelay({
      host: 'router',
      protocol: 'udp',
      listenPort: 9090,
      target: { host: 'server', port: 8090 },
      delayMs: 10,
    });
    const relayAt = `${lab().addr('router', 'edge')}:${relay.port}`;
    const args = ['--count', '50', '--interval', '20'];
    let direct: UdpProbeResult | undefined;
    let delayed: UdpProbeResult | undefined;
    const packets = await capture(`udp port 8090 or udp port ${relay.port}`, async () => {
      direct = await probe<UdpProbeResult>(['udp', `${server}:8090`, ...args]);
      delayed = await probe<UdpProbeResult>(['udp', relayAt, ...args]);
    });
    await relay.stop();
    expect(direct?.metrics.lost).toBe(0);
    expect(delayed?.metrics.lost).toBe(0);
    const wireDirect = udpWireRtts(packets, `${server}.8090`);
    const wireDelayed = udpWireRtts(packets, `${lab().addr('router', 'edge')}.${relay.port}`);
    expect(wireDirect).toHaveLength(50);
    expect(wireDelayed).toHaveLength(50);
    const probeDelayed = (delayed?.metrics.samplesMs ?? []) as number[];
    const probeDirect = (direct?.metrics.samplesMs ?? []) as number[];
    const added = median(probeDelayed) - median(probeDirect);
    const truth = median(wireDelayed) - median(wireDirect);
    // paired by sequence number: the probe's error on the added delay, free of the relay's jitter
    const error = pairedError(probeDelayed, wireDelayed) - pairedError(probeDirect, wireDirect);
    console.log(
      `[probe lab] udp added delay: probe ${added.toFixed(3)} ms, kernel ${truth.toFixed(3)} ms, paired error ${error.toFixed(3)} ms, relay configured 20 ms`,
    );
    expect(Math.abs(error)).toBeLessThanOrEqual(1);
    // the relay did add its 2 × 10 ms: its timers run on the event loop's cached clock and can fire a
    // fraction of a millisecond early, and a difference of two medians moves with either side (a run
    // measured 19.77 ms), so this sanity bound is 19 ms; the probe's accuracy is the paired error above
    expect(truth).toBeGreaterThanOrEqual(19);
  });

  itWithTcpdump('http TTFB through the delay relay gains the kernel-measured added delay within 1 ms', async () => {
    const relay = await lab().startDelayRelay({
      host: 'router',
      protocol: 'tcp',
      listenPort: 9088,
      target: { host: 'server', port: 8088 },
      delayMs: 10,
    });
    const relayHost = lab().addr('router', 'edge');
    const directUrl = `http://${server}:8088/speedtest/ping`;
    const delayedUrl = `http://${relayHost}:${relay.port}/speedtest/ping`;
    let results: HttpProbeResult[] = [];
    // direct and delayed alternate, so both see the same machine load
    const packets = await capture(`tcp port 8088 or tcp port ${relay.port}`, async () => {
      results = await probeMany<HttpProbeResult>(
        [
          { kind: 'http', target: directUrl },
          { kind: 'http', target: delayedUrl },
        ],
        20,
      );
    });
    const wireDirect = tcpWireTtfbs(packets, `${server}.8088`);
    const wireDelayed = tcpWireTtfbs(packets, `${relayHost}.${relay.port}`);
    // pair each probe with its own connection in the capture (by client port)
    const paired = (url: string, wire: Map<string, number>) => {
      const out: { probe: number; wire: number }[] = [];
      for (const r of results) {
        const w = wire.get(`${r.metrics.localAddress}.${r.metrics.localPort}`);
        if (r.target === url && r.metrics.ttfbMs !== undefined && w !== undefined)
          out.push({ probe: r.metrics.ttfbMs, wire: w });
      }
      return out;
    };
    const pd = paired(directUrl, wireDirect);
    const pl = paired(delayedUrl, wireDelayed);
    expect({ direct: pd.length, delayed: pl.length, failed: results.filter((r) => !r.ok).length }).toEqual({
      direct: 20,
      delayed: 20,
      failed: 0,
    });
    const direct = pd.map((x) => x.probe);
    const delayed = pl.map((x) => x.probe);
    const added = median(delayed) - median(direct);
    const truth = median(pl.map((x) => x.wire)) - median(pd.map((x) => x.wire));
    const perConnection = (xs: { probe: number; wire: number }[]) => median(xs.map((x) => x.probe - x.wire));
    const error = perConnection(pl) - perConnection(pd);
    console.log(
      `[probe lab] http ttfb added delay: probe ${added.toFixed(3)} ms, kernel ${truth.toFixed(3)} ms, paired error ${error.toFixed(3)} ms (probe − kernel per connection p50 ${perConnection(pl).toFixed(3)} ms), relay configured 20 ms`,
    );
    expect(Math.abs(error)).toBeLessThanOrEqual(1);
    // the relay did add its 2 × 10 ms: its timers run on the event loop's cached clock and can fire a
    // fraction of a millisecond early, and a difference of two medians moves with either side (a run
    // measured 19.77 ms), so this sanity bound is 19 ms; the probe's accuracy is the paired error above
    expect(truth).toBeGreaterThanOrEqual(19);
  });

  /** The server host's TCP segments retransmitted so far (its namespace's /proc/net/snmp). */
  async function serverRetransmits(): Promise<number> {
    const snmp = (await lab().exec('server', 'cat', ['/proc/net/snmp'], { check: true })).stdout.split('\n');
    const [names, values] = snmp.filter((l) => l.startsWith('Tcp:')).map((l) => l.split(/\s+/));
    return Number(values?.[names?.indexOf('RetransSegs') ?? -1]);
  }

  itWithTcpdump(
    'http download throughput equals the kernel-measured transfer rate within 1 %, under a tbf rate',
    async () => {
      const mbit = 40;
      await lab().setRate('router', 'edge', mbit);
      const retransmitsBefore = await serverRetransmits();
      let r: HttpProbeResult | undefined;
      const packets = await capture('tcp port 8088', async () => {
        r = await probe<HttpProbeResult>(['http', `http://${server}:8088/download?bytes=15000000`]);
      });
      const retransmits = (await serverRetransmits()) - retransmitsBefore;
      await lab().clearRate('router', 'edge');
      expect(r?.metrics.bytes).toBe(15_000_000);
      const m = (r as HttpProbeResult).metrics;
      const wire = tcpWireTransfer(packets, `${server}.8088`, `${m.localAddress}.${m.localPort}`);
      if (!wire) throw new Error('the capture holds no segment of the download');
      const probeBps = m.bitsPerSecond ?? 0;
      const wireBps = (15_000_000 * 8) / (wire.durationMs / 1000);
      const theory = theoreticalGoodput(mbit * 1e6);
      console.log(
        `[probe lab] http download: probe ${(probeBps / 1e6).toFixed(2)} Mbit/s, kernel ${(wireBps / 1e6).toFixed(2)} Mbit/s ` +
          `(= ${(probeBps / wireBps).toFixed(4)}), tbf goodput ${(theory / 1e6).toFixed(2)} Mbit/s (probe = ${(probeBps / theory).toFixed(4)}), ` +
          `${retransmits} segments retransmitted`,
      );
      // the probe's own error, free of how well TCP filled the shaped link this time (a CI run was once
      // 6.4 % off the shaper's rate; the log kept no more than that)
      expect(Math.abs(probeBps / wireBps - 1)).toBeLessThanOrEqual(0.01);
      // and the shaper bounds what the wire carried: at most its rate plus one bucket
      expect(wireBps / theory).toBeLessThanOrEqual(1.01);
    },
  );

  it('traceroute sees the router and the server, and the path MTU', async () => {
    const r = await probe<ProbeResult>(['traceroute', server, '--max-hops', '4', '--wait', '500', '--mtu']);
    if (r.kind !== 'traceroute') throw new Error('wrong kind');
    expect(r.error).toBeUndefined();
    expect(r.metrics).toMatchObject({ reached: true, hopCount: 2, pathMtu: 1500 });
    expect(r.metrics.hops[0]?.probes.some((p) => p.address === lab().addr('router', 'edge'))).toBe(true);
  });
});
