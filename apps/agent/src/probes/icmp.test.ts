// Tests: icmp/traceroute probes: argv, captured outputs through a fake exec, and the real tools on loopback.
import type { IcmpProbeResult, IcmpProbeSpec, TracerouteProbeResult } from '@rookery/protocol';
import { describe, expect, it } from 'vitest';
import { ProbeFailure } from './errors.js';
import type { ExecResult, ExecTool } from './exec.js';
import { fixture } from './fixtures.js';
import { fpingArgs, pingArgs } from './icmp.js';
import { ProbeRunner } from './index.js';
import { tracerouteArgs } from './traceroute.js';

function fakeExec(result: Partial<ExecResult> | ProbeFailure, calls: string[][] = []): ExecTool {
  return async (cmd, args) => {
    calls.push([cmd, ...args]);
    if (result instanceof ProbeFailure) throw result;
    return { stdout: '', stderr: '', exitCode: 0, ...result };
  };
}

async function icmp(spec: Omit<IcmpProbeSpec, 'kind'>, exec?: ExecTool): Promise<IcmpProbeResult> {
  const r = await new ProbeRunner({ exec }).run({ kind: 'icmp', ...spec });
  if (r.kind !== 'icmp') throw new Error('wrong kind');
  return r;
}

describe('icmp probe argv', () => {
  it('asks ping for exactly count packets, numeric, with interval/size/wait/ttl', () => {
    expect(
      pingArgs(
        { kind: 'icmp', target: 'x', count: 20, intervalMs: 10, size: 100, waitMs: 1500, ttl: 9, ipFamily: 6 },
        'h',
      ),
    ).toEqual(['-n', '-c', '20', '-i', '0.01', '-s', '100', '-W', '1.5', '-t', '9', '-6', 'h']);
    expect(fpingArgs({ kind: 'icmp', target: 'x', count: 3, intervalMs: 20 }, 'h')).toEqual([
      '-C',
      '3',
      '-q',
      '-p',
      '20',
      '-b',
      '56',
      '-t',
      '1000',
      '-r',
      '0',
      'h',
    ]);
    expect(
      tracerouteArgs({ kind: 'traceroute', target: 'x', method: 'icmp', pathMtu: true, waitMs: 500 }, 'h'),
    ).toEqual(['-n', '-q', '3', '-w', '0.5', '-m', '30', '-I', '--mtu', 'h']);
  });
});

describe('icmp probe on captured output', () => {
  it('derives loss and stats from ping replies by sequence', async () => {
    const calls: string[][] = [];
    const r = await icmp(
      { target: '10.250.2.2', count: 12 },
      fakeExec({ stdout: fixture('ping-loss-ipv4.txt') }, calls),
    );
    expect(calls[0]?.[0]).toBe('ping');
    expect(r.ok).toBe(true);
    expect(r.metrics).toMatchObject({ sent: 12, received: 9, lost: 3, lossPct: 25, duplicates: 0, replyTtl: 63 });
    expect(r.metrics.samplesMs?.[0]).toBeNull();
    expect(r.metrics.rtt).toMatchObject({ minMs: 0.058, maxMs: 0.072 });
    expect(r.metrics.jitterMs).toBeGreaterThan(0);
  });

  it('does not count duplicates as replies', async () => {
    const r = await icmp({ target: '10.250.2.2' }, fakeExec({ stdout: fixture('ping-duplicates.txt') }));
    expect(r.metrics).toMatchObject({ sent: 3, received: 3, duplicates: 2 });
    expect(r.metrics.samplesMs).toEqual([0.051, 0.06, 0.059]);
  });

  it('reads fping output with the same metrics', async () => {
    const r = await icmp(
      { target: '10.250.2.2', tool: 'fping' },
      fakeExec({ stderr: fixture('fping-C-loss.txt'), exitCode: 1 }),
    );
    expect(r.metrics).toMatchObject({ tool: 'fping', sent: 12, received: 9, lost: 3, lossPct: 25 });
  });

  it('maps ICMP errors, silence and tool failures to codes', async () => {
    const ttl = await icmp(
      { target: '10.250.2.2' },
      fakeExec({ stdout: fixture('ping-ttl-exceeded.txt'), exitCode: 1 }),
    );
    expect(ttl.error).toEqual({ code: 'unreachable', message: '10.250.1.1: Time to live exceeded' });
    expect(ttl.metrics).toMatchObject({ sent: 3, received: 0, errors: 3 });
    const silent = await icmp(
      { target: '10.250.2.2' },
      fakeExec({
        stdout:
          'PING 10.250.2.2 (10.250.2.2) 56(84) bytes of data.\n\n--- 10.250.2.2 ping statistics ---\n2 packets transmitted, 0 received, 100% packet loss, time 1000ms\n',
        exitCode: 1,
      }),
    );
    expect(silent.error?.code).toBe('no_reply');
    const dns = await icmp(
      { target: 'nosuch.rookery.test' },
      fakeExec({ stderr: 'ping: nosuch.rookery.test: Name or service not known\n', exitCode: 2 }),
    );
    expect(dns.error?.code).toBe('dns_failure');
    const net = await icmp(
      { target: '10.9.9.9' },
      fakeExec({ stderr: 'ping: connect: Network is unreachable\n', exitCode: 2 }),
    );
    expect(net.error?.code).toBe('unreachable');
    const missing = await icmp(
      { target: '127.0.0.1' },
      fakeExec(new ProbeFailure('tool_missing', 'ping is not installed')),
    );
    expect(missing.error?.code).toBe('tool_missing');
  });

  it('fails above maxLossPct', async () => {
    const r = await icmp({ target: '10.250.2.2', maxLossPct: 10 }, fakeExec({ stdout: fixture('ping-loss-ipv4.txt') }));
    expect(r.error).toEqual({ code: 'loss_exceeded', message: 'loss 25% above 10%' });
  });
});

describe('icmp and traceroute on loopback (real tools)', () => {
  it('pings 127.0.0.1 with kernel-timestamped RTTs', async () => {
    const r = await icmp({ target: '127.0.0.1', count: 5, intervalMs: 10 });
    expect(r.error).toBeUndefined();
    expect(r.metrics).toMatchObject({ sent: 5, received: 5, lost: 0, address: '127.0.0.1' });
    expect(r.metrics.rtt?.maxMs).toBeLessThan(5);
  });

  it('fpings ::1', async () => {
    const r = await icmp({ target: '::1', count: 3, intervalMs: 10, tool: 'fping' });
    expect(r.error).toBeUndefined();
    expect(r.metrics.received).toBe(3);
  });

  it('traces the one-hop route to 127.0.0.1', async () => {
    const r = (await new ProbeRunner().run({
      kind: 'traceroute',
      target: '127.0.0.1',
      maxHops: 3,
    })) as TracerouteProbeResult;
    expect(r.error).toBeUndefined();
    expect(r.metrics).toMatchObject({ reached: true, hopCount: 1, address: '127.0.0.1' });
    expect(r.metrics.hops[0]?.probes).toHaveLength(3);
  });
});

describe('traceroute probe on captured output', () => {
  it('reports an unreached target as unreachable with the hops it saw', async () => {
    const r = (await new ProbeRunner({ exec: fakeExec({ stdout: fixture('traceroute-unreached.txt') }) }).run({
      kind: 'traceroute',
      target: '10.250.2.77',
      maxHops: 4,
    })) as TracerouteProbeResult;
    expect(r.error?.code).toBe('unreachable');
    expect(r.metrics).toMatchObject({ reached: false, hopCount: 4 });
    expect(r.metrics.hops[0]?.probes[0]?.address).toBe('10.250.1.1');
  });

  it('reports the path MTU', async () => {
    const r = (await new ProbeRunner({ exec: fakeExec({ stdout: fixture('traceroute-mtu.txt') }) }).run({
      kind: 'traceroute',
      target: '10.250.2.2',
      pathMtu: true,
    })) as TracerouteProbeResult;
    expect(r.error).toBeUndefined();
    expect(r.metrics).toMatchObject({ reached: true, hopCount: 2, pathMtu: 1400 });
  });
});
