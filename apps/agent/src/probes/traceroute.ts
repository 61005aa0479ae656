// Traceroute probe: hops with addresses and RTTs from Debian `traceroute` (argv only), and the
// path MTU with --mtu.
import type { TracerouteMetrics, TracerouteProbeSpec } from '@rookery/protocol';
import { msSince, nowNs, roundMs } from './clock.js';
import { ProbeFailure } from './errors.js';
import { toolFailure } from './icmp.js';
import type { ProbeContext, ProbeImpl } from './kind.js';
import { parseTraceroute } from './traceroute-parse.js';
import { parseHost } from './target.js';

/** argv for Debian traceroute, numeric output. */
export function tracerouteArgs(spec: TracerouteProbeSpec, host: string): string[] {
  const args = ['-n', '-q', String(spec.queries ?? 3), '-w', String((spec.waitMs ?? 1000) / 1000)];
  args.push('-m', String(spec.maxHops ?? 30));
  if (spec.method === 'icmp') args.push('-I');
  if (spec.method === 'tcp') args.push('-T');
  if (spec.port !== undefined) args.push('-p', String(spec.port));
  if (spec.pathMtu) args.push('--mtu');
  if (spec.ipFamily) args.push(`-${spec.ipFamily}`);
  args.push(host);
  return args;
}

async function run(spec: TracerouteProbeSpec, m: TracerouteMetrics, ctx: ProbeContext): Promise<void> {
  const host = parseHost(spec.target);
  const startNs = nowNs();
  const res = await ctx.exec('traceroute', tracerouteArgs(spec, host), {
    signal: ctx.signal,
    timeoutMs: tracerouteProbe.defaultTimeoutMs(spec),
  });
  m.totalMs = roundMs(msSince(startNs));
  const out = parseTraceroute(res.stdout);
  if (res.exitCode !== 0 && out.hops.length === 0) throw toolFailure('traceroute', res);
  m.address = out.address;
  m.hops = out.hops;
  const last = out.hops[out.hops.length - 1];
  m.reached = last !== undefined && last.probes.some((p) => p.address !== null && p.address === out.address);
  m.hopCount = last?.ttl ?? 0;
  const mtus = out.hops.map((h) => h.mtu).filter((v): v is number => v !== undefined);
  if (mtus.length) m.pathMtu = mtus[mtus.length - 1];
  if (!m.reached) throw new ProbeFailure('unreachable', `${spec.target} not reached within ${m.hopCount} hops`);
}

export const tracerouteProbe: ProbeImpl<TracerouteProbeSpec, TracerouteMetrics> = {
  kind: 'traceroute',
  defaultTimeoutMs: (s) => Math.min(600_000, Math.ceil((s.maxHops ?? 30) * (s.waitMs ?? 1000) + 5000)),
  initialMetrics: () => ({ hops: [], reached: false, hopCount: 0 }),
  run,
};
