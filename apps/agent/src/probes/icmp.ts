// ICMP probe: multi-packet echo via Debian `ping` (or `fping`), whose RTTs come from kernel
// timestamps; loss, duplicates, min/avg/max/mdev/p50/p99 and RFC 3550 jitter.
import type { IcmpMetrics, IcmpProbeSpec } from '@rookery/protocol';
import { roundMs } from './clock.js';
import { checkReplies, ProbeFailure } from './errors.js';
import type { ExecResult } from './exec.js';
import { parseFpingCount } from './fping-parse.js';
import type { ProbeContext, ProbeImpl } from './kind.js';
import { parsePing } from './ping-parse.js';
import { lossPct, rfc3550Jitter, rttStats } from './stats.js';
import { parseHost } from './target.js';

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3).replace(/\.?0+$/, '') || '0';
}

/** argv for iputils ping: exactly `count` echo requests, numeric output. */
export function pingArgs(spec: IcmpProbeSpec, host: string): string[] {
  const args = ['-n', '-c', String(spec.count ?? 5), '-i', seconds(spec.intervalMs ?? 200)];
  args.push('-s', String(spec.size ?? 56), '-W', seconds(spec.waitMs ?? 1000));
  if (spec.ttl !== undefined) args.push('-t', String(spec.ttl));
  if (spec.ipFamily) args.push(`-${spec.ipFamily}`);
  args.push(host);
  return args;
}

/** argv for fping in count mode (-C), quiet, one target. */
export function fpingArgs(spec: IcmpProbeSpec, host: string): string[] {
  const args = ['-C', String(spec.count ?? 5), '-q', '-p', String(Math.max(1, Math.round(spec.intervalMs ?? 200)))];
  args.push('-b', String(spec.size ?? 56), '-t', String(spec.waitMs ?? 1000), '-r', '0');
  if (spec.ttl !== undefined) args.push('-H', String(spec.ttl));
  if (spec.ipFamily) args.push(`-${spec.ipFamily}`);
  args.push(host);
  return args;
}

/** Maps a ping/fping failure without replies (stderr text) to an error. */
export function toolFailure(tool: string, res: ExecResult): ProbeFailure {
  const text = `${res.stderr}\n${res.stdout}`.trim();
  if (/Name or service not known|Temporary failure in name resolution|address not found|No address/i.test(text)) {
    return new ProbeFailure('dns_failure', `${tool}: ${text.split('\n')[0]}`);
  }
  if (/unreachable/i.test(text)) return new ProbeFailure('unreachable', `${tool}: ${text.split('\n')[0]}`);
  return new ProbeFailure('tool_failed', `${tool} exited ${res.exitCode}: ${text.split('\n')[0] ?? ''}`);
}

function fill(m: IcmpMetrics, samples: (number | null)[], duplicates: number): void {
  const rtts = samples.filter((s): s is number => s !== null);
  m.sent = samples.length;
  m.received = rtts.length;
  m.lost = m.sent - m.received;
  m.lossPct = lossPct(m.sent, m.received);
  m.duplicates = duplicates;
  m.rtt = rttStats(rtts);
  m.jitterMs = rfc3550Jitter(rtts);
  m.samplesMs = samples.map((s) => (s === null ? null : roundMs(s)));
}

async function runPing(spec: IcmpProbeSpec, host: string, m: IcmpMetrics, ctx: ProbeContext, timeoutMs: number) {
  const res = await ctx.exec('ping', pingArgs(spec, host), { signal: ctx.signal, timeoutMs });
  const out = parsePing(res.stdout);
  if (out.transmitted === undefined) throw toolFailure('ping', res);
  m.address = out.address;
  const samples: (number | null)[] = Array.from({ length: out.transmitted }, () => null);
  for (const r of out.replies) {
    if (!r.duplicate && r.seq >= 1 && r.seq <= samples.length) samples[r.seq - 1] = r.rttMs;
  }
  fill(m, samples, out.duplicates);
  m.errors = out.errors;
  if (out.icmpErrors.length) m.errorMessages = [...new Set(out.icmpErrors.map((e) => `${e.from}: ${e.message}`))];
  m.replyTtl = out.replies[0]?.ttl;
}

async function runFping(spec: IcmpProbeSpec, host: string, m: IcmpMetrics, ctx: ProbeContext, timeoutMs: number) {
  const res = await ctx.exec('fping', fpingArgs(spec, host), { signal: ctx.signal, timeoutMs });
  const parsed = parseFpingCount(`${res.stderr}\n${res.stdout}`)[0];
  if (!parsed) throw toolFailure('fping', res);
  m.address = parsed.target;
  fill(m, parsed.samplesMs, parsed.duplicates);
}

async function run(spec: IcmpProbeSpec, m: IcmpMetrics, ctx: ProbeContext): Promise<void> {
  const host = parseHost(spec.target);
  const timeoutMs = icmpProbe.defaultTimeoutMs(spec);
  if (m.tool === 'fping') await runFping(spec, host, m, ctx, timeoutMs);
  else await runPing(spec, host, m, ctx, timeoutMs);
  checkReplies(m, spec.maxLossPct, () =>
    m.errors > 0
      ? new ProbeFailure('unreachable', m.errorMessages?.[0] ?? 'ICMP error from the path')
      : new ProbeFailure('no_reply', `no echo reply to ${m.sent} requests`),
  );
}

export const icmpProbe: ProbeImpl<IcmpProbeSpec, IcmpMetrics> = {
  kind: 'icmp',
  defaultTimeoutMs: (s) => Math.ceil((s.count ?? 5) * (s.intervalMs ?? 200) + (s.waitMs ?? 1000) + 3000),
  initialMetrics: (s) => ({
    sent: 0,
    received: 0,
    lost: 0,
    lossPct: 0,
    duplicates: 0,
    errors: 0,
    tool: s.tool ?? 'ping',
  }),
  run,
};
