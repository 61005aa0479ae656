// Pure parser of Debian `traceroute -n` output: hops, per-probe address and RTT, !annotations,
// and F=MTU marks of --mtu; see fixtures/.
import { isIP } from 'node:net';
import type { TracerouteHop } from '@rookery/protocol';

export interface TracerouteOutput {
  /** address traceroute resolved the target to */
  address?: string;
  hops: TracerouteHop[];
}

const HEADER = /^traceroute to \S+ \(([^)]+)\)/;
const HOP = /^\s*(\d+)\s+(.*)$/;

/** Parses the stdout of `traceroute -n …`. Lines that are not hops are ignored. */
export function parseTraceroute(stdout: string): TracerouteOutput {
  const out: TracerouteOutput = { hops: [] };
  for (const line of stdout.split('\n')) {
    const header = HEADER.exec(line);
    if (header) {
      out.address = header[1];
      continue;
    }
    const m = HOP.exec(line);
    if (!m) continue;
    const hop: TracerouteHop = { ttl: Number(m[1]), probes: [] };
    const tokens = (m[2] as string).trim().split(/\s+/);
    let address: string | null = null;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i] as string;
      if (t === '*') hop.probes.push({ address: null, rttMs: null });
      else if (isIP(t)) address = t;
      else if (/^[\d.]+$/.test(t) && tokens[i + 1] === 'ms') {
        hop.probes.push({ address, rttMs: Number(t) });
        i++;
      } else if (/^F=\d+$/.test(t)) hop.mtu = Number(t.slice(2));
      else if (t.startsWith('!')) {
        const last = hop.probes[hop.probes.length - 1];
        if (last) last.note = t;
      }
    }
    out.hops.push(hop);
  }
  return out;
}
