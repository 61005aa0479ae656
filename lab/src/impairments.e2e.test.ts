import { afterAll, expect, it } from 'vitest';
import { theoreticalGoodput } from './goodput.js';
import { tbfArgs } from './impairments.js';
import { LAB_TOOLS } from './tools.js';
import type { Lab } from './lab.js';
import { parseIperf3 } from './parse/iperf3.js';
import { parsePingSummary } from './parse/ping.js';
import { describeLab, useLab } from './testing.js';

const measured: string[] = [];
afterAll(() => {
  if (measured.length) process.stdout.write(`[lab measurements] ${measured.join('; ')}\n`);
});

/** 1000 pings, 2 ms apart, 1 s wait for the last reply (no -w: with it ping sends until 1000 answers); killed after 40 s. */
async function ping1000(lab: Lab, from: string, to: string) {
  const r = await lab.exec(from, 'ping', ['-q', '-c', '1000', '-i', '0.002', '-W', '1', to], { timeoutMs: 40_000 });
  return parsePingSummary(r.stdout);
}

describeLab('rate limit with tc tbf on a router', () => {
  const lab = useLab({
    hosts: ['client', 'router', 'server'],
    routers: ['router'],
    links: [
      { name: 'left', hosts: ['client', 'router'] },
      { name: 'right', hosts: ['router', 'server'] },
    ],
  });

  it('refuses to shape a host that is not a router unless asked to', async () => {
    await expect(lab().setRate('client', 'router', 100)).rejects.toThrow('not a router');
    await lab().setRate('client', 'router', 100, { onSender: true });
    const qdisc = await lab().exec('client', 'tc', ['qdisc', 'show', 'dev', lab().ifname('client')], { check: true });
    expect(qdisc.stdout).toContain('tbf');
    await lab().clearRate('client', 'router');
  });

  it('caps iperf3 at 0.95–1.0 of the theoretical TCP goodput of 100 Mbit/s (plus one tbf burst)', async () => {
    await lab().setRate('router', 'server', 100);
    const run = async () => {
      const server = lab().spawn('server', 'iperf3', ['-s', '-1', '-B', lab().addr('server'), '-p', '5201']);
      await lab().waitForPort('server', 5201);
      const client = await lab().exec(
        'client',
        'iperf3',
        ['-c', lab().addr('server'), '-p', '5201', '-t', '4', '-O', '1', '-J'],
        { timeoutMs: 20_000, check: true },
      );
      await server.exited;
      const result = parseIperf3(client.stdout);
      const ratio = result.receivedBitsPerSecond / theoreticalGoodput(100e6, 1500);
      measured.push(
        `iperf3 ${(result.receivedBitsPerSecond / 1e6).toFixed(2)} Mbit/s = ${ratio.toFixed(4)} of theory, ${result.retransmits} retransmits`,
      );
      return { result, ratio };
    };
    // a stall of TCP on this shared machine (a retransmission timeout alone is 200 ms, 5 % of the 4
    // measured seconds) can pull one run under 0.95: a run under it is repeated, at most 3 runs in all,
    // each logged; none may exceed the shaper's rate
    const runs = [await run()];
    while (runs.length < 3 && (runs.at(-1)?.ratio ?? 0) < 0.95) runs.push(await run());
    // tbf's bucket lets one burst through above the rate once: over the 4 measured seconds that is
    // burst ÷ (rate × 4 s) of the whole, 0.1 % at 100 Mbit/s (a run measured 1.00004)
    const args = tbfArgs('x', 100);
    const burst = Number(args[args.indexOf('burst') + 1]);
    for (const { result, ratio } of runs) {
      expect(result.mss).toBe(1448);
      expect(ratio).toBeLessThanOrEqual(1 + burst / ((100e6 / 8) * 4));
    }
    expect(Math.max(...runs.map((r) => r.ratio))).toBeGreaterThanOrEqual(0.95);
  });
});

describeLab('loss, partition and delay between two hosts', () => {
  const lab = useLab({ hosts: ['a', 'b'], links: [{ hosts: ['a', 'b'] }] });

  it('drops exactly 10 % of 1000 pings with nft numgen inc mod 10', async () => {
    await lab().setLoss('b', { every: 10 });
    const summary = await ping1000(lab(), 'a', lab().addr('b'));
    measured.push(`deterministic loss ${summary.lost}/${summary.transmitted}`);
    expect(summary.transmitted).toBe(1000);
    expect(summary.lost).toBe(100);
    expect(await lab().droppedPackets('b')).toBe(100);
    await lab().setLoss('b', null);
    expect(
      parsePingSummary((await lab().exec('a', 'ping', ['-c', '20', '-i', '0.01', lab().addr('b')])).stdout).lost,
    ).toBe(0);
  });

  it('drops about 20 % with nft numgen random (within 5 standard deviations)', async () => {
    await lab().setLoss('b', { random: 0.2 });
    const summary = await ping1000(lab(), 'a', lab().addr('b'));
    await lab().setLoss('b', null);
    measured.push(`random loss ${summary.lost}/${summary.transmitted}`);
    // binomial(1000, 0.2): mean 200, sd 12.6
    expect(summary.lost).toBeGreaterThanOrEqual(137);
    expect(summary.lost).toBeLessThanOrEqual(263);
  });

  it('stops traffic while partitioned and restores it when healed', async () => {
    const pings = async () =>
      parsePingSummary((await lab().exec('a', 'ping', ['-c', '3', '-i', '0.1', '-W', '0.5', lab().addr('b')])).stdout);
    expect((await pings()).received).toBe(3);
    await lab().partition('b', true);
    expect((await pings()).received).toBe(0);
    const fromInside = await lab().exec('b', 'ping', ['-c', '1', '-W', '0.5', lab().addr('a')]);
    expect(fromInside.code).not.toBe(0);
    await lab().partition('b', false);
    expect((await pings()).received).toBe(3);
  });

  it('adds latency with the userspace delay relay, for TCP and UDP', async () => {
    const tcpEcho = lab().spawnNode('b', LAB_TOOLS.echo, ['server', 'tcp', '7000']);
    const udpEcho = lab().spawnNode('b', LAB_TOOLS.echo, ['server', 'udp', '7000']);
    await Promise.all([tcpEcho.waitForOutput('listening', 15_000), udpEcho.waitForOutput('listening', 15_000)]);
    const tcpRelay = await lab().startDelayRelay({
      host: 'a',
      listenPort: 7100,
      target: { host: 'b', port: 7000 },
      delayMs: 25,
    });
    const udpRelay = await lab().startDelayRelay({
      host: 'a',
      protocol: 'udp',
      listenPort: 7100,
      target: { host: 'b', port: 7000 },
      delayMs: 25,
    });
    const median = async (protocol: string, address: string, port: number) => {
      const r = await lab().execNode('a', LAB_TOOLS.echo, ['rtt', protocol, address, String(port), '7'], {
        check: true,
      });
      const rtts = (JSON.parse(r.stdout) as { rtts: number[] }).rtts.sort((x, y) => x - y);
      return rtts[3] ?? Number.NaN;
    };
    const direct = await median('tcp', lab().addr('b'), 7000);
    const viaTcp = await median('tcp', '127.0.0.1', 7100);
    const viaUdp = await median('udp', '127.0.0.1', 7100);
    measured.push(
      `rtt direct ${direct.toFixed(2)} ms, tcp relay ${viaTcp.toFixed(1)} ms, udp relay ${viaUdp.toFixed(1)} ms`,
    );
    expect(direct).toBeLessThan(20);
    for (const rtt of [viaTcp, viaUdp]) {
      expect(rtt).toBeGreaterThanOrEqual(50);
      // generous: Node timers on a loaded 2-core machine can fire late
      expect(rtt).toBeLessThan(50 + 100);
    }
    await Promise.all([tcpRelay.stop(), udpRelay.stop(), tcpEcho.stop(), udpEcho.stop()]);
    expect(tcpRelay.process.running).toBe(false);
  });
});
